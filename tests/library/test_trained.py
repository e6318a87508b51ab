"""Loading a trained compressor under either engine: llama.cpp (base GGUF + the adapter as a GGUF
LoRA) agrees with transformers (the PEFT adapter on the dequantised copy) token for token wherever
transformers' greedy choice is not a near-tie."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from datasets import load_from_disk

from compress.algorithms.backends.lora_export import ensure_gguf
from compress.algorithms.compressors.base import Request
from compress.algorithms.compressors.generative import (
    GGUF_ADAPTER,
    GenerativeCompressor,
    LlamaCppGenerative,
    compressor_messages,
    format_prompt,
)
from compress.algorithms.kinds import load_adapter
from compress.infra.errors import CompressError
from compress.infra.llm.tokens import TokenCounter
from compress.infra.models.bundled import gguf_path
from tests.conftest import CACHE

CAP = 32
COUNTER = TokenCounter("local/gemma3-270m", CACHE)
# greedy choices whose lead over the runner-up is below this (in logits) may flip between engines:
# llama.cpp multiplies the q4_K weights with 8-bit-quantised activations, transformers their float32
# dequantisation, and the two moved logits by up to about 2 here
NEAR_TIE = 1.0


@pytest.fixture(scope="module")
def engines(smoke_run: Path) -> Iterator[dict[str, Any]]:
    adapter = smoke_run / "train" / "adapter"
    texts = [r["original"] for r in load_from_disk(str(smoke_run / "validate" / "validated"))][:2]
    cpp = load_adapter(adapter, CACHE, engine="llama_cpp")
    hf = load_adapter(adapter, CACHE, engine="transformers")
    reqs = [Request(t, CAP) for t in texts]
    out = {
        "adapter": adapter,
        "texts": texts,
        "cpp": cpp,
        "hf": hf,
        "cpp_out": cpp.compress_many(reqs, COUNTER),
        "hf_out": hf.compress_many(reqs, COUNTER),
    }
    yield out
    assert isinstance(cpp, LlamaCppGenerative)
    cpp.close()


def _probe(adapter: Path, scale: float) -> Any:
    """The engine's weights and adapter (at `scale`; 0 = the base model) with every position's logits kept."""
    from llama_cpp import Llama

    return Llama(
        model_path=str(gguf_path("gemma3-270m", CACHE)),
        lora_path=str(ensure_gguf(adapter, CACHE)),
        lora_scale=scale,
        n_ctx=2048,
        use_mmap=False,
        logits_all=True,
        verbose=False,
    )


def _logits(llm: Any, ids: list[int]) -> np.ndarray:
    llm.reset()
    llm.eval(ids)
    return np.array(llm.scores[: llm.n_tokens])


@pytest.mark.slow  # the session's trained smoke run (about 2 minutes on 2 cores) is the cost: pytest -m slow
def test_engines_agree_except_at_near_ties(engines: dict[str, Any]) -> None:
    import torch

    cpp, hf = engines["cpp"], engines["hf"]
    assert isinstance(cpp, LlamaCppGenerative) and isinstance(hf, GenerativeCompressor)
    assert (cpp.engine, hf.engine) == ("llama_cpp", "transformers")
    probe, plain = _probe(engines["adapter"], 1.0), _probe(engines["adapter"], 0.0)
    agree = total = 0
    for text, c_out, h_out in zip(engines["texts"], engines["cpp_out"], engines["hf_out"], strict=True):
        prompt = format_prompt(None, compressor_messages(hf.instruction, text), "completion")
        ids = hf.tok(prompt, return_tensors="pt")
        n = ids["input_ids"].shape[1]
        assert probe.tokenize(prompt.encode(), add_bos=True, special=True) == ids["input_ids"][0].tolist()
        with torch.inference_mode():
            seq = hf.model.generate(**ids, max_new_tokens=CAP, do_sample=False)
            h_logits = hf.model(input_ids=seq).logits[0].numpy()
            with hf.model.disable_adapter():
                h_plain = hf.model(**ids).logits[0, -1].numpy()
        gen = seq[0, n:].tolist()
        assert hf.tok.decode(gen, skip_special_tokens=True).strip() == h_out.text
        # the adapter moves llama.cpp's logits the way it moves torch's. The engines' base logits differ
        # by quantisation noise about as large as a smoke adapter's move (norms ~96 vs ~130 measured), so
        # the correlation is about |move| / sqrt(|move|^2 + |noise|^2): 0.75-0.9 with the adapters fresh
        # machines train (it moves with accelerate's release); an adapter llama.cpp misapplies gives ~0.
        c_logits = _logits(probe, seq[0].tolist())
        delta_cpp = c_logits[n - 1] - _logits(plain, ids["input_ids"][0].tolist())[n - 1]
        assert np.corrcoef(delta_cpp, h_logits[n - 1] - h_plain)[0, 1] > 0.6
        # on transformers' own path llama.cpp makes the same choice wherever the choice is clear
        for k in range(len(gen)):
            total += 1
            if int(np.argmax(c_logits[n - 1 + k])) == gen[k]:
                agree += 1
            else:
                assert _lead(h_logits[n - 1 + k]) < NEAR_TIE, (
                    f"step {k}: the engines disagree on a clear choice"
                )
        # free-running, the outputs part only where transformers' own choice was a near-tie
        if c_out.text != h_out.text:
            full = hf.tok.decode(gen, skip_special_tokens=True)
            cut = len(full) - len(full.lstrip()) + _common_prefix(c_out.text, h_out.text)
            k = next(
                (
                    k
                    for k in range(len(gen))
                    if len(hf.tok.decode(gen[: k + 1], skip_special_tokens=True)) > cut
                ),
                len(gen) - 1,
            )
            assert _lead(h_logits[n - 1 + k]) < NEAR_TIE, (k, c_out.text, h_out.text)
        assert c_out.text and c_out.seconds > 0
    probe.close()
    plain.close()
    assert agree / total >= 0.9


def _common_prefix(a: str, b: str) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))


def _lead(logits: np.ndarray) -> float:
    """How far the greedy choice leads the runner-up."""
    top2 = np.sort(logits)[-2:]
    return float(top2[1] - top2[0])


@pytest.mark.slow  # the session's trained smoke run (about 2 minutes on 2 cores) is the cost: pytest -m slow
def test_llama_cpp_is_deterministic_and_capped(engines: dict[str, Any]) -> None:
    cpp = engines["cpp"]
    text = engines["texts"][0]
    # another request in between must not change the answer (no KV-cache reuse across requests)
    again = cpp.compress_many([Request(engines["texts"][1], CAP), Request(text, CAP)], COUNTER)[1]
    assert again.text == engines["cpp_out"][0].text
    short = cpp.compress_many([Request(text, 4)], COUNTER)[0].text
    assert 0 < len(cpp._llm.tokenize(short.encode(), add_bos=False)) <= 5
    with pytest.raises(CompressError, match="context of 8192"):
        cpp.compress_many([Request("word " * 9000, 8)], COUNTER)


@pytest.mark.slow  # the session's trained smoke run (about 2 minutes on 2 cores) is the cost: pytest -m slow
def test_gguf_is_exported_once_beside_the_adapter(engines: dict[str, Any]) -> None:
    gguf = engines["adapter"] / GGUF_ADAPTER
    assert gguf.is_file()
    stamp = gguf.stat().st_mtime_ns
    assert ensure_gguf(engines["adapter"], CACHE) == gguf and gguf.stat().st_mtime_ns == stamp
    assert isinstance(
        load_adapter(engines["adapter"], CACHE), LlamaCppGenerative
    )  # auto, llama.cpp installed


def test_engine_refusals(tmp_path: Path) -> None:
    with pytest.raises(CompressError, match="engine='vllm': choose auto, llama_cpp or transformers"):
        load_adapter(tmp_path, CACHE, engine="vllm")
    meta = {
        "model": {"name": "qwen3-8b", "source": "hf", "hf_id": "Qwen/Qwen3-8B"},
        "chat_format": "qwen3",
        "instruction": "Compress.",
        "backend": "torch",
    }
    (tmp_path / "compressor.json").write_text(json.dumps(meta))
    with pytest.raises(CompressError, match="Qwen/Qwen3-8B has no GGUF here"):
        load_adapter(tmp_path, CACHE, engine="llama_cpp")
