"""FSDP2 and DDP on 2 CPU processes (gloo, torchrun): same losses as one process, exact resume,
consolidation.

Each run is a real ``python -m imitate`` job: 4 optimizer steps of a global batch of 8 blocks of 64
tokens on the bundled ShareGPT. One process accumulates 2 micro-batches of 4; two processes take
one micro-batch of 4 each (gradient accumulation derived from the world size). A micro-batch's
loss is the mean over its tokens, so the two groupings of the same 8 blocks give slightly
different objectives: losses agree to 0.5% after 4 steps (measured: LLaMA < 0.2%, GPT-2 0.22%),
not bit for bit.
"""

from __future__ import annotations

import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest
import torch
from hydra.utils import instantiate
from mlflow.tracking import MlflowClient
from safetensors.torch import load_file
from transformers import AutoConfig, AutoModelForCausalLM

from imitate import metrics
from imitate.model import adapters
from imitate.model.adapters import AdapterConfig
from imitate.model.checkpoints import consolidate, is_complete, newest_complete
from imitate.model.parallel import resized
from tests.conftest import compose_config
from tests.support.subprocess_run import imitate_command, imitate_env, run_imitate

pytestmark = pytest.mark.slow

STEPS = 4
COMMON = [
    "+experiment=smoke",
    "data.max_tokens=2048",  # 32 blocks of 64 = 4 optimizer steps of 8
    "trainer.log_every_n_steps=1",
    "trainer.enable_progress_bar=false",
    "~eval.tasks.style",
    "optim.warmup_steps=1",
]
CHECKPOINTS = ["checkpoint.every_n_steps=1", "checkpoint.keep_last=2"]
FSDP = [
    *CHECKPOINTS,
    "trainer=fsdp",
    "trainer.accelerator=cpu",
    "trainer.devices=2",
    "trainer.log_every_n_steps=1",
    "parallel.param_dtype=float32",  # CPUs: compare in fp32
    "parallel.meta_init=false",  # same random init as the single process (meta init is per shard)
]


DDP = ["trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=2", "trainer.precision=32-true"]
LORA = ["adapter=lora"]  # tiny_llama's every block linear layer + the role-marker rows
# What a user types: parallel.meta_init stays at its default (true), which an adapter resolves
# to false with a log line (peft builds the adapter from the loaded base).
FSDP_LORA = [*(o for o in FSDP if not o.startswith("parallel.meta_init")), *LORA]
META_INIT_RESOLVED = "parallel.meta_init=true resolved to false"


THREADS = {"OMP_NUM_THREADS": "1"}  # two processes on two cores


def _launcher(processes: int) -> list[str]:
    return ["-m", "torch.distributed.run", "--nproc_per_node", str(processes)] if processes > 1 else []  # fmt: skip


def _args(name: str, workdir: Path, overrides: list[str]) -> list[str]:
    return [*COMMON, *overrides, f"hydra.run.dir={workdir / name}"]


def _uri(workdir: Path, name: str) -> str:
    return f"sqlite:///{workdir / name}.db"


def _run(name: str, workdir: Path, overrides: list[str], processes: int) -> None:
    run_imitate(_args(name, workdir, overrides), cwd=workdir, uri=_uri(workdir, name),
                launcher=_launcher(processes), env=THREADS, timeout_s=600)  # fmt: skip


def _runs(workdir: Path, name: str):
    client = MlflowClient(_uri(workdir, name))
    experiment = client.get_experiment_by_name("smoke")
    return client, client.search_runs([experiment.experiment_id])


def _history(workdir: Path, name: str, key: str) -> list:
    """Every value of ``key`` the run logged, oldest first (by timestamp, then step)."""
    client, [run] = _runs(workdir, name)
    return sorted(client.get_metric_history(run.info.run_id, key), key=_order)


def _losses(workdir: Path, name: str, since_ms: float = 0) -> dict[int, float]:
    """train/loss by step; a step logged twice (before a kill and after resume) keeps the last."""
    history = _history(workdir, name, metrics.TRAIN_LOSS)
    return {m.step: m.value for m in history if m.timestamp >= since_ms}


def _final(workdir: Path, name: str, key: str) -> float:
    """The value of ``key`` logged last."""
    return _history(workdir, name, key)[-1].value


