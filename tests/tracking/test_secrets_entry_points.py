"""A key given each wrong way reaches nothing any Hydra entry point writes, on screen or on disk.

Each of imitate, evaluate, generate, judge and plan runs with a sentinel key as a secret override
(``+...api_key=``), pasted where a variable NAME belongs (``*_env=``) and as a URL password. The
runs stop early (a refused config, a missing OPENAI_API_KEY, a bad choice) but only after Hydra
wrote its ``.hydra`` files: the case the issue found (key in clear in overrides.yaml, hydra.yaml,
config.yaml and in the RuntimeError on stderr). Everything under the run folder, stdout and
stderr are grepped. tests/tracking/test_secrets_run.py follows a whole training run instead.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from imitate.redact import REDACTED
from tests.support.subprocess_run import mlflow_uri, run_imitate

pytestmark = pytest.mark.slow  # 15 interpreters importing torch: minutes on 2 loaded cores
SENTINEL = "sk-SENTINEL-7c41e09b-in-clear"
# A stopper for the roots without an llm: a choice the optimizer's dataclass refuses.
STOP_TRAIN = ["optim.schedule=nope"]
ENTRY_POINTS = {  # module -> (base arguments, where a secret override and an *_env key go)
    "imitate": (STOP_TRAIN, "tracking"),
    "imitate.plan": (STOP_TRAIN, "tracking"),
    "imitate.evaluate": (["llm=gpt-4o-mini"], "llm"),
    "imitate.generate": (["llm=gpt-4o-mini"], "llm"),
    "imitate.judge": (["compare", "llm=gpt-4o-mini", "candidate.outputs=out.jsonl"], "llm"),
}
WAYS = {
    "override": lambda node: [f"+{node}.api_key={SENTINEL}"],
    "pasted_into_env": lambda node: [f"{'+' if node == 'tracking' else ''}{node}.api_key_env={SENTINEL}"],
    "url": lambda node: [f"{'+' if node == 'tracking' else ''}{node}.base_url=https://me:{SENTINEL}@127.0.0.1:9/v1"],
}  # fmt: skip
CASES = [(module, way) for module in ENTRY_POINTS for way in WAYS]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[tuple[str, str], tuple[Path, str]]:
    root = tmp_path_factory.mktemp("secret_entry_points")
    unset = {"OPENAI_API_KEY": None, "HYDRA_FULL_ERROR": None}

    def run(case: tuple[str, str]) -> tuple[Path, str]:
        module, way = case
        base, node = ENTRY_POINTS[module]
        folder = root / f"{module}-{way}"
        folder.mkdir()
        argv = [*base, *WAYS[way](node), f"hydra.run.dir={folder}/run"]
        if module == "imitate.plan":  # plan writes nothing by design: give it a folder to write
            argv += ["hydra.output_subdir=.hydra"]
        done = run_imitate(argv, module=module, cwd=folder, uri=mlflow_uri(root), env=unset,
                           timeout_s=600, check=False)  # fmt: skip
        return folder, done.stdout + done.stderr

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip(CASES, pool.map(run, CASES), strict=True))


@pytest.mark.parametrize(("module", "way"), CASES)
def test_no_file_and_no_output_holds_the_key(runs, module: str, way: str) -> None:
    folder, output = runs[(module, way)]
    hydra_files = {p.name for p in folder.rglob(".hydra/*.yaml")}
    assert hydra_files == {"config.yaml", "hydra.yaml", "overrides.yaml"}, output[-3000:]
    assert output.strip(), "the run printed nothing: it did not get as far as the test needs"
    assert SENTINEL not in output, output[-3000:]
    for path in (p for p in folder.rglob("*") if p.is_file()):
        assert SENTINEL.encode() not in path.read_bytes(), path
    overrides = next(folder.rglob(".hydra/overrides.yaml")).read_text()
    assert REDACTED in overrides  # the override is kept, its secret part redacted
