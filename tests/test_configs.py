"""Every file under conf/ composes, and every ``_target_`` binds to its callable's signature."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir, initialize_config_module
from hydra.errors import ConfigCompositionException
from hydra.experimental.callback import Callback
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict

from imitate.config_hints import config_error_hints
from imitate.config_schema import check_values
from tests.conftest import REPO, compose_config
from tests.support.config_targets import bind, targets

CONF = REPO / "conf"
ROOT_GROUPS = {"data", "model", "trainer", "adapter", "eval", "tracking"}
PRIMARY = {"train", "evaluate", "plan", "judging", "generate"}
# The imitation half's groups, composed in the root whose code reads them (and checked there).
GROUP_ROOTS = {
    "llm": "generate",
    "generate": "generate",
    "judge": "judging",
    "style": "judging",
    "prompts": "judging",
}
ROOT_NEEDS = {"generate": ["llm=gpt-4o-mini"]}  # a required group, when the file is not one
# Options only a training run can use, composed where it reads them (eval=heldout's style task).
TRAINING_ONLY = {"prompts/heldout": ["eval=heldout"]}
BASES = {
    "data/base": "data",
    "llm/base": "llm",
}  # folders of files that options include at their own package


def config_files() -> list[str]:
    return sorted(str(p.relative_to(CONF).with_suffix("")) for p in CONF.rglob("*.yaml"))


def overrides_for(relative: str) -> tuple[str, list[str]]:
    """(primary config, overrides) that compose ``conf/<relative>.yaml``."""
    path = Path(relative)
    if str(path.parent) == ".":
        return path.name, ROOT_NEEDS.get(path.name, [])
    group, option = str(path.parent), path.name
    if relative in TRAINING_ONLY:
        return "train", TRAINING_ONLY[relative]
    if group in GROUP_ROOTS:
        root = GROUP_ROOTS[group]
        needs = [o for o in ROOT_NEEDS.get(root, []) if not o.startswith(f"{group}=")]
        return root, [*needs, f"{group}={option}"]
    if group in BASES:
        return "train", [f"+{group}@{BASES[group]}={option}"]
    if group in ROOT_GROUPS or group.startswith("hydra/"):  # hydra/* groups already have a default
        return "train", [f"{group}={option}"]
    return "train", [f"+{group}={option}"]


@pytest.mark.parametrize("relative", [f for f in config_files() if Path(f).name != "__init__"])
def test_config_file_composes_and_targets_bind(relative: str) -> None:
    config_name, overrides = overrides_for(relative)
    if config_name not in PRIMARY and Path(relative).parent == Path("."):
        pytest.skip(f"{relative} is not a primary config")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cfg = compose_config(overrides, config_name=config_name)
    assert not [str(w.message) for w in caught if "deprecated" in str(w.message)]
    container = OmegaConf.to_container(cfg, resolve=False)
    for where, node in targets(container, ""):
        bind(where, node)
    if "output_dir" in cfg:
        with open_dict(cfg):
            cfg.output_dir = "/tmp/imitate-config-test"  # Hydra's runtime dir, absent under compose
    _fill_missing(cfg)  # `???` values (a file the user names) given, as a user would
    check_values(cfg, config_name)  # what the code reads, as the entry points check it first


def _fill_missing(node) -> None:
    for key in list(node):
        if OmegaConf.is_missing(node, key):
            node[key] = "given-by-the-user"
        elif isinstance(child := node._get_node(key), DictConfig) and not child._is_none():
            _fill_missing(child)


def test_every_group_option_is_parametrised() -> None:
    files = config_files()
    for group in ROOT_GROUPS | {"experiment"}:
        assert any(f.startswith(f"{group}/") for f in files), f"no options for group {group}"


@pytest.mark.parametrize(
    "model", ["tiny_llama", "tiny_gpt2", "smollm2_135m", "gpt2_1.5b", "llama_7b", "llama_13b"]
)
def test_required_model_options_exist(model: str) -> None:
    assert (CONF / "model" / f"{model}.yaml").is_file()


def test_unknown_group_option_lists_valid_options() -> None:
    with pytest.raises(ConfigCompositionException) as error:
        compose_config(["model=llama_70b"])
    message = str(error.value)
    assert "llama_70b" in message and "tiny_llama" in message and "llama_13b" in message


def test_unknown_key_is_refused() -> None:
    with pytest.raises(ConfigCompositionException, match="blok_size"):
        compose_config(["data.blok_size=3"])


def test_unknown_key_hint_lists_valid_keys_and_the_close_match() -> None:
    with pytest.raises(ConfigCompositionException) as error:
        compose_config(["model=tiny_gpt2", "model.backbone.config.n_layr=3", "data.block_size=8"])
    [hint] = config_error_hints(error.value)
    assert "n_layr" in hint and "n_embd, n_head, n_layer" in hint
    assert "Did you mean 'model.backbone.config.n_layer'" in hint


def _compose_with_hydra(config_name: str, overrides: list[str]) -> DictConfig:
    with initialize_config_module(config_module="imitate.conf", version_base="1.3"):
        return compose(config_name, overrides=overrides, return_hydra_config=True)


HYDRA_FILES = [f for f in config_files() if f.startswith("hydra/")]


@pytest.mark.parametrize("relative", HYDRA_FILES)
def test_hydra_group_files_compose_without_warnings_and_instantiate(relative: str) -> None:
    group, option = relative.rsplit("/", 1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # e.g. Hydra's automatic schema matching deprecation
        cfg = _compose_with_hydra("train", [f"{group}={option}", "trainer=fsdp"])
    assert not [str(w.message) for w in caught], "Hydra warned while composing " + relative
    node = OmegaConf.select(cfg, group.replace("/", "."))
    if "_target_" in node:
        instantiate(node, _convert_="all")  # a launcher is built from exactly these keys
    if group == "hydra/launcher":  # typed by the plugin's schema, so a typo fails at compose
        assert node._metadata.object_type not in (None, dict), f"{relative} has no schema"
        with pytest.raises(ConfigCompositionException, match="partitoin"):
            _compose_with_hydra("train", [f"{group}={option}", "hydra.launcher.partitoin=x"])


def test_the_slurm_launcher_keeps_one_task_per_gpu() -> None:
    cfg = _compose_with_hydra(
        "train", ["hydra/launcher=slurm", "trainer=fsdp", "trainer.devices=4"]
    )
    launcher = OmegaConf.to_container(cfg.hydra.launcher, resolve=True)
    assert launcher["tasks_per_node"] == launcher["gpus_per_node"] == 4
    assert launcher["_target_"].endswith("SlurmLauncher")


@pytest.mark.parametrize(
    ("config_name", "callbacks"),
    [
        ("train", {"RedactHydraOutput", "SweepTracker"}),
        ("plan", {"Callback", "RedactHydraOutput"}),
        ("evaluate", {"RedactHydraOutput"}),
        ("generate", {"RedactHydraOutput"}),
        ("judging", {"RedactHydraOutput"}),
    ],
)
def test_hydra_callbacks_instantiate(config_name: str, callbacks: set[str]) -> None:
    cfg = _compose_with_hydra(config_name, [])
    built = {name: instantiate(node) for name, node in (cfg.hydra.callbacks or {}).items()}
    assert all(isinstance(c, Callback) for c in built.values())
    assert {type(c).__name__ for c in built.values()} == callbacks


# The paper's recipe as the five experiment files spelled it before they shared conf/recipe/paper.yaml.
PAPER_RECIPE = {
    "data.block_size": 2048,
    "data.max_tokens": None,
    "data.val_conversations": 64,
    "optim.lr": 2e-3,
    "optim.warmup_steps": 1000,
    "batch.global_size": 32,
    "trainer.max_epochs": 1,
    "trainer.precision": "bf16-mixed",
    "tracking.experiment": "paper",
}
PAPER_EXPERIMENTS = [
    "sharegpt_7b",
    "sharegpt_13b",
    "sharegpt_gpt2_1.5b",
    "nq_synthetic_7b",
    "nq_synthetic_13b",
]
DATA_OPTIONS = ["sharegpt", "sharegpt_mix", "nq_synthetic"]


def test_the_lora_experiment_is_sharegpt_7b_with_adapters_on_one_gpu() -> None:
    full = _compose_with_hydra("train", ["+experiment=sharegpt_7b"])
    lora = _compose_with_hydra("train", ["+experiment=sharegpt_7b_lora"])
    assert lora.hydra.runtime.choices.adapter == "lora" and full.adapter.method == "none"
    assert list(lora.adapter.target_modules) == list(lora.model.lora_targets)
    assert (lora.optim.lr, lora.optim.scale_by_param_rms) == (2e-4, False)
    assert (lora.trainer.devices, lora.trainer.precision) == (1, "bf16-mixed")
    for key in ("data", "model.backbone", "eval", "batch.global_size", "optim.warmup_steps"):
        assert OmegaConf.select(lora, key) == OmegaConf.select(full, key), key


def _leaves(tree: dict, prefix: str = ""):
    for key, value in tree.items():
        if key == "defaults":
            continue
        if isinstance(value, dict):
            yield from _leaves(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def _file_leaves(path: Path) -> dict:
    return dict(_leaves(OmegaConf.to_container(OmegaConf.load(path))))


@pytest.mark.parametrize("experiment", PAPER_EXPERIMENTS)
def test_each_paper_experiment_takes_the_recipe_from_the_one_file(experiment: str) -> None:
    recipe = _file_leaves(CONF / "recipe" / "paper.yaml")
    assert recipe == PAPER_RECIPE  # the values the five files held before they shared it
    own = _file_leaves(CONF / "experiment" / f"{experiment}.yaml")
    cfg = _compose_with_hydra("train", [f"+experiment={experiment}"])
    assert cfg.hydra.runtime.choices.recipe == "paper" and cfg.hydra.runtime.choices.eval == "paper"
    for key, value in recipe.items():
        if key in own:  # a deliberate difference, e.g. GPT-2's 1024 positions
            assert own[key] != value, f"{experiment}.yaml restates the recipe's {key}"
            value = own[key]
        assert OmegaConf.select(cfg, key) == value, f"{experiment}: {key}"


@pytest.mark.parametrize("option", ["sharegpt", "nq_synthetic"])
def test_data_options_restate_nothing_from_the_common_base(option: str) -> None:
    base = _file_leaves(CONF / "data" / "base" / "common.yaml")
    own = _file_leaves(CONF / "data" / f"{option}.yaml")
    assert {k for k in own if k in base and own[k] == base[k]} == set()
    assert not any(k.startswith("sources.") for k in base)  # sources belong to the options


def test_a_recipe_or_data_change_is_one_edit(tmp_path: Path) -> None:
    conf = shutil.copytree(CONF, tmp_path / "conf")
    _edit(conf / "recipe" / "paper.yaml", "  lr: 2e-3", "  lr: 7e-4")
    _edit(conf / "data" / "base" / "common.yaml", "heldout_prompts: 8", "heldout_prompts: 5")
    with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
        experiments = [compose("train", [f"+experiment={e}"]) for e in PAPER_EXPERIMENTS]
        options = [compose("train", [f"data={option}"]) for option in DATA_OPTIONS]
    assert [cfg.optim.lr for cfg in experiments] == [7e-4] * len(PAPER_EXPERIMENTS)
    assert [cfg.data.heldout_prompts for cfg in experiments + options] == [5] * 8


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} in {path}"
    path.write_text(text.replace(old, new))
