"""The Tinker backend with the SDK's real types (the service itself is replaced by a recording fake
around our loop only), and the backends that must refuse on this machine: tinker without its key,
unsloth without CUDA."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tinker.types as tinker_types
from hydra import compose, initialize_config_dir
from safetensors.numpy import save_file

from compress.algorithms.backends import get_backend
from compress.algorithms.backends import tinker_backend as tb
from compress.algorithms.backends.common import build_examples
from compress.algorithms.compressors.base import Request
from compress.infra.errors import CompressError, MissingRequirement
from compress.infra.llm.tokens import TokenCounter
from compress.infra.models.bundled import hf_dir
from compress.infra.training.loop import lr_factor
from compress.pipeline import preflight
from tests.conftest import CACHE, ROOT

ROWS: list[dict[str, Any]] = [
    {
        "original": "The quick brown fox jumps over the lazy dog near the river bank.",
        "compressed": "fox jumps dog",
        "weight": 3.0,
    },
    {
        "original": "Paris is the capital and largest city of France, on the Seine.",
        "compressed": "Paris: capital of France",
        "weight": 1.0,
    },
    {
        "original": "Water boils at 100 degrees Celsius at sea level pressure.",
        "compressed": "water boils 100C",
        "weight": 3.0,
    },
]


def _compose(overrides: list[str]) -> Any:
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return compose(config_name="config", overrides=overrides)


@pytest.fixture(scope="module")
def tok() -> Any:
    """The bundled Gemma 3 tokenizer (a real HF tokenizer, offline)."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(hf_dir("gemma3-270m", CACHE)))


def test_datum_masks_shifts_and_weights(tok: Any) -> None:
    examples, dropped = build_examples(tok, "completion", "Compress the text.", ROWS[:2], 256)
    assert dropped == 0 and len(examples) == 2
    for ex, row in zip(examples, ROWS[:2], strict=True):
        datum = tb.to_datum(ex)
        assert isinstance(datum, tinker_types.Datum)
        inputs = datum.model_input.to_ints()
        targets = datum.loss_fn_inputs["target_tokens"].tolist()
        weights = datum.loss_fn_inputs["weights"].tolist()
        n = len(ex.input_ids)
        # inputs drop the last token, targets drop the first: position t predicts token t+1
        assert inputs == ex.input_ids[:-1] and targets == ex.input_ids[1:]
        assert len(inputs) == len(targets) == len(weights) == n - 1
        assert datum.loss_fn_inputs["target_tokens"].dtype == "int64"
        assert datum.loss_fn_inputs["weights"].dtype == "float32"
        # 0 on every prompt position, the example's weight on every completion target (EOS included)
        assert weights == [0.0] * (ex.n_prompt - 1) + [row["weight"]] * (n - ex.n_prompt)
        weighted = [t for t, w in zip(targets, weights, strict=True) if w > 0]
        completion = tok(" " + row["compressed"], add_special_tokens=False)["input_ids"]
        assert weighted == [*completion, tok.eos_token_id]
        assert tok.decode(weighted, skip_special_tokens=True) == " " + row["compressed"]
        # the last prompt token is an input but never a weighted target
        assert inputs[ex.n_prompt - 1] == ex.input_ids[ex.n_prompt - 1]


def test_batch_weights_sum_to_one(tok: Any) -> None:
    examples, _ = build_examples(tok, "completion", "Compress the text.", ROWS, 256)
    data = tb.batch_datums(examples)
    per_example = [np.asarray(d.loss_fn_inputs["weights"].tolist()) for d in data]
    assert sum(w.sum() for w in per_example) == pytest.approx(1.0, rel=1e-5)
    # relative weights stay those of the examples (3 : 1 : 3 per completion token)
    tops = [w.max() for w in per_example]
    assert tops[0] / tops[1] == pytest.approx(3.0, rel=1e-5) and tops[0] == pytest.approx(tops[2], rel=1e-6)