def _order(metric) -> tuple[int, int]:
    return metric.timestamp, metric.step


def _kill_tree(pid: int) -> None:
    """SIGKILL torchrun and its workers (each in its own session, so a group kill misses them)."""
    agent = psutil.Process(pid)
    for process in [*agent.children(recursive=True), agent]:
        process.send_signal(signal.SIGKILL)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fsdp")


# The one-process references, run two at a time: each holds one core (OMP_NUM_THREADS=1), so on
# CI's 2 cores the pair takes the time of one.
REFERENCES = {"single": [], "lora_single": LORA}


@pytest.fixture(scope="module")
def references(workdir) -> None:
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = [pool.submit(_run, name, workdir, extra, 1) for name, extra in REFERENCES.items()]
        for run in runs:
            run.result()


@pytest.fixture(scope="module")
def single(workdir, references) -> dict[int, float]:
    return _losses(workdir, "single")


@pytest.fixture(scope="module")
def fsdp(workdir) -> dict[int, float]:
    _run("fsdp", workdir, FSDP, processes=2)
    return _losses(workdir, "fsdp")


@pytest.fixture(scope="module")
def lora_single(workdir, references) -> dict[int, float]:
    return _losses(workdir, "lora_single")


@pytest.fixture(scope="module")
def lora_fsdp(workdir) -> dict[int, float]:
    _run("lora_fsdp", workdir, FSDP_LORA, processes=2)
    return _losses(workdir, "lora_fsdp")


def _adapter(workdir: Path, name: str) -> dict[str, torch.Tensor]:
    """The adapter weights a LoRA run saved (adapter/, peft's save_pretrained)."""
    return load_file(workdir / name / "adapter" / "adapter_model.safetensors")


def _job_log(workdir: Path, name: str) -> str:
    return "".join(log.read_text() for log in (workdir / name).glob("*.log"))


