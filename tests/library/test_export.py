"""Export of a trained adapter on the bundled model: merged (torch logits equal base + adapter) and a
GGUF LoRA that llama.cpp loads and that moves its logits the way the adapter moves torch's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest

from compress.algorithms.backends.lora_export import GGUF_NAME, export_all
from compress.algorithms.compressors.generative import save_meta
from compress.export.__main__ import main
from compress.infra.errors import CompressError
from compress.infra.models.bundled import gguf_path, load_hf
from tests.conftest import CACHE

PROMPT = "The capital of France is"
MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A run dir whose adapter is a random LoRA on the last three layers, its torch logits, then exported."""
    import torch
    from omegaconf import OmegaConf
    from peft import LoraConfig, get_peft_model

    run_dir = tmp_path_factory.mktemp("run")
    adapter = run_dir / "train" / "adapter"
    tok, base = load_hf("gemma3-270m", CACHE)
    torch.manual_seed(0)
    model = get_peft_model(
        base,
        LoraConfig(
            r=4,
            lora_alpha=8,
            target_modules=MODULES,
            layers_to_transform=[15, 16, 17],
            init_lora_weights=False,  # B random too: a trained-looking adapter, not a no-op
            task_type="CAUSAL_LM",
        ),
    )
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.mul_(0.1)  # large enough to change greedy output, small enough to stay near-linear
    model.save_pretrained(str(adapter))
    gemma = OmegaConf.create({"name": "gemma3-270m", "source": "gguf_package", "hf_id": None})
    save_meta(adapter, gemma, "completion", "Compress the text.", backend="torch")
    ids = tok(PROMPT, return_tensors="pt")["input_ids"]
    model.eval()
    with torch.no_grad():
        lora = model(input_ids=ids).logits[0].numpy()
        with model.disable_adapter():
            plain = model(input_ids=ids).logits[0].numpy()
    del model, base
    assert main([str(run_dir), "--merged", "--gguf"]) == 0
    return {"dir": run_dir, "ids": ids[0].tolist(), "lora": lora, "base": plain}


# slow: the module's exported run (a LoRA on the bundled model, merged and converted) takes ~30 s
@pytest.mark.slow
def test_merged_logits_equal_base_plus_adapter(run: dict[str, Any]) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    merged_dir = run["dir"] / "export" / "merged"
    assert json.loads((merged_dir / "compressor.json").read_text())["chat_format"] == "completion"
    assert "quantization_config" not in json.loads((merged_dir / "config.json").read_text())
    tok = AutoTokenizer.from_pretrained(str(merged_dir))
    assert tok(PROMPT)["input_ids"] == run["ids"]
    merged = AutoModelForCausalLM.from_pretrained(str(merged_dir), dtype=torch.float32)
    with torch.no_grad():
        logits = merged(input_ids=torch.tensor([run["ids"]])).logits[0].numpy()
    assert np.abs(run["lora"] - run["base"]).max() > 1.0  # the adapter matters ...
    np.testing.assert_allclose(logits, run["lora"], atol=2e-3, rtol=1e-4)  # ... and is folded in exactly


# slow: the module's exported run (a LoRA on the bundled model, merged and converted) takes ~30 s
@pytest.mark.slow
def test_gguf_adapter_follows_llama_cpp_conventions(run: dict[str, Any]) -> None:
    from gguf import GGUFReader

    reader = GGUFReader(str(run["dir"] / "export" / GGUF_NAME))
    fields = {k: f.contents() for k, f in reader.fields.items() if not k.startswith("GGUF.")}
    assert fields["general.architecture"] == "gemma3"
    assert fields["general.type"] == "adapter" and fields["adapter.type"] == "lora"
    assert fields["adapter.lora.alpha"] == 8.0
    shapes = {t.name: [int(x) for x in t.shape] for t in reader.tensors}
    assert len(shapes) == 2 * len(MODULES) * 3
    # ggml order (ne0 = input features): A is in x rank, B is rank x out, as llama.cpp checks
    assert shapes["blk.17.attn_q.weight.lora_a"] == [640, 4]
    assert shapes["blk.17.attn_q.weight.lora_b"] == [4, 1024]
    assert shapes["blk.15.ffn_down.weight.lora_a"] == [2048, 4]
    assert shapes["blk.16.attn_output.weight.lora_b"] == [4, 640]


# slow: the module's exported run (a LoRA on the bundled model, merged and converted) takes ~30 s
@pytest.mark.slow
def test_gguf_adapter_changes_llama_cpp_like_torch(run: dict[str, Any]) -> None:
    from llama_cpp import Llama
    from llama_cpp.llama_types import CreateCompletionResponse

    def generate(scale: float) -> tuple[np.ndarray, str]:
        llm = Llama(
            model_path=str(gguf_path("gemma3-270m", CACHE)),
            lora_path=str(run["dir"] / "export" / GGUF_NAME),
            lora_scale=scale,  # 0 = the base model through the same code path
            n_ctx=128,
            n_threads=1,  # llama.cpp's threads spin-wait: one is faster on a busy 2-core machine
            use_mmap=False,
            logits_all=True,
            verbose=False,
            seed=0,
        )
        tokens = llm.tokenize(PROMPT.encode(), add_bos=True)
        assert tokens == run["ids"]
        llm.eval(tokens)
        logits = np.array(llm.scores[: llm.n_tokens])
        llm.reset()
        completion = cast(
            CreateCompletionResponse, llm.create_completion(PROMPT, max_tokens=8, temperature=0.0)
        )
        text = completion["choices"][0]["text"]
        llm.close()
        return logits, str(text)

    base_logits, base_text = generate(0.0)
    lora_logits, lora_text = generate(1.0)
    assert lora_text != base_text
    # llama.cpp's change of the logits is torch's change (up to its quantised arithmetic): a wrong
    # tensor name, layer or A/B orientation would leave these uncorrelated
    cpp, ref = (lora_logits - base_logits).ravel(), (run["lora"] - run["base"]).ravel()
    assert np.corrcoef(cpp, ref)[0, 1] > 0.8
    assert 0.5 < np.linalg.norm(cpp) / np.linalg.norm(ref) < 2.0


def test_refusals(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path / "nowhere"), "--gguf"]) == 2
    assert "no trained adapter here" in capsys.readouterr().err
    remote = tmp_path / "train" / "adapter"
    remote.mkdir(parents=True)
    meta = {
        "model": {"name": "qwen3-8b", "source": "hf", "hf_id": "Qwen/Qwen3-8B"},
        "backend": "tinker",
        "remote": True,
    }
    (remote / "compressor.json").write_text(json.dumps(meta | {"chat_format": "qwen3", "instruction": "x"}))
    assert main([str(tmp_path), "--merged"]) == 2
    assert "backend.download=true" in capsys.readouterr().err
    with pytest.raises(CompressError, match="unknown export"):
        export_all(remote, tmp_path / "export", ["onnx"], CACHE)
