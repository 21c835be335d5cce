"""adapter=lora: what trains, what is saved and loaded back, and what the planner expects of it."""

from __future__ import annotations

import functools

import pytest
import torch
from hydra.utils import instantiate
from peft import PeftConfig

from imitate import metrics
from imitate.data.format import IGNORE_INDEX, ChatFormat
from imitate.evaluate import evaluate
from imitate.llm.hf import load_checkpoint
from imitate.model import adapters
from imitate.model.adapters import AdapterConfig
from imitate.model.module import ImitationLM
from imitate.model.optim import OptimConfig
from imitate.plan import Setup, memory_per_device, model_shape
from tests.conftest import compose_config
from tests.eval.conftest import FIXTURES as EVAL_FIXTURES

BASE_VOCAB, MARKERS = 49152, (49152, 49153, 49154)  # tiny_llama's vocabulary + imitate's 3 roles
# tiny_llama, rank 16 on every linear layer of 2 blocks (hidden 64, kv 32, MLP 128):
# 16·(64+64)·2 (q, o) + 16·(64+32)·2 (k, v) + 16·(64+128)·3 (gate, up, down) = 16384 per block,
# plus the 3 role-marker rows of 64.
TINY_LORA_TRAINABLE = 2 * 16384 + 3 * 64


def adapted_lm(overrides: list[str] = (), weights: str | None = None) -> ImitationLM:
    cfg = compose_config(["model=tiny_llama", "adapter=lora", *overrides])
    backbone = cfg.model.backbone
    factory = functools.partial(instantiate, backbone, **({"weights": weights} if weights else {}))
    torch.manual_seed(0)
    lm = ImitationLM(
        factory,
        OptimConfig(**cfg.optim),
        vocab_size=BASE_VOCAB + len(MARKERS),
        weights=weights,
        adapter=AdapterConfig(**cfg.adapter),
        role_token_ids=MARKERS,
    )
    lm.configure_model()
    return lm


def batch_with_markers() -> dict[str, torch.Tensor]:
    ids = torch.randint(0, BASE_VOCAB, (2, 16), generator=torch.manual_seed(1))
    ids[:, 0], ids[:, 5], ids[:, 9] = MARKERS  # system, user, assistant
    labels = ids.clone()
    labels[:, :10] = IGNORE_INDEX  # supervised: the reply after the assistant marker
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels}


def trained_a_little(lm: ImitationLM) -> None:
    """Move the adapter away from its initial no-op (B = 0), as training would."""
    with torch.no_grad():
        for name, param in lm.backbone.named_parameters():
            if param.requires_grad:
                param.add_(torch.randn_like(param) * (0.5 if "lora_B" in name else 0.05))


def test_only_lora_matrices_and_role_marker_rows_get_gradients() -> None:
    lm = adapted_lm()
    loss = lm.training_step(batch_with_markers(), 0)  # the supervised-positions loss, via peft
    loss.backward()
    with_grad = {n for n, p in lm.backbone.named_parameters() if p.grad is not None}
    trainable = {n for n, p in lm.backbone.named_parameters() if p.requires_grad}
    assert with_grad == trainable
    assert all("lora_A" in n or "lora_B" in n or "trainable_tokens_delta" in n for n in trainable)
    assert sum(p.numel() for n, p in lm.backbone.named_parameters() if n in trainable) == (
        TINY_LORA_TRAINABLE
    )
    [delta] = [p for n, p in lm.backbone.named_parameters() if "trainable_tokens_delta" in n]
    assert delta.shape == (len(MARKERS), 64)
    assert (
        delta.grad.abs().sum(dim=1) > 0
    ).all()  # every role row learns, nothing else of the vocab
    # The embedding itself (shared with the tied head) stays frozen.
    assert not lm.backbone.get_input_embeddings().token_adapter.base_layer.weight.requires_grad
    optimizer = lm.configure_optimizers()["optimizer"]
    optimized = {id(p) for group in optimizer.param_groups for p in group["params"]}
    assert optimized == {id(p) for p in lm.backbone.parameters() if p.requires_grad}


def test_gpt2_targets_come_from_its_model_config() -> None:
    cfg = compose_config(["model=tiny_gpt2", "adapter=lora"])
    assert list(cfg.adapter.target_modules) == ["c_attn", "c_proj", "c_fc"]
    model = adapters.wrap(instantiate(cfg.model.backbone), AdapterConfig(**cfg.adapter), (5,))
    lora_layers = {n.rsplit(".", 2)[0] for n, _ in model.named_parameters() if "lora_A" in n}
    assert len(lora_layers) == 2 * 4  # c_attn, attention's c_proj, c_fc, the MLP's c_proj


def test_a_target_the_model_lacks_names_the_linear_layers_it_has() -> None:
    with pytest.raises(ValueError, match=r"\['qkv'\] not found in LlamaForCausalLM.*'q_proj'"):
        adapted_lm(["adapter.target_modules=[qkv]"])


def test_unknown_method_is_refused_with_the_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"adapter.method='dora'; valid: none, lora"):
        AdapterConfig(method="dora")