def test_fsdp_lora_trains_the_adapter_and_saves_it_and_the_merged_model(
    workdir, lora_single, lora_fsdp, single, tmp_path
) -> None:
    # FSDP2 shards the frozen base and the LoRA weights alike (torchtune's way); same curve as
    # one process, and the saved adapter holds only what trained.
    assert len(lora_single) == STEPS
    assert lora_fsdp == pytest.approx(lora_single, rel=5e-3)
    assert lora_fsdp != pytest.approx(single, rel=1e-3)  # not full fine-tuning
    assert META_INIT_RESOLVED in _job_log(workdir, "lora_fsdp")  # no crash, and said so
    adapter = _adapter(workdir, "lora_fsdp")
    assert adapter and all("lora_" in key or "trainable_tokens" in key for key in adapter)
    # The merged model/ the FSDP run saved (gathered from its live shards, merged by peft) is
    # the merge of its last sharded checkpoint, consolidated offline.
    cfg = compose_config([*COMMON, *LORA])
    markers = range(49152, 49155)  # SmolLM2's vocabulary + imitate's 3 role markers
    with torch.device("meta"):
        empty = adapters.wrap(
            resized(instantiate(cfg.model.backbone), 49155), AdapterConfig(**cfg.adapter), markers
        )
    final = workdir / "lora_fsdp" / "checkpoints" / f"step={STEPS}.ckpt"
    offline = AutoModelForCausalLM.from_pretrained(consolidate(final, empty, tmp_path / "hf"))
    merged = AutoModelForCausalLM.from_pretrained(workdir / "lora_fsdp" / "model")
    ids = torch.randint(0, 49155, (2, 32), generator=torch.manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(merged(ids).logits, offline(ids).logits, rtol=0, atol=1e-5)


@pytest.mark.parametrize("model", ["tiny_gpt2"])
def test_fsdp_gpt2_matches_one_process(workdir, model) -> None:
    _run(f"single_{model}", workdir, [f"model={model}"], processes=1)
    _run(f"fsdp_{model}", workdir, [*FSDP, f"model={model}"], processes=2)
    single, sharded = _losses(workdir, f"single_{model}"), _losses(workdir, f"fsdp_{model}")
    assert len(single) == STEPS
    assert sharded == pytest.approx(single, rel=5e-3)


def test_fsdp_llama_matches_one_process(single, fsdp) -> None:
    assert len(single) == STEPS
    assert fsdp == pytest.approx(single, rel=5e-3)


def test_ddp_matches_one_process_and_trains_the_weights_fsdp_trains(workdir, single, fsdp) -> None:
    _run("ddp", workdir, DDP, processes=2)
    assert _losses(workdir, "ddp") == pytest.approx(single, rel=5e-3)
    # The losses of 4 steps barely move; the weights tell whether gradients were averaged over
    # both ranks: FSDP splits the batch the same way, so both must end with the same weights.
    trained = {
        run: AutoModelForCausalLM.from_pretrained(workdir / run / "model")
        for run in ("ddp", "fsdp")
    }
    fsdp_weights = dict(trained["fsdp"].named_parameters())
    for name, weight in trained["ddp"].named_parameters():
        torch.testing.assert_close(weight, fsdp_weights[name], rtol=1e-4, atol=1e-6, msg=name)


def test_ddp_lora_matches_one_process_and_trains_the_adapter_fsdp_trains(
    workdir, lora_single, lora_fsdp
) -> None:
    _run("lora_ddp", workdir, [*DDP, *LORA], processes=2)
    assert _losses(workdir, "lora_ddp") == pytest.approx(lora_single, rel=5e-3)
    # Gradients averaged over both ranks: the same adapter as FSDP's, which splits the batch alike.
    ddp, fsdp = _adapter(workdir, "lora_ddp"), _adapter(workdir, "lora_fsdp")
    assert sorted(ddp) == sorted(fsdp) and ddp
    for key, weight in ddp.items():
        torch.testing.assert_close(weight, fsdp[key], rtol=1e-4, atol=1e-6, msg=key)
    assert (workdir / "lora_ddp" / "model" / "config.json").is_file()  # the merged model too


def test_meta_init_reads_pretrained_weights_shard_by_shard(workdir) -> None:
    # A pretrained checkpoint on disk, read by FSDP on the meta device one tensor at a time (each
    # rank copying its own slice) and by one process with from_pretrained: same starting weights,
    # grown vocabulary rows included, so the first step's loss is the same to float rounding.
    pretrained = workdir / "pretrained"
    torch.manual_seed(7)
    # Weights large enough that the loss depends on each of them (at HF's default 0.02 a
    # 2-layer model predicts a near-uniform distribution whatever its weights).
    config = compose_config(["model=tiny_llama", "+model.backbone.config.initializer_range=0.3"])
    instantiate(config.model.backbone).save_pretrained(pretrained)
    weights = f"model.backbone.weights={pretrained}"
    _run("pretrained_single", workdir, [weights], processes=1)
    _run("pretrained_fsdp", workdir, [*FSDP, weights, "parallel.meta_init=true"], processes=2)
    single, sharded = _losses(workdir, "pretrained_single"), _losses(workdir, "pretrained_fsdp")
    assert sharded[0] == pytest.approx(single[0], rel=1e-5)
    assert sharded == pytest.approx(single, rel=5e-3)


@pytest.mark.parametrize("adapter", ["none", "lora"])
@pytest.mark.parametrize("processes", [1, 2])
def test_sigkill_then_resume_auto_continues_the_same_curve_and_run(
    workdir, processes, adapter, request
) -> None:
    # Weights (adapter weights under LoRA), optimizer, scheduler and each rank's place in the
    # shuffled data must all come back.
    lora = adapter == "lora"
    name = f"killed_{processes}" + ("_lora" if lora else "")
    overrides = (FSDP_LORA if lora else FSDP) if processes > 1 else CHECKPOINTS + lora * LORA
    uninterrupted_name = ("lora_" if lora else "") + ("fsdp" if processes > 1 else "single")
    uninterrupted = request.getfixturevalue(uninterrupted_name)
    job = subprocess.Popen(
        imitate_command(*_args(name, workdir, overrides), launcher=_launcher(processes)),
        cwd=workdir,
        env=imitate_env(_uri(workdir, name), THREADS),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    checkpoints = workdir / name / "checkpoints"
    deadline = time.monotonic() + 600  # 2 processes on a busy 2-core machine take minutes
    while newest_complete(checkpoints) is None and job.poll() is None:
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.05)
    _kill_tree(job.pid)  # as a node failure would: no handler, no clean shutdown
    job.wait()
    killed_at = newest_complete(checkpoints)
    assert job.returncode == -signal.SIGKILL
    assert killed_at is not None and killed_at.name != f"step={STEPS}.ckpt", "killed too late"

    _run(name, workdir, [*overrides, "resume=auto"], processes)
    _, runs = _runs(workdir, name)
    assert len(runs) == 1 and runs[0].info.status == "FINISHED"
    # Lightning saves step N's checkpoint before it logs step N-1's loss: a kill in between can
    # lose that one point, so only the steps from the resumed one on are required.
    losses, resumed_at = _losses(workdir, name), int(killed_at.stem.split("=")[1])
    assert set(range(resumed_at, STEPS)) <= losses.keys()
    # Bit for bit, not approximately: the same weights, optimizer and data order, and each rank's
    # RNG state (LoRA's dropout) restored (measured: exact for LoRA on 1 and 2 processes).
    assert losses == {step: uninterrupted[step] for step in losses}
    tokens = _final(workdir, name, metrics.TOKENS_SEEN)  # counted on from the checkpoint
    assert tokens == _final(workdir, uninterrupted_name, metrics.TOKENS_SEEN) > 0
    if lora:  # the adapter it saved is the uninterrupted run's, bit for bit
        resumed, straight = _adapter(workdir, name), _adapter(workdir, uninterrupted_name)
        assert sorted(resumed) == sorted(straight)
        for key, weight in resumed.items():
            torch.testing.assert_close(weight, straight[key], rtol=0, atol=0, msg=key)


def test_resume_from_an_epoch_end_checkpoint_trains_the_next_epoch(workdir) -> None:
    # Two epochs of 2 steps: the step-2 checkpoint is saved after epoch 0's last batch, when the
    # train loader has read everything. Resumed, epoch 1 must read its whole (reshuffled) epoch.
    name = "epochs"
    overrides = [
        *CHECKPOINTS,
        "checkpoint.keep_last=10",
        "trainer.max_epochs=2",
        "data.max_tokens=1024",
    ]
    _run(name, workdir, overrides, processes=1)
    uninterrupted = _losses(workdir, name)
    all_tokens = _final(workdir, name, metrics.TOKENS_SEEN)
    assert len(uninterrupted) == STEPS
    checkpoints = workdir / name / "checkpoints"
    for later in (3, 4):  # as if the job had died right after saving step 2
        (checkpoints / f"step={later}.ckpt").unlink()

    resumed_from_ms = time.time() * 1000
    _run(name, workdir, [*overrides, "resume=auto"], processes=1)
    resumed = _losses(workdir, name, since_ms=resumed_from_ms)
    assert resumed == pytest.approx({2: uninterrupted[2], 3: uninterrupted[3]}, rel=1e-5)
    assert _final(workdir, name, metrics.TOKENS_SEEN) == all_tokens  # counted on, not from 0
    saved = sorted(p.name for p in checkpoints.glob("step=*.ckpt"))
    assert saved == [f"step={step}.ckpt" for step in range(1, STEPS + 1)]  # no step=2-v1 re-save


def test_consolidated_checkpoint_gives_the_sharded_runs_logits(workdir, fsdp, tmp_path) -> None:
    final = workdir / "fsdp" / "checkpoints" / f"step={STEPS}.ckpt"
    assert is_complete(final)
    kept = sorted(p.name for p in final.parent.glob("step=*.ckpt"))
    assert kept == [f"step={STEPS - 1}.ckpt", f"step={STEPS}.ckpt"]  # keep_last=2
    gathered_dir = workdir / "fsdp" / "model"  # saved by the run from its shards, in-process
    with torch.device("meta"):
        empty = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(gathered_dir))
    consolidated = AutoModelForCausalLM.from_pretrained(consolidate(final, empty, tmp_path / "hf"))
    gathered = AutoModelForCausalLM.from_pretrained(gathered_dir)
    ids = torch.randint(0, consolidated.config.vocab_size, (2, 32), generator=torch.manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(consolidated(ids).logits, gathered(ids).logits)
