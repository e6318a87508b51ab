"""The torch backend's weighted, completion-only loss, on a tiny randomly initialised Gemma 3."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from compress.algorithms.backends.common import weighted_completion_loss
from compress.infra.training.loop import Example


@pytest.fixture(scope="module")
def tiny() -> object:
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    torch.manual_seed(0)
    cfg = Gemma3TextConfig(
        vocab_size=97,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=16,
    )
    return Gemma3ForCausalLM(cfg).eval()


def _full_ce(model: object, ex: Example) -> torch.Tensor:
    ids = torch.tensor([ex.input_ids])
    logits = model(input_ids=ids).logits[0]  # type: ignore[operator]
    return F.cross_entropy(logits[ex.n_prompt - 1 : -1], ids[0, ex.n_prompt :])


def test_loss_matches_full_logits_on_completion_tokens(tiny: object) -> None:
    ex = Example([5, 6, 7, 8, 9, 10], n_prompt=3, weight=1.0)
    with torch.no_grad():
        loss, n = weighted_completion_loss(tiny, [ex], pad_id=0, device="cpu")
    assert n == 3
    assert loss.item() == pytest.approx(_full_ce(tiny, ex).item(), rel=1e-5)


def test_weights_scale_examples_not_duplicate(tiny: object) -> None:
    a = Example([5, 6, 7, 8, 9], n_prompt=2, weight=1.0)
    b = Example([11, 12, 13, 14, 15, 16, 17], n_prompt=4, weight=1.0)
    with torch.no_grad():
        la, lb = _full_ce(tiny, a).item(), _full_ce(tiny, b).item()
        only_a, _ = weighted_completion_loss(tiny, [a, Example(b.input_ids, b.n_prompt, 0.0)], 0, "cpu")
        even, _ = weighted_completion_loss(tiny, [a, b], 0, "cpu")
        tenx, _ = weighted_completion_loss(tiny, [Example(a.input_ids, a.n_prompt, 10.0), b], 0, "cpu")
        scaled, _ = weighted_completion_loss(
            tiny, [Example(a.input_ids, a.n_prompt, 3.0), Example(b.input_ids, b.n_prompt, 3.0)], 0, "cpu"
        )
    assert only_a.item() == pytest.approx(la, rel=1e-5)  # weight 0 drops b entirely
    assert scaled.item() == pytest.approx(even.item(), rel=1e-5)  # a common factor changes nothing
    # a's 3 target tokens weigh 10x against b's 3: the loss moves toward a's
    assert abs(tenx.item() - la) < abs(even.item() - la)
    expected = (10 * 3 * la + 3 * lb) / (10 * 3 + 3)
    assert tenx.item() == pytest.approx(expected, rel=1e-4)
