"""The torch and mlx training backends end to end: train, save, reload through the evaluate stage's
loader, generate; the mlx adapter's PEFT conversion; the mlx loss's example weights.

The model is a randomly initialised two-layer Gemma 3 (one sliding-window and one global attention
layer, tied embeddings, transformers 5's per-layer-type RoPE config) that uses the bundled Gemma 3
270M's real tokenizer, so the rows, the prompt format and every code path are the production ones.
The bundled model itself would make this file take many minutes: a LoRA step on it is tens of
seconds in torch on 2 cores, and mlx's Linux CPU build multiplies matrices with reference BLAS.
Its hidden size (64) keeps Gemma's sqrt(hidden) embedding scale exact in bfloat16, which mlx-lm
rounds to and transformers does not, so the two frameworks' logits agree to float32 precision.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import mlx.core as mx
import mlx.nn as nn
import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from safetensors import safe_open

from compress.algorithms.backends import get_backend
from compress.algorithms.backends import mlx_backend as mb
from compress.algorithms.backends.common import examples_or_raise
from compress.algorithms.backends.common import weighted_completion_loss as torch_loss
from compress.algorithms.compressors.generative import (
    GenerativeCompressor,
    compressor_messages,
    format_prompt,
)
from compress.algorithms.data.corpora import iter_stdlib_nl
from compress.algorithms.kinds import load_adapter
from compress.infra.models.bundled import hf_dir
from compress.infra.training.loop import Example, lr_factor
from tests.conftest import CACHE, ROOT

STEPS = 8
LOG_KEYS = {"loss", "tokens_per_s", "lr", "target_tokens"}


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random tiny Gemma 3 in transformers format, with the bundled model's tokenizer files."""
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    bundled = hf_dir("gemma3-270m", CACHE)
    ref = json.loads((bundled / "config.json").read_text())
    torch.manual_seed(0)
    cfg = Gemma3TextConfig(
        vocab_size=ref["vocab_size"],
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=32,
        layer_types=["sliding_attention", "full_attention"],
        # not mlx-lm's defaults: the logit comparisons below fail unless these reach mlx-lm
        rope_parameters={
            "sliding_attention": {"rope_type": "default", "rope_theta": 5_000.0},
            "full_attention": {"rope_type": "default", "rope_theta": 200_000.0},
        },
        sliding_window=512,  # longer than any test sequence: both frameworks see plain causal attention
        bos_token_id=ref["bos_token_id"],
        eos_token_id=ref["eos_token_id"],
        pad_token_id=ref["pad_token_id"],
        tie_word_embeddings=True,
    )
    out = tmp_path_factory.mktemp("tiny-gemma3")
    Gemma3ForCausalLM(cfg).save_pretrained(out)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(bundled / name, out / name)
    return out


