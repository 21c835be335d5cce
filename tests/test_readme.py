"""Every command the README shows is checked, so the README cannot drift from the code.

Hydra entry points are composed as the command would compose them (each cell of a `-m` sweep,
with Hydra's own config, then imitate's compose-time value checks); argparse entry points parse
their arguments; commands that start servers, train on GPUs or install things are named in
`NOT_RUN_HERE` with the test that covers them instead. An unrecognised command fails the test.
"""

from __future__ import annotations

import importlib
import itertools
import re
import shlex
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import open_dict

from imitate.config_schema import check_values

README = Path(__file__).resolve().parents[1] / "README.md"
HYDRA_ENTRIES = {
    "imitate": "train",
    "imitate.evaluate": "evaluate",
    "imitate.plan": "plan",
    "imitate.generate": "generate",
}
ARGPARSE_ENTRIES = {"imitate.report", "imitate.rate"}
CHECKED = ("train", "plan", "evaluate", "generate", "judging")  # every root: check_values first
# First words of commands covered elsewhere, with where.
NOT_RUN_HERE = {
    "python3": "the quickstart: .ci/run runs the README's test command in a fresh venv",
    "pip": "the quickstart's install, run by .ci/run",
    ".": "activating the venv, in the quickstart",
    "pytest": "the test suite itself",
    "nox": "noxfile.py sessions: lint and tests run the same commands",
    "bash": "bash .ci/run is CI itself",
    "export": "sets a variable for the commands after it",
    "mlflow": "mlflow ui: tests/tracking/test_tracking_server.py starts a real mlflow server",
    "transformers": "transformers serve: tests/llm/test_transformers_serve.py serves a local model",
}
MAX_CELLS = 8  # sweep cells composed per command


def readme_commands() -> list[str]:
    """Each simple command in the README's bash blocks (continuations joined, comments dropped)."""
    blocks = re.findall(r"```bash\n(.*?)```", README.read_text(), flags=re.S)
    commands = []
    for block in blocks:
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            commands += [" ".join(shlex.quote(w) for w in part) for part in _split(words) if part]
    return commands


def _split(words: list[str]) -> list[list[str]]:
    parts, current = [], []
    for word in words:
        if word in ("&&", "&", ";", "||"):
            parts.append(current)
            current = []
        else:
            current.append(word)
    return parts + [current]


def _without_env_prefix(words: list[str]) -> list[str]:
    while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S*", words[0]):
        words = words[1:]
    return words


def entry_point(words: list[str]) -> tuple[str, list[str]] | None:
    """(module, arguments) for `python -m <module> ...` and `torchrun ... -m <module> ...`."""
    if words[0] in ("python", "torchrun") and "-m" in words:
        at = words.index("-m")
        return words[at + 1], words[at + 2 :]
    return None


def compose_cells(config_name: str, arguments: list[str]) -> int:
    """Compose every cell of the command (`-m` sweeps expanded); returns how many were composed."""
    overrides = [a for a in arguments if a not in ("-m", "--multirun")]
    if "--cfg" in overrides:
        at = overrides.index("--cfg")
        del overrides[at : at + 2]
    parsed = OverridesParser.create().parse_overrides(overrides)
    choices = [
        [f"{o.get_key_element()}={v}" for v in o.sweep_string_iterator()]
        if o.is_sweep_override()
        else [o.input_line]
        for o in parsed
    ]
    cells = list(itertools.islice(itertools.product(*choices), MAX_CELLS))
    for cell in cells:
        cfg = _compose(config_name, list(cell))
        for sweep in _sweeper_cells(cfg):  # a +sweep file's own grid
            _compose(config_name, list(cell) + sweep)
    return len(cells)


def _sweeper_cells(cfg) -> list[list[str]]:
    params = cfg.hydra.sweeper.get("params") or {}
    grid = [
        [f"{key}={value}" for value in str(values).split(",")] for key, values in params.items()
    ]
    return (
        [list(cell) for cell in itertools.islice(itertools.product(*grid), MAX_CELLS)]
        if grid
        else []
    )


def _compose(config_name: str, overrides: list[str]):
    GlobalHydra.instance().clear()
    with initialize_config_module(config_module="imitate.conf", version_base="1.3"):
        cfg = compose(config_name=config_name, overrides=overrides, return_hydra_config=True)
    if config_name in CHECKED:
        if "output_dir" in cfg:  # Hydra's runtime dir, which the values interpolate, is unset
            with open_dict(cfg):
                cfg.output_dir = "/tmp/imitate-readme-check"
        check_values(cfg, config_name)
    return cfg


COMMANDS = readme_commands()


def test_the_readme_shows_commands_of_every_kind():
    modules = {e[0] for c in COMMANDS if (e := entry_point(shlex.split(c)))}
    assert set(HYDRA_ENTRIES) | ARGPARSE_ENTRIES | {"imitate.judge"} <= modules
    assert len(COMMANDS) > 20


@pytest.mark.parametrize("command", COMMANDS)
def test_readme_command_works_as_written(command: str):
    words = _without_env_prefix(shlex.split(command))
    found = entry_point(words)
    if found is None:
        assert words[0] in NOT_RUN_HERE, f"README command not checked by any test: {command}"
        return
    module, arguments = found
    if module in HYDRA_ENTRIES:
        assert compose_cells(HYDRA_ENTRIES[module], arguments) >= 1
    elif module == "imitate.judge":  # `<command> overrides...` on conf/judging.yaml
        from imitate.judge.commands import COMMANDS as JUDGE_COMMANDS

        assert arguments[0] in JUDGE_COMMANDS
        assert compose_cells("judging", [f"command={arguments[0]}", *arguments[1:]]) >= 1
    elif module in ARGPARSE_ENTRIES:
        importlib.import_module(f"{module}.__main__")._parser().parse_args(arguments)
    else:
        pytest.fail(f"README command runs {module}, which this test does not know: {command}")