def test_lora_flags() -> None:
    assert tb.lora_flags(["q_proj", "v_proj"]) == {
        "train_attn": True,
        "train_mlp": False,
        "train_unembed": False,
    }
    assert tb.lora_flags(["q_proj", "down_proj", "lm_head"]) == dict.fromkeys(
        ("train_attn", "train_mlp", "train_unembed"), True
    )
    with pytest.raises(CompressError, match="embed_tokens"):
        tb.lora_flags(["q_proj", "embed_tokens"])


class Done:
    """A finished future."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def result(self) -> Any:
        return self.value


class FakeTraining:
    """Records every call; answers with the SDK's own response types."""

    def __init__(self, tok: Any, calls: list[tuple[Any, ...]]) -> None:
        self.tok, self.calls = tok, calls

    def get_tokenizer(self) -> Any:
        return self.tok

    def forward_backward(self, data: list[Any], loss_fn: str) -> Done:
        self.calls.append(("forward_backward", loss_fn, data))
        outs = [
            {"logprobs": tinker_types.TensorData.from_numpy(np.full(d.model_input.length, -2.0, np.float32))}
            for d in data
        ]
        return Done(tinker_types.ForwardBackwardOutput("ArrayRecord", outs, {}))

    def optim_step(self, params: Any) -> Done:
        self.calls.append(("optim_step", params))
        return Done(None)

    def save_state(self, name: str, ttl_seconds: int | None = None) -> Done:
        self.calls.append(("save_state", name))
        return Done(tinker_types.SaveWeightsResponse(path=f"tinker://run-1/weights/{name}"))

    def save_weights_for_sampler(self, name: str, ttl_seconds: int | None = None) -> Done:
        self.calls.append(("save_weights_for_sampler", name))
        return Done(tinker_types.SaveWeightsForSamplerResponse(path=f"tinker://run-1/sampler_weights/{name}"))

    def save_weights_external(self, name: str, ttl_seconds: int | None = None) -> Done:
        self.calls.append(("save_weights_external", name))
        return Done(tinker_types.SaveWeightsExternalResponse(path=f"tinker://run-1/external_weights/{name}"))


class FakeRest:
    def __init__(self, files: dict[str, Path]) -> None:
        self.files = files

    def get_external_weights_urls(self, path: str) -> Done:
        assert path == "tinker://run-1/external_weights/final"
        urls = {
            name: p.as_uri() for name, p in self.files.items()
        }  # file:// URLs: the real download code runs
        return Done(
            tinker_types.ExternalWeightsUrlsResponse(
                urls=urls, expires=datetime.now(UTC) + timedelta(hours=1)
            )
        )


class FakeService:
    def __init__(self, tok: Any, files: dict[str, Path]) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.training = FakeTraining(tok, self.calls)
        self.files = files

    def get_server_capabilities(self) -> Any:
        model = tinker_types.SupportedModel(model_name="Qwen/Qwen3-8B", trainable=True)
        return tinker_types.GetServerCapabilitiesResponse(supported_models=[model])

    def create_lora_training_client(self, **kwargs: Any) -> Done:
        self.calls.append(("create_lora_training_client", kwargs))
        return Done(self.training)

    def create_rest_client(self) -> FakeRest:
        return FakeRest(self.files)

    def close(self, status: str) -> Done:
        self.calls.append(("close", status))
        return Done(None)


def _train_cfg(download: bool) -> Any:
    return _compose(
        [
            "backend=tinker",
            "model=qwen3_8b",
            "model.chat_format=completion",  # the fake serves the Gemma tokenizer, a base model
            "train.steps=5",
            "train.batch_size=2",
            "train.max_seq_len=256",
            "train.lora.target_modules=[q_proj,v_proj,down_proj]",
            "backend.checkpoint_every=2",
            f"backend.download={str(download).lower()}",
        ]
    )


def _files(tmp_path: Path, extra: dict[str, Any] | None = None) -> dict[str, Path]:
    src = tmp_path / "served"
    src.mkdir(parents=True)
    (src / "adapter_config.json").write_text(json.dumps({"r": 8, "lora_alpha": 16, "peft_type": "LORA"}))
    lora = {
        "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight": np.ones((8, 16), np.float32),
        "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight": np.zeros((16, 8), np.float32),
    }
    save_file(lora | (extra or {}), str(src / "adapter_model.safetensors"))
    return {
        "adapter_config.json": src / "adapter_config.json",
        "adapter_model.safetensors": src / "adapter_model.safetensors",
    }