@pytest.fixture(scope="module")
def saved(tmp_path_factory, smollm2_tokenizer):
    """(folder, the adapter model's logits on a marker batch): adapter/ and merged model/ inside,
    the adapter trained a little on top of a pretrained (saved) tiny base."""
    folder = tmp_path_factory.mktemp("lora")
    base = folder / "base"
    instantiate(compose_config(["model=tiny_llama"]).model.backbone).save_pretrained(base)
    lm = adapted_lm(weights=str(base))
    trained_a_little(lm)
    lm.backbone.eval()
    with torch.no_grad():
        adapted = lm.backbone(input_ids=batch_with_markers()["input_ids"]).logits
    tokenizer = smollm2_tokenizer
    tokenizer.add_special_tokens({"additional_special_tokens": ChatFormat().markers()})
    served = adapters.save(
        lm.backbone,
        tokenizer,
        folder / "adapter",
        folder / "model",
        lm.unsharded_twin,
        lm.base_weights_dir(),
    )
    assert served == (folder / "model").resolve()
    return folder, adapted


def test_merged_and_reloaded_models_give_the_adapter_models_logits(saved) -> None:
    folder, adapted = saved
    ids = batch_with_markers()["input_ids"]
    for name in ("model", "adapter"):  # the merged folder, and peft loading the adapter
        model, loaded_tokenizer = load_checkpoint(str(folder / name))
        assert len(loaded_tokenizer) == BASE_VOCAB + len(MARKERS)
        with torch.no_grad():
            logits = model.eval()(input_ids=ids).logits
        torch.testing.assert_close(logits, adapted, rtol=0, atol=1e-5, msg=name)
    saved_config = PeftConfig.from_pretrained(folder / "adapter")  # what peft reads back
    assert saved_config.base_model_name_or_path == str((folder / "base").resolve())
    assert saved_config.trainable_token_indices == {"model.embed_tokens": list(MARKERS)}


def test_evaluate_scores_a_saved_adapter_as_its_merged_model(saved) -> None:
    folder, _ = saved
    results = {}
    for name in ("adapter", "model"):
        cfg = compose_config(
            [
                f"checkpoint={folder / name}",
                "eval=quick",
                "~eval.tasks.nq",
                "~eval.tasks.humaneval",
                "~eval.tasks.rtp",
                f"eval.tasks.mmlu.data={EVAL_FIXTURES / 'mmlu'}",
                "eval.tasks.mmlu.subjects=[anatomy]",
                f"output_dir={folder / ('eval_' + name)}",
                f"eval.results_cache={folder / ('cache_' + name)}",
                f"tracking.uri=sqlite:///{folder / 'mlflow.db'}",
                f"tracking.artifact_root={folder / 'artifacts'}",
            ],
            config_name="evaluate",
        )
        results[name] = evaluate(cfg)
    assert results["adapter"][metrics.MMLU_ACC] == results["model"][metrics.MMLU_ACC]
    assert results["adapter"][metrics.MMLU_ACC_MACRO] == results["model"][metrics.MMLU_ACC_MACRO]


def test_planner_gives_gradients_and_optimizer_states_to_trainable_weights_only() -> None:
    cfg = compose_config(["model=tiny_llama", "adapter=lora"])
    full = model_shape(cfg.model.backbone)
    lora = model_shape(cfg.model.backbone, AdapterConfig(**cfg.adapter))
    assert lora.trainable == TINY_LORA_TRAINABLE and full.trainable is None
    setup = Setup("single", 1, 4, 64, 4, 4)
    planned, planned_full = memory_per_device(lora, setup), memory_per_device(full, setup)
    assert planned["optimizer"] == TINY_LORA_TRAINABLE * 8  # two fp32 moments
    assert planned["gradients"] == TINY_LORA_TRAINABLE * 4
    assert planned["weights"] == planned_full["weights"]  # the frozen base is still held
    # What the run's optimizer really holds after a step, against the plan.
    lm = adapted_lm()
    optimizer = lm.configure_optimizers()["optimizer"]
    lm.training_step(batch_with_markers(), 0).backward()
    optimizer.step()
    held = sum(
        t.numel() * t.element_size()
        for state in optimizer.state.values()
        for t in state.values()
        if torch.is_tensor(t) and t.dim() > 0
    )
    assert held == planned["optimizer"]


def test_resume_restores_the_random_state_dropout_draws_from_at_the_first_batch() -> None:
    # LoRA's dropout (and GPT-2's) draws from torch's generator: a resumed run must draw the masks
    # the uninterrupted one drew, though building the train loader draws numbers in between.
    lm = adapted_lm()
    checkpoint: dict = {}
    lm.on_save_checkpoint(checkpoint)
    uninterrupted = torch.rand(4)
    lm.on_load_checkpoint(checkpoint)
    torch.rand(7)  # e.g. the loader's base seed, drawn after the checkpoint is loaded
    lm.on_train_batch_start(batch_with_markers(), 0)
    assert torch.equal(torch.rand(4), uninterrupted)
    lm.on_train_batch_start(batch_with_markers(), 1)  # only once: later batches draw on
    assert not torch.equal(torch.rand(4), uninterrupted)
