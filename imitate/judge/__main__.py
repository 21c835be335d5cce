"""``python -m imitate.judge <command> [hydra overrides]``; commands in imitate.judge.commands."""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig

from imitate.judge.commands import COMMANDS

USAGE = (
    "usage: python -m imitate.judge {" + ",".join(COMMANDS) + "} [overrides]\n"
    "  e.g. python -m imitate.judge compare llm=gpt-4o-mini prompts=vicuna80 candidate.outputs=out.jsonl"
)


@hydra.main(config_path="pkg://imitate.conf", config_name="judging", version_base="1.3")
def main(cfg: DictConfig) -> dict[str, float]:
    return COMMANDS[cfg.command](cfg)


def cli() -> None:
    """Take the command word off argv and hand the rest to Hydra as overrides."""
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print(USAGE, file=sys.stderr)
        raise SystemExit(2)
    command = sys.argv.pop(1)
    sys.argv.append(f"command={command}")
    main()


if __name__ == "__main__":
    cli()