@pytest.mark.parametrize("download", [True, False])
def test_training_loop(tok: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, download: bool) -> None:
    monkeypatch.setenv("TINKER_API_KEY", "tml-test-not-real")
    files = _files(tmp_path)
    service = FakeService(tok, files)
    monkeypatch.setattr(tb, "service_client", lambda run: service)
    cfg = _train_cfg(download)
    logged: list[tuple[dict[str, Any], int]] = []
    out = tmp_path / "train"
    result = tb.train(cfg, ROWS, out, CACHE, lambda m, step: logged.append((m, step)))

    kinds = [c[0] for c in service.calls]
    assert kinds[0] == "create_lora_training_client"
    assert service.calls[0][1] == {
        "base_model": "Qwen/Qwen3-8B",
        "rank": 8,
        "seed": 0,
        "train_attn": True,
        "train_mlp": True,
        "train_unembed": False,
    }
    # each step: forward_backward then optim_step; a checkpoint after steps 2 and 4; then the final saves
    expected = ["forward_backward", "optim_step"] * 2 + ["save_state"]
    expected += ["forward_backward", "optim_step"] * 2 + ["save_state"]
    expected += ["forward_backward", "optim_step", "save_state", "save_weights_for_sampler"]
    expected += ["save_weights_external"] if download else []
    assert kinds[1:-1] == expected
    assert service.calls[-1] == ("close", "success")
    assert [c[1] for c in service.calls if c[0] == "save_state"] == ["step-000002", "step-000004", "final"]
    assert all(c[1] == "cross_entropy" for c in service.calls if c[0] == "forward_backward")
    for c in service.calls:
        if c[0] == "forward_backward":
            assert len(c[2]) == 2 and isinstance(c[2][0], tinker_types.Datum)
            total = sum(sum(d.loss_fn_inputs["weights"].tolist()) for d in c[2])
            assert total == pytest.approx(1.0, rel=1e-5)
    # the learning rate follows our warm-up + cosine schedule, with AdamW as torch runs it
    adams = [c[1] for c in service.calls if c[0] == "optim_step"]
    assert [a.learning_rate for a in adams] == pytest.approx([3e-4 * lr_factor(s, 5) for s in range(5)])
    assert all((a.beta1, a.beta2, a.eps, a.grad_clip_norm) == (0.9, 0.999, 1e-8, 1.0) for a in adams)
    # every step logged; the weighted-mean loss is 2.0 when every logprob is -2
    assert [s for _, s in logged] == [1, 2, 3, 4, 5]
    assert all(m["loss"] == pytest.approx(2.0, rel=1e-5) for m, _ in logged)
    assert [m["lr"] for m, _ in logged] == pytest.approx([a.learning_rate for a in adams])
    assert [h["step"] for h in result["history"]] == [1, 2, 3, 4, 5]
    assert result["metrics"]["sampler_path"] == "tinker://run-1/sampler_weights/final"

    adapter = out / "adapter"
    meta = json.loads((adapter / "compressor.json").read_text())
    assert meta["backend"] == "tinker" and meta["model"]["hf_id"] == "Qwen/Qwen3-8B"
    assert meta["sampler_path"] == "tinker://run-1/sampler_weights/final"
    assert meta["state_path"] == "tinker://run-1/weights/final"
    assert meta["checkpoints"] == [
        f"tinker://run-1/weights/{n}" for n in ("step-000002", "step-000004", "final")
    ]
    assert meta["remote"] is (not download)
    if download:
        for name, src in files.items():
            assert (adapter / name).read_bytes() == src.read_bytes()
    else:
        assert not (adapter / "adapter_model.safetensors").exists()