@pytest.fixture(scope="module")
def tok(tiny_dir: Path) -> Any:
    """The bundled model's tokenizer (loading its 33 MB tokenizer.json once saves seconds per test)."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(tiny_dir))


@pytest.fixture(scope="module")
def rows() -> list[dict[str, Any]]:
    """Two real stdlib docstrings; the compressed side is their first half (deterministic)."""
    out = []
    for sample in iter_stdlib_nl(0):
        words = sample["text"].split()
        if 8 <= len(words) <= 30:
            out.append(
                {"original": sample["text"], "compressed": " ".join(words[: len(words) // 2]), "weight": 1.0}
            )
        if len(out) == 2:
            return out
    raise AssertionError("the stdlib has no short docstrings?")


def _cfg(backend: str, tiny: Path) -> Any:
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return compose(
            config_name="config",
            overrides=[
                f"backend={backend}",
                "backend.device=cpu",
                "model.source=hf",
                f"model.hf_id={tiny}",
                "model.name=tiny-gemma3",
                "model.chat_format=completion",
                f"train.steps={STEPS}",
                "train.batch_size=2",
                # a high rate on a repeated pair of rows: the loss must fall at every seed
                "train.lr=2e-2",
                "train.max_seq_len=96",
            ],
        )


@dataclass
class Run:
    cfg: Any
    out: Path
    result: dict[str, Any]
    logs: list[tuple[dict[str, Any], int]]


def _train(backend: str, tiny: Path, rows: list[dict[str, Any]], out: Path) -> Run:
    cfg = _cfg(backend, tiny)
    logs: list[tuple[dict[str, Any], int]] = []
    result = get_backend(backend).train(cfg, rows, out, CACHE, lambda m, s: logs.append((m, s)))
    return Run(cfg, out, result, logs)


@pytest.fixture(scope="module")
def torch_run(tiny_dir: Path, rows: list[dict[str, Any]], tmp_path_factory: pytest.TempPathFactory) -> Run:
    return _train("torch", tiny_dir, rows, tmp_path_factory.mktemp("torch-run"))


@pytest.fixture(scope="module")
def mlx_run(tiny_dir: Path, rows: list[dict[str, Any]], tmp_path_factory: pytest.TempPathFactory) -> Run:
    return _train("mlx", tiny_dir, rows, tmp_path_factory.mktemp("mlx-run"))


def _assert_learns_and_reloads(run: Run, rows: list[dict[str, Any]], backend: str) -> None:
    losses = [h["loss"] for h in run.result["history"]]
    assert len(losses) == STEPS
    assert losses[-1] < losses[0] - 0.2, losses
    assert run.result["metrics"]["loss_last_quarter"] < run.result["metrics"]["loss_first_quarter"]
    assert [s for _, s in run.logs] == list(range(1, STEPS + 1))
    assert all(set(m) == LOG_KEYS for m, _ in run.logs)
    adapter = run.out / "adapter"
    assert (adapter / "adapter_config.json").exists() and (adapter / "adapter_model.safetensors").exists()
    assert json.loads((adapter / "compressor.json").read_text())["backend"] == backend
    # the evaluate stage's loader, unchanged: base model from the metadata + the PEFT adapter
    comp = load_adapter(adapter, CACHE)
    assert isinstance(comp, GenerativeCompressor)
    text = rows[0]["original"]
    trained, _ = comp.generate(text, 12)
    with comp.model.disable_adapter():
        base, _ = comp.generate(text, 12)
    assert trained != base


def test_torch_backend_learns_and_its_adapter_reloads(torch_run: Run, rows: list[dict[str, Any]]) -> None:
    _assert_learns_and_reloads(torch_run, rows, "torch")


# slow: an MLX training run or the bundled model under mlx (15-20 s each on 2 cores)
@pytest.mark.slow
def test_mlx_backend_learns_and_its_adapter_reloads(mlx_run: Run, rows: list[dict[str, Any]]) -> None:
    _assert_learns_and_reloads(mlx_run, rows, "mlx")
    native = mlx_run.out / "adapter" / mb.MLX_SUBDIR
    assert (native / "adapters.safetensors").exists()
    assert json.loads((native / "adapter_config.json").read_text())["lora_parameters"]["scale"] == 16 / 8


# slow: an MLX training run or the bundled model under mlx (15-20 s each on 2 cores)
@pytest.mark.slow
def test_backends_take_the_same_steps(torch_run: Run, mlx_run: Run) -> None:
    """Same examples, batches, masking and model: the first loss (LoRA B starts at zero) is the same;
    with the same optimiser, schedule and LoRA scale the curves stay together (only dropout differs)."""
    t, m = torch_run.result["history"], mlx_run.result["history"]
    assert m[0]["loss"] == pytest.approx(t[0]["loss"], rel=1e-5)
    assert [h["tokens"] for h in m] == [h["tokens"] for h in t]
    assert [x["target_tokens"] for x, _ in mlx_run.logs] == [x["target_tokens"] for x, _ in torch_run.logs]
    # each step logs the rate it was taken with: warm-up from step 1, not the scheduler's next value
    schedule = [2e-2 * lr_factor(s, STEPS) for s in range(STEPS)]
    for run in (torch_run, mlx_run):
        assert [x["lr"] for x, _ in run.logs] == pytest.approx(schedule)
    fell = t[0]["loss"] - t[-1]["loss"]
    assert abs(m[-1]["loss"] - t[-1]["loss"]) < 0.3 * fell


# slow: an MLX training run or the bundled model under mlx (15-20 s each on 2 cores)
@pytest.mark.slow
def test_mlx_adapter_in_peft_format_gives_mlx_logits(
    mlx_run: Run, tiny_dir: Path, rows: list[dict[str, Any]]
) -> None:
    """The PEFT copy, loaded by transformers + PEFT, computes what mlx computes with the native adapter."""
    adapter = mlx_run.out / "adapter"
    lora = mlx_run.cfg.train.lora
    with safe_open(str(adapter / "adapter_model.safetensors"), framework="np") as fh:
        shapes = {k: fh.get_slice(k).get_shape() for k in fh.keys()}  # noqa: SIM118
    q_a = shapes["base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"]
    k_b = shapes["base_model.model.model.layers.0.self_attn.k_proj.lora_B.weight"]
    assert q_a == [lora.rank, 64] and k_b == [32, lora.rank]  # PEFT: A (r, in), B (out, r)
    assert len(shapes) == 2 * 4 * 2  # A and B x 4 modules x 2 layers

    comp = cast(GenerativeCompressor, load_adapter(adapter, CACHE))  # the PEFT copy under transformers
    prompt = format_prompt(
        comp.tok, compressor_messages(mlx_run.cfg.domain.instruction, rows[1]["original"]), "completion"
    )
    ids = comp.tok(prompt + " " + rows[1]["compressed"])["input_ids"]
    with torch.no_grad():
        peft_logits = comp.model(input_ids=torch.tensor([ids])).logits[0].numpy()
        with comp.model.disable_adapter():
            base_logits = comp.model(input_ids=torch.tensor([ids])).logits[0].numpy()

    from mlx_lm.tuner.utils import load_adapters

    model, _ = mb.load_model(tiny_dir, mx.float32)
    load_adapters(model, str(adapter / mb.MLX_SUBDIR))  # mlx-lm's own loader: the native files work too
    model.eval()
    mlx_logits = np.array(model(mx.array([ids]))[0])

    gap = np.abs(mlx_logits - peft_logits).max()
    effect = np.abs(peft_logits - base_logits).max()
    assert gap < 1e-3, gap
    assert effect > 100 * gap, (effect, gap)  # the adapter matters, so agreeing on it means something


def test_mlx_loss_equals_torch_loss_with_weights(
    tiny_dir: Path, tok: Any, rows: list[dict[str, Any]]
) -> None:
    """The mlx loss is the torch backend's loss: same examples, same per-token weighting."""
    from transformers import AutoModelForCausalLM

    cfg = _cfg("mlx", tiny_dir)
    examples, _ = examples_or_raise(cfg, tok, "completion", [rows[0] | {"weight": 3.0}, rows[1]])
    tm = AutoModelForCausalLM.from_pretrained(str(tiny_dir), dtype=torch.float32).eval()
    with torch.no_grad():
        expected, _ = torch_loss(tm, examples, tok.pad_token_id, "cpu")
    model, _ = mb.load_model(tiny_dir, mx.float32)
    assert mb.batch_loss(model, examples, tok.pad_token_id).item() == pytest.approx(expected.item(), rel=1e-5)


