"""Every entry point as a user runs it: ``--help`` exits 0, Hydra ones take ``--cfg job``, and so on.

Each command is a real subprocess (a fresh interpreter, as from a shell), four at a time: 17
interpreters importing torch take minutes on a loaded 2-core machine, so the file is ``slow``.
"""

from __future__ import annotations

import re
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest
import tomllib
from hydra.utils import get_object

from tests.conftest import REPO
from tests.support.subprocess_run import run_imitate

pytestmark = pytest.mark.slow

HYDRA = {  # module -> extra arguments its --cfg job needs
    "imitate": [],
    "imitate.evaluate": [],
    "imitate.generate": ["llm=gpt-4o-mini"],
    "imitate.judge": ["style", "prompts=vicuna80", "candidate.outputs=out.jsonl"],
    "imitate.plan": [],
}
ARGPARSE = ["imitate.rate", "imitate.report"]
COMMANDS = {
    **{f"{m} --help": [m, "--help"] for m in [*HYDRA, *ARGPARSE]},
    **{f"{m} --cfg job": [m, *extra, "--cfg", "job"] for m, extra in HYDRA.items()},
    "judge typo": ["imitate.judge", "compare", "judge.temprature=0.7"],
    "judge typo forced": ["imitate.judge", "compare", "+judge.temprature=0.7"],
    "judge unknown command": ["imitate.judge", "comapre"],
    "rate abbreviation": ["imitate.rate", "serve", "--rat", "3"],
    "report abbreviation": ["imitate.report", "x", "--no-l"],
}


@pytest.fixture(scope="module")
def ran(tmp_path_factory) -> dict[str, subprocess.CompletedProcess]:
    cwd = tmp_path_factory.mktemp("entry_points")

    def run(argv: list[str]) -> subprocess.CompletedProcess:
        module, *args = argv
        return run_imitate(args, module=module, cwd=cwd, uri=None, env={"HYDRA_FULL_ERROR": None},
                           timeout_s=300, check=False)  # fmt: skip

    with ThreadPoolExecutor(max_workers=4) as pool:
        done = dict(zip(COMMANDS, pool.map(run, COMMANDS.values()), strict=True))
    return done


@pytest.mark.parametrize("module", [*HYDRA, *ARGPARSE])
def test_help_exits_0_and_lists_what_to_run(ran, module: str) -> None:
    done = ran[f"{module} --help"]
    assert done.returncode == 0, done.stderr[-2000:]
    expected = "Compose your configuration" if module in HYDRA else "usage: python -m " + module
    assert expected in done.stdout


@pytest.mark.parametrize("module", HYDRA)
def test_cfg_job_prints_the_composed_config(ran, module: str) -> None:
    done = ran[f"{module} --cfg job"]
    assert done.returncode == 0, done.stderr[-2000:]
    key = {"imitate.evaluate": "eval:", "imitate.generate": "generate:"}.get(module, "optim:")
    key = "command: style" if module == "imitate.judge" else key
    assert re.search(f"^{key}", done.stdout, flags=re.MULTILINE), done.stdout[-2000:]


def test_judge_help_lists_its_commands_above_hydras_help(ran) -> None:
    help_text = ran["imitate.judge --help"].stdout
    assert help_text.startswith("usage: python -m imitate.judge {compare,style,chatgpt2,")


@pytest.mark.parametrize("name", ["judge typo", "judge typo forced"])
def test_a_judge_typo_names_the_valid_keys_and_the_closest(ran, name: str) -> None:
    done = ran[name]
    assert done.returncode == 1
    assert "Valid keys there: labels, marker, max_new_tokens, system, temperature" in done.stderr
    assert "Did you mean 'judge.temperature'?" in done.stderr


def test_an_unknown_judge_command_suggests_the_closest(ran) -> None:
    done = ran["judge unknown command"]
    assert done.returncode == 2
    assert "Did you mean 'compare'?" in done.stderr


@pytest.mark.parametrize("name", ["rate abbreviation", "report abbreviation"])
def test_argparse_entry_points_refuse_abbreviations(ran, name: str) -> None:
    done = ran[name]
    assert done.returncode == 2
    assert "unrecognized arguments: --" in done.stderr


def test_every_entry_point_has_a_console_script() -> None:
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    modules = {target.split(":")[0].removesuffix(".__main__") for target in scripts.values()}
    assert modules == set(HYDRA) | set(ARGPARSE)
    for target in scripts.values():
        assert callable(get_object(target.replace(":", ".")))