def test_download_without_peft_files_is_refused(
    tok: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TINKER_API_KEY", "tml-test-not-real")
    files = _files(tmp_path)
    del files["adapter_config.json"]
    service = FakeService(tok, files)
    monkeypatch.setattr(tb, "service_client", lambda run: service)
    with pytest.raises(CompressError, match=r"adapter_config\.json.*backend\.download=false"):
        tb.train(_train_cfg(True), ROWS, tmp_path / "train", CACHE, lambda m, s: None)
    assert service.calls[-1] == ("close", "errored")
    # weights in another layout than PEFT's are refused too, never evaluated as the bare base model
    raw = _files(tmp_path / "raw", {"model.layers.0.mlp.experts.w1": np.zeros((2, 2), np.float32)})
    monkeypatch.setattr(tb, "service_client", lambda run: FakeService(tok, raw))
    with pytest.raises(CompressError, match=r"experts\.w1.*build_lora_adapter"):
        tb.train(_train_cfg(True), ROWS, tmp_path / "train2", CACHE, lambda m, s: None)


def test_remote_adapter_samples_through_tinker(
    tok: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TINKER_API_KEY", "tml-test-not-real")
    answer = tok(" fox jumps", add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    requests: list[tuple[Any, ...]] = []

    class FakeSampler:
        def get_tokenizer(self) -> Any:
            return tok

        def sample(self, prompt: Any, num_samples: int, sampling_params: Any) -> Done:
            requests.append((prompt.to_ints(), num_samples, sampling_params))
            time.sleep(0.05)  # the round trip the compressor's latency must count
            seq = tinker_types.SampledSequence(
                stop_reason="stop", sequence_id="s0", tokens_np=np.array(answer)
            )
            return Done(tinker_types.SampleResponse(sequences=[seq]))

    class SamplingService:
        def create_sampling_client(self, model_path: str) -> Done:
            assert model_path == "tinker://run-1/sampler_weights/final"
            return Done(FakeSampler())

    monkeypatch.setattr(tb, "service_client", lambda run: SamplingService())
    meta = {
        "chat_format": "completion",
        "instruction": "Compress.",
        "sampler_path": "tinker://run-1/sampler_weights/final",
    }
    comp = tb.load(tmp_path, meta, CACHE)
    (out,) = comp.compress_many(
        [Request("The quick brown fox jumps.", budget=16)], TokenCounter("local/gemma3-270m", CACHE)
    )
    assert out.text == "fox jumps" and out.seconds >= 0.05
    ids, n, params = requests[0]
    assert n == 1 and params.max_tokens == 16 and params.temperature == 0.0
    assert (
        ids
        == tok("Compress.\n\nText:\nThe quick brown fox jumps.\nAnswer:", add_special_tokens=True)[
            "input_ids"
        ]
    )


def test_tinker_refused_without_key_and_for_the_bundled_model(tmp_path: Path) -> None:
    with pytest.raises(MissingRequirement) as err:
        preflight.check(_compose(["compressor=generative", "backend=tinker", "model=qwen3_8b"]), ["train"])
    assert "TINKER_API_KEY" in str(err.value)
    # the backend is the generative kind's: the default selector trains without one
    preflight.check(_compose(["backend=tinker", "model=qwen3_8b"]), ["train"])
    with pytest.raises(MissingRequirement) as err:
        preflight.check(_compose(["compressor=generative", "backend=tinker"]), ["train"])
    assert "TINKER_API_KEY" in str(err.value) and "model=gemma3-270m is the bundled GGUF" in str(err.value)
    with pytest.raises(MissingRequirement) as err:
        preflight.check(
            _compose(
                [
                    "compressor=generative",
                    "backend=tinker",
                    "model=qwen3_8b",
                    "backend.download=false",
                    "train.export=[gguf]",
                ]
            ),
            ["train"],
        )
    assert "backend.download=false keeps it on Tinker" in str(err.value)
    # called directly (no preflight), train stops before any client exists
    with pytest.raises(MissingRequirement, match="TINKER_API_KEY"):
        get_backend("tinker").train(
            _compose(["backend=tinker", "model=qwen3_8b"]), ROWS, tmp_path, CACHE, print
        )
