"""Pieces of the pipeline: fingerprints, extractive selection, secrets, the weighted loss."""

from __future__ import annotations

import pytest
from hydra import compose, initialize_config_dir

from compress.pipeline import fingerprint
from compress.secrets import REDACTED, scrub
from compress.teachers import select_units, split_units
from tests.conftest import ROOT


def _cfg(overrides: list[str]) -> object:
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return compose(config_name="config", overrides=overrides)


def test_fingerprints_follow_the_config_each_stage_reads() -> None:
    base, other_rank, other_data = _cfg([]), _cfg(["train.lora.rank=4"]), _cfg(["data.n_samples=7"])
    up = {"generate": "g", "validate": "v", "train": "t"}
    assert fingerprint("generate", base, up) == fingerprint("generate", other_rank, up)
    assert fingerprint("validate", base, up) == fingerprint("validate", other_rank, up)
    assert fingerprint("train", base, up) != fingerprint("train", other_rank, up)
    assert fingerprint("generate", base, up) != fingerprint("generate", other_data, up)
    # an upstream change propagates
    assert fingerprint("train", base, up) != fingerprint("train", base, up | {"validate": "v2"})
    # the logger and the output paths never change a result
    assert fingerprint("train", base, up) == fingerprint("train", _cfg(["logger=none"]), up)
    # metric weights and probes are read from validate on: a search over them keeps the generated data
    weights = _cfg(["domain.metric.cosine=0.5"])
    assert fingerprint("generate", base, up) == fingerprint("generate", weights, up)
    assert fingerprint("validate", base, up) != fingerprint("validate", weights, up)
    mixed = _cfg(["domain=mixed"])
    mixed_weights = _cfg(["domain=mixed", "domain.parts.code.metric.ast=0.9"])
    assert fingerprint("generate", mixed, up) == fingerprint("generate", mixed_weights, up)
    # every backend setting that shapes the adapter counts; the thread count does not
    threads = _cfg(["backend.threads=1"])
    assert fingerprint("train", base, up) == fingerprint("train", threads, up)
    tinker = _cfg(["backend=tinker"])
    tinker_remote = _cfg(["backend=tinker", "backend.download=false"])
    assert fingerprint("train", tinker, up) != fingerprint("train", tinker_remote, up)


def test_select_units_meets_the_rate() -> None:
    text = "alpha beta gamma delta epsilon zeta"
    spans = split_units(text, "word")
    assert len(spans) == 6
    kept = select_units(spans, [1, 6, 2, 5, 3, 4], [1] * 6, rate=0.5)
    assert kept == [1, 3, 5]  # the three best, in text order
    assert select_units(spans, [1] * 6, [1] * 6, rate=1.0) == list(range(6))
    lines = split_units("a = 1\n\nb = 2\n", "line")
    assert [("a = 1\n\nb = 2\n")[s:e] for s, e in lines] == ["a = 1\n", "\n", "b = 2\n"]


def test_scrub_removes_secret_keys_and_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-live-abcdefghijkl")
    cfg = {
        "teacher": {"model": "openai/gpt", "api_key": "x"},
        "note": "key sk-live-abcdefghijkl here",
        "n": 3,
        "token": None,
    }
    out = scrub(cfg)
    assert out["teacher"]["api_key"] == REDACTED
    assert "sk-live" not in out["note"]
    assert out["n"] == 3 and out["teacher"]["model"] == "openai/gpt"