@pytest.fixture(scope="module")
def tiny_mlx() -> Any:
    """A tiny random mlx-lm Gemma 3 (untied LM head: the other branch of `mb.lm_head`)."""
    from mlx_lm.models.gemma3_text import Model, ModelArgs

    mx.random.seed(0)
    args = ModelArgs(
        model_type="gemma3_text",
        hidden_size=32,
        num_hidden_layers=2,
        intermediate_size=64,
        num_attention_heads=2,
        head_dim=16,
        num_key_value_heads=1,
        vocab_size=97,
        sliding_window_pattern=2,
    )
    model = Model(args)
    model.eval()
    return model


def _full_ce(model: Any, ex: Example) -> float:
    logits = model(mx.array([ex.input_ids]))[0]
    ids = mx.array(ex.input_ids)
    ce: Any = nn.losses.cross_entropy(logits[ex.n_prompt - 1 : -1], ids[ex.n_prompt :], reduction="mean")
    return float(ce.item())


def test_mlx_loss_matches_full_logits_on_completion_tokens(tiny_mlx: Any) -> None:
    ex = Example([5, 6, 7, 8, 9, 10], n_prompt=3, weight=1.0)
    assert mb.batch_loss(tiny_mlx, [ex], pad_id=0).item() == pytest.approx(_full_ce(tiny_mlx, ex), rel=1e-5)


