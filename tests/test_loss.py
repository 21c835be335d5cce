"""The supervised-only projection gives the full masked loss and its gradients, at less cost."""

from __future__ import annotations

import pytest
import torch
from hydra.utils import instantiate
from transformers import Gemma2Config, Gemma2ForCausalLM

from imitate.data.format import IGNORE_INDEX
from imitate.model.loss import SupervisedProjection, full_logits_loss
from tests.conftest import compose_config


def _backbone(name: str):
    torch.manual_seed(0)
    if name == "tiny_gemma2":  # soft-caps its logits: post-processing must still apply
        config = Gemma2Config(
            vocab_size=512,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            num_key_value_heads=1,
            head_dim=16,
            final_logit_softcapping=5.0,
        )
        return Gemma2ForCausalLM(config)
    return instantiate(compose_config([f"model={name}"]).model.backbone)


def _imitation_batch(vocab_size: int) -> dict[str, torch.Tensor]:
    """Two rows: a masked prompt then a reply, and a reply then right padding."""
    generator = torch.Generator().manual_seed(1)
    input_ids = torch.randint(0, vocab_size, (2, 24), generator=generator)
    attention_mask = torch.ones_like(input_ids)
    attention_mask[1, 18:] = 0
    labels = input_ids.clone()
    labels[0, :10] = IGNORE_INDEX  # user turn
    labels[1, 18:] = IGNORE_INDEX  # padding
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}


def _loss_and_grads(model, loss_fn, batch):
    torch.manual_seed(2)  # GPT-2 trains with dropout: both paths draw the same masks
    model.zero_grad()
    loss = loss_fn(model, batch)
    loss.backward()
    return loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters()}


@pytest.mark.parametrize("name", ["tiny_llama", "tiny_gpt2", "tiny_gemma2"])
def test_supervised_projection_equals_the_full_masked_loss_and_gradients(name) -> None:
    model = _backbone(name).train()
    batch = _imitation_batch(model.config.vocab_size)
    full_loss, full_grads = _loss_and_grads(model, full_logits_loss, batch)
    projection = SupervisedProjection(model)
    loss, grads = _loss_and_grads(model, projection.loss, batch)
    torch.testing.assert_close(loss, full_loss, rtol=1e-5, atol=1e-6)
    assert grads.keys() == full_grads.keys()
    for param_name, grad in grads.items():
        torch.testing.assert_close(grad, full_grads[param_name], rtol=1e-4, atol=1e-6)


def test_the_head_projects_only_supervised_positions_and_everything_outside_training() -> None:
    model = _backbone("tiny_llama").train()
    projection = SupervisedProjection(model)
    batch = _imitation_batch(model.config.vocab_size)
    seen = []
    model.get_output_embeddings().register_forward_hook(lambda m, a, out: seen.append(out.shape))
    projection.loss(model, batch)
    supervised = int((batch["labels"][:, 1:] != IGNORE_INDEX).sum())
    assert seen[-1] == (supervised, model.config.vocab_size)
    assert supervised < batch["input_ids"].numel()
    logits = model(input_ids=batch["input_ids"]).logits  # generation and validation: every position
    assert logits.shape == (*batch["input_ids"].shape, model.config.vocab_size)


def test_a_batch_with_nothing_supervised_gives_zero_loss_and_finite_gradients() -> None:
    model = _backbone("tiny_llama").train()
    batch = _imitation_batch(model.config.vocab_size)
    batch["labels"][:] = IGNORE_INDEX
    loss, grads = _loss_and_grads(model, SupervisedProjection(model).loss, batch)
    assert loss.item() == 0.0
    assert all(torch.isfinite(g).all() and not g.any() for g in grads.values())
