"""Every key that reaches a dataclass is checked while Hydra composes: typos and bad types fail in seconds."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf, open_dict

from imitate.config_hints import config_error_hints
from imitate.config_schema import SCHEMAS, BatchConfig, LossConfig, check_values
from imitate.data.clean import CleanConfig, NearDuplicateConfig
from imitate.data.format import ChatFormat
from imitate.data.leakage import LeakageConfig
from imitate.data.overlap import DiversityConfig
from imitate.data.source_formats import FieldMap, SourceConfig
from imitate.model.adapters import AdapterConfig
from imitate.model.checkpoints import CheckpointConfig
from imitate.model.optim import OptimConfig
from imitate.model.parallel import ParallelConfig
from imitate.model.progress import ProgressConfig
from tests.conftest import compose_config
from tests.support.subprocess_run import mlflow_uri, run_imitate

# (node, its dataclass, a typo, the key it should have been): one per dataclass-backed place.
TYPOS = [
    ("optim", OptimConfig, "warmup_step", "warmup_steps"),
    ("parallel", ParallelConfig, "param_dtyp", "param_dtype"),
    ("checkpoint", CheckpointConfig, "every_n_step", "every_n_steps"),
    ("loss", LossConfig, "supervised_logit_only", "supervised_logits_only"),
    ("batch", BatchConfig, "global_sise", "global_size"),
    ("adapter", AdapterConfig, "rnak", "rank"),
    ("data.chat_format", ChatFormat, "assistent", "assistant"),
    ("data.clean", CleanConfig, "dedupe_exct", "dedupe_exact"),
    ("data.clean.dedupe_near_queries", NearDuplicateConfig, "bleu_treshold", "bleu_threshold"),
    ("data.leakage", LeakageConfig, "eval_prompt_file", "eval_prompt_files"),
    ("data.diversity", DiversityConfig, "sample_query", "sample_queries"),
    ("data.sources.sharegpt", SourceConfig, "max_conversation", "max_conversations"),
    ("data.sources.sharegpt.fields", FieldMap, "promt", "prompt"),
    ("progress", ProgressConfig, "every_n_step", "every_n_steps"),
]
# (override, the key path the message must name, the type it must say the key takes)
BAD_TYPES = [
    ("optim.lr=abc", "optim.lr", "float"),
    ("optim.warmup_steps=many", "optim.warmup_steps", "int"),
    ("batch.global_size=1.5", "batch.global_size", "int"),
    ("parallel.cpu_offload=maybe", "parallel.cpu_offload", "bool"),
    ("checkpoint.keep_last=two", "checkpoint.keep_last", "int"),
    ("data.sources.sharegpt.weight=heavy", "data.sources.sharegpt.weight", "float"),
    ("data.diversity.sample_queries=lots", "data.diversity.sample_queries", "int"),
    ("data.clean.dedupe_near_queries.bleu_threshold=high", "bleu_threshold", "float"),
    ("progress.every_s=often", "progress.every_s", "float"),
]


def _nested(dotted: str, value) -> dict:
    *parents, leaf = dotted.split(".")
    tree: dict = {leaf: value}
    for parent in reversed(parents):
        tree = {parent: tree}
    return tree


def _experiment_file(root: Path, content: dict, name: str = "typo") -> list[str]:
    """An experiment overlay on a search path of its own: the overrides that select it."""
    (root / "experiment").mkdir(parents=True, exist_ok=True)
    yaml = "# @package _global_\n" + OmegaConf.to_yaml(OmegaConf.create(content))
    (root / "experiment" / f"{name}.yaml").write_text(yaml)
    return [f"hydra.searchpath=[file://{root}]", f"+experiment={name}"]


def test_every_schema_is_exercised_and_typed_in_the_composed_config() -> None:
    assert set(SCHEMAS) - {"data.sources"} <= {node for node, _, _, _ in TYPOS}
    cfg = compose_config(["data=sharegpt_mix"])
    for node, schema, _, _ in TYPOS:
        assert OmegaConf.select(cfg, node)._metadata.object_type is schema, node
    assert cfg.data.sources._metadata.element_type is SourceConfig


@pytest.mark.parametrize(("node", "schema", "typo", "meant"), TYPOS, ids=[t[0] for t in TYPOS])
def test_a_typo_inside_a_yaml_file_fails_at_compose_naming_the_valid_keys(
    tmp_path: Path, node: str, schema, typo: str, meant: str
) -> None:
    overrides = _experiment_file(tmp_path, _nested(f"{node}.{typo}", 1))
    with pytest.raises(ConfigCompositionException) as error:
        compose_config(overrides)
    [hint] = config_error_hints(error.value)
    valid = sorted(f.name for f in dataclasses.fields(schema))
    assert f"Unknown key '{node}.{typo}'" in hint and f"({schema.__name__})" in hint
    assert f"Valid keys there: {', '.join(valid)}." in hint
    assert f"Did you mean '{node}.{meant}'?" in hint


@pytest.mark.parametrize(("node", "schema", "typo", "meant"), TYPOS, ids=[t[0] for t in TYPOS])
def test_a_typo_on_the_command_line_fails_at_compose_naming_the_valid_keys(
    node: str, schema, typo: str, meant: str
) -> None:
    with pytest.raises(ConfigCompositionException) as error:
        compose_config([f"{node}.{typo}=1"])
    [hint] = config_error_hints(error.value)
    assert f"Did you mean '{node}.{meant}'?" in hint and "Valid keys there:" in hint


@pytest.mark.parametrize(("override", "path", "expected"), BAD_TYPES)
def test_a_value_of_the_wrong_type_fails_at_compose_with_its_key_path(
    override: str, path: str, expected: str
) -> None:
    with pytest.raises(ConfigCompositionException) as error:
        compose_config([override])
    assert path in str(error.value.__cause__)
    [hint] = config_error_hints(error.value)
    assert path in hint and f"takes {expected}" in hint


def test_a_wrong_type_inside_a_yaml_file_fails_at_compose(tmp_path: Path) -> None:
    with pytest.raises(ConfigCompositionException) as error:
        compose_config(_experiment_file(tmp_path, {"optim": {"lr": "fast"}}))
    assert "full_key: optim.lr" in str(error.value)
    assert config_error_hints(error.value) == ["optim.lr takes float (OptimConfig); got 'fast'."]


def test_keys_forced_in_with_plus_are_refused_before_any_data_is_read() -> None:
    # Hydra's `+key=...` inserts even into a typed node; check_values (first line of main) refuses it.
    cfg = _with_output_dir(compose_config(["+optim.warmup_step=3"]))
    with pytest.raises(ValueError, match=r"Did you mean 'optim\.warmup_steps'\?"):
        check_values(cfg)
    cfg = _with_output_dir(compose_config(["+data.sources.sharegpt.fields.promt=q"]))
    with pytest.raises(ValueError, match=r"'promt' is not in data\.sources\.sharegpt\.fields"):
        check_values(cfg)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("optim.schedule=cosin", r"optim: optim.schedule='cosin'; valid: constant, linear, cosine"),
        ("data.sources.sharegpt.format=sharegtp", r"data.sources: format 'sharegtp'; valid:"),
        ("data.sources.sharegpt.weight=-1", r"data.sources: weight must be a number above 0"),
    ],
)
def test_choices_the_dataclasses_check_are_refused_up_front(override: str, message: str) -> None:
    cfg = _with_output_dir(compose_config([override]))
    with pytest.raises(ValueError, match=message):
        check_values(cfg)


def test_shipped_defaults_pass_the_value_checks() -> None:
    check_values(_with_output_dir(compose_config(["data=sharegpt_mix"])))


def test_a_new_source_is_typed_too_and_the_plus_form_says_how() -> None:
    cfg = compose_config(["++data.sources={discord: {path: d.jsonl, format: fields}}"])
    assert cfg.data.sources.discord.fields.prompt == "prompt"  # SourceConfig's defaults filled in
    with pytest.raises(ConfigCompositionException) as error:
        compose_config(["++data.sources={discord: {pth: d.jsonl}}"])
    assert "Did you mean 'data.sources.discord.path'?" in config_error_hints(error.value)[0]
    with pytest.raises(ConfigCompositionException) as error:
        compose_config(["+data.sources.discord.path=d.jsonl"])
    assert "'++data.sources={discord:" in config_error_hints(error.value)[0]


def test_new_groups_and_keys_outside_the_schemas_still_compose(tmp_path: Path) -> None:
    (tmp_path / "llm").mkdir()
    (tmp_path / "llm" / "local.yaml").write_text("base_url: http://127.0.0.1:8000\nmodel: x\n")
    cfg = compose_config(
        [
            f"hydra.searchpath=[file://{tmp_path}]",
            "+llm=local",
            "+judge={model: x, pairs: 3}",
            "+data.new_option=1",
            "+eval.new_suite_key=2",
        ]
    )
    assert cfg.llm.model == "x" and cfg.judge.pairs == 3 and cfg.data.new_option == 1


def _with_output_dir(cfg):
    with open_dict(cfg):
        cfg.output_dir = "/tmp/imitate-config-test"  # what Hydra's runtime dir would be
    return cfg


ENTRY_POINTS = [  # (module, extra arguments, typo, the key meant)
    pytest.param("imitate.__main__", [], "optim.warmup_step", "optim.warmup_steps", id="train"),
    pytest.param(
        "imitate.__main__", ["-m"], "optim.warmup_step", "optim.warmup_steps", id="multirun"
    ),
    pytest.param("imitate.plan", [], "batch.micro_sise", "batch.micro_size", id="plan"),
    pytest.param(
        "imitate.evaluate",
        [],
        "eval.client.batch_sise",
        "eval.client.batch_size",
        id="evaluate",
    ),
]


def _arguments(root: Path, module: str, extra: list[str], typo: str) -> list[str]:
    """The typo in an experiment YAML (under -m: in one swept cell); evaluate has no experiments."""
    if module == "imitate.evaluate":
        return [f"{typo}=1"]
    arguments = [*extra, *_experiment_file(root / "conf", _nested(typo, 1))]
    if "-m" in extra:
        arguments[-1] += ",smoke"  # the swept cell's own compose refuses it, before any job runs
    return arguments


@pytest.mark.parametrize(("module", "extra", "typo", "meant"), ENTRY_POINTS)
def test_each_entry_point_prints_the_hint_and_starts_no_job(
    tmp_path: Path, monkeypatch, capsys, module: str, extra: list[str], typo: str, meant: str
) -> None:
    import importlib

    from imitate.config_hints import run_with_hints

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    monkeypatch.setattr(sys, "argv", [module, *_arguments(tmp_path, module, extra, typo)])
    with pytest.raises((SystemExit, ConfigCompositionException)):  # the latter: HYDRA_FULL_ERROR=1
        run_with_hints(importlib.import_module(module).main)
    stderr = capsys.readouterr().err
    assert f"Did you mean '{meant}'?" in stderr and "Valid keys there:" in stderr, stderr[-2000:]
    assert not list(tmp_path.rglob(".hydra")), "a job started: Hydra wrote its run folder"


def _dash_m(folder: Path, module: str, extra: list[str], typo: str) -> subprocess.CompletedProcess:
    folder.mkdir()
    return run_imitate(
        _arguments(folder, module, extra, typo),
        module=module.removesuffix(".__main__"),
        cwd=folder,
        uri=mlflow_uri(folder),
        timeout_s=300,
        check=False,
    )


@pytest.fixture(scope="module")
def dash_m_runs(tmp_path_factory) -> dict[str, tuple[Path, subprocess.CompletedProcess]]:
    """Each entry point run by ``python -m`` with its typo: fresh interpreters, two at a time."""
    root = tmp_path_factory.mktemp("dash_m")
    cases = {case.id: case.values[:3] for case in ENTRY_POINTS}
    with ThreadPoolExecutor(max_workers=2) as pool:
        done = {
            name: pool.submit(_dash_m, root / name, module, extra, typo)
            for name, (module, extra, typo) in cases.items()
        }
        return {name: (root / name, run.result()) for name, run in done.items()}


@pytest.mark.slow
@pytest.mark.parametrize(("module", "extra", "typo", "meant"), ENTRY_POINTS)
def test_python_dash_m_prints_the_hint(
    dash_m_runs, request, module: str, extra: list[str], typo: str, meant: str
) -> None:
    """The same through ``python -m``: each module's ``__main__`` block wraps its main."""
    folder, done = dash_m_runs[request.node.callspec.id]
    assert done.returncode != 0
    assert f"Did you mean '{meant}'?" in done.stderr, done.stderr[-2000:]
    assert not list(folder.rglob(".hydra")), "a job started: Hydra wrote its run folder"