def test_mlx_weights_scale_examples_not_duplicate(tiny_mlx: Any) -> None:
    a = Example([5, 6, 7, 8, 9], n_prompt=2, weight=1.0)
    b = Example([11, 12, 13, 14, 15, 16, 17], n_prompt=4, weight=1.0)
    la, lb = _full_ce(tiny_mlx, a), _full_ce(tiny_mlx, b)

    def loss(batch: list[Example]) -> float:
        return float(mb.batch_loss(tiny_mlx, batch, pad_id=0).item())

    only_a = loss([a, Example(b.input_ids, b.n_prompt, 0.0)])
    even = loss([a, b])
    tenx = loss([Example(a.input_ids, a.n_prompt, 10.0), b])
    scaled = loss([Example(a.input_ids, a.n_prompt, 3.0), Example(b.input_ids, b.n_prompt, 3.0)])
    assert only_a == pytest.approx(la, rel=1e-5)  # weight 0 drops b entirely
    assert scaled == pytest.approx(even, rel=1e-5)  # a common factor changes nothing
    # a's 3 target tokens weigh 10x against b's 3: the loss moves toward a's
    assert abs(tenx - la) < abs(even - la)
    assert tenx == pytest.approx((10 * 3 * la + 3 * lb) / (10 * 3 + 3), rel=1e-4)


# slow: an MLX training run or the bundled model under mlx (15-20 s each on 2 cores)
@pytest.mark.slow
def test_mlx_reads_the_bundled_models_transformers_config(tok: Any) -> None:
    """mlx-lm runs the bundled model's converted checkpoint like transformers does (RoPE per layer
    type and the sliding-window pattern come from transformers 5's config keys). The one expected
    difference: mlx-lm rounds the sqrt(640) embedding scale to bfloat16 (0.2 %), hence the tolerance."""
    from transformers import AutoModelForCausalLM

    path = hf_dir("gemma3-270m", CACHE)  # `tok` is its tokenizer: the tiny model copied its files
    ids = tok("The csv module reads and writes tabular data.\nAnswer:")["input_ids"]
    assert mb.config_overrides(json.loads((path / "config.json").read_text())) == {
        "rope_theta": 1_000_000.0,
        "rope_local_base_freq": 10_000.0,
        "sliding_window_pattern": 6,
    }
    model, config = mb.load_model(path, mx.float32)
    hidden = mb.hidden_states(model, mx.array([ids]))[0, -1:]
    mlx_last = np.array(mb.lm_head(model, hidden, config.get("final_logit_softcapping")))[0]
    del model
    tm = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32).eval()
    with torch.no_grad():
        torch_last = tm(input_ids=torch.tensor([ids]), logits_to_keep=1).logits[0, -1].numpy()
    assert mlx_last.argmax() == torch_last.argmax()
    assert np.abs(mlx_last - torch_last).max() < 0.3
