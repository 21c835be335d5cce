"""``python -m imitate.judge <command> [hydra overrides and flags]``; commands in imitate.judge.commands.

The command word becomes the override ``command=<word>`` placed first, so every Hydra flag after
it (``--cfg job``, ``-m``, ``hydra.*``, ``--help``) works as for the other entry points.
"""

from __future__ import annotations

import difflib
import sys

import hydra
from omegaconf import DictConfig, OmegaConf

from imitate.config_hints import run_with_hints
from imitate.config_schema import checked_task
from imitate.judge.commands import COMMANDS

USAGE = (
    "usage: python -m imitate.judge {" + ",".join(COMMANDS) + "} [overrides] [hydra flags]\n"
    "  e.g. python -m imitate.judge compare llm=gpt-4o-mini prompts=vicuna80 candidate.outputs=out.jsonl\n"
    "       python -m imitate.judge style prompts=vicuna80 candidate.outputs=out.jsonl --cfg job"
)


@hydra.main(config_path="pkg://imitate.conf", config_name="judging", version_base="1.3")
@checked_task("judging")  # judge, style, prompts, candidate, llm: before any prompt is read
def main(cfg: DictConfig) -> dict[str, float]:
    command = None if OmegaConf.is_missing(cfg, "command") else cfg.command
    if command not in COMMANDS:
        raise ValueError(f"command={command!r}: {_choose()}")
    return COMMANDS[command](cfg)


def cli() -> None:
    """Turn the command word into ``command=<word>`` ahead of the overrides and Hydra's flags."""
    args = sys.argv[1:]
    if args and args[0] in ("-h", "--help"):
        print(USAGE + "\n")  # then Hydra's help: the config groups and their options
    elif args and args[0] in COMMANDS:
        sys.argv[1:] = [f"command={args[0]}", *args[1:]]
    elif args and not args[0].startswith("-") and "=" not in args[0]:
        close = difflib.get_close_matches(args[0], COMMANDS, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        print(f"{USAGE}\n\nunknown command {args[0]!r}: {_choose()}{hint}", file=sys.stderr)
        raise SystemExit(2)
    elif not any(a.startswith("command=") or a.startswith("-") for a in args):
        print(f"{USAGE}\n\n{_choose()}", file=sys.stderr)
        raise SystemExit(2)
    run_with_hints(main)


def _choose() -> str:
    return "choose one of " + ", ".join(COMMANDS)


if __name__ == "__main__":
    cli()
