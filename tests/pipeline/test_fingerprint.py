"""Stage fingerprints follow exactly the config each stage reads (the stage table's keys and ignores)."""

from __future__ import annotations

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from compress.pipeline.fingerprint import fingerprint
from tests.conftest import ROOT


def _cfg(overrides: list[str]) -> DictConfig:
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return compose(config_name="config", overrides=overrides)


def test_fingerprints_follow_the_config_each_stage_reads() -> None:
    gen = ["compressor=generative"]
    base, other_rank, other_data = (
        _cfg(gen),
        _cfg([*gen, "train.lora.rank=4"]),
        _cfg([*gen, "data.n_samples=7"]),
    )
    up = {"generate": "g", "validate": "v", "train": "t"}
    assert fingerprint("generate", base, up) == fingerprint("generate", other_rank, up)
    assert fingerprint("validate", base, up) == fingerprint("validate", other_rank, up)
    assert fingerprint("train", base, up) != fingerprint("train", other_rank, up)
    assert fingerprint("generate", base, up) != fingerprint("generate", other_data, up)
    # an upstream change propagates
    assert fingerprint("train", base, up) != fingerprint("train", base, up | {"validate": "v2"})
    # the logger and the output paths never change a result
    assert fingerprint("train", base, up) == fingerprint("train", _cfg([*gen, "logger=none"]), up)
    # metric weights and probes are read from validate on: a search over them keeps the generated data
    weights = _cfg(["domain.metric.cosine=0.5"])
    assert fingerprint("generate", base, up) == fingerprint("generate", weights, up)
    assert fingerprint("validate", base, up) != fingerprint("validate", weights, up)
    mixed = _cfg(["domain=mixed"])
    mixed_weights = _cfg(["domain=mixed", "domain.parts.code.metric.ast=0.9"])
    assert fingerprint("generate", mixed, up) == fingerprint("generate", mixed_weights, up)
    # every backend setting that shapes the adapter counts; the thread count does not
    threads = _cfg([*gen, "backend.threads=1"])
    assert fingerprint("train", base, up) == fingerprint("train", threads, up)
    tinker = _cfg([*gen, "backend=tinker"])
    tinker_remote = _cfg([*gen, "backend=tinker", "backend.download=false"])
    assert fingerprint("train", tinker, up) != fingerprint("train", tinker_remote, up)
    assert fingerprint("train", base, up) != fingerprint("train", _cfg([*gen, "model=qwen3_4b"]), up)


def test_the_train_fingerprint_follows_what_the_kind_reads() -> None:
    """The selector reads its own node and the seed, never `train`, `backend` or `model` (the
    generative kind's): changing those does not retrain it; changing its own lr or labels does."""
    up = {"generate": "g", "validate": "v"}
    selector = fingerprint("train", _cfg([]), up)
    for unread in ("train.lr=1e-3", "train.lora.rank=4", "backend=mlx", "model=qwen3_4b", "teacher.rate=0.3"):
        assert fingerprint("train", _cfg([unread]), up) == selector, unread
    for read in ("compressor.lr=1e-3", "compressor.labels.examples=10", "seed=1", "compressor=classifier"):
        assert fingerprint("train", _cfg([read]), up) != selector, read
    # the classifier reads the pairs' weights too (by validation outcome), and the teacher's rate
    classifier = fingerprint("train", _cfg(["compressor=classifier"]), up)
    assert fingerprint("train", _cfg(["compressor=classifier", "train.weights.failed=0.5"]), up) != classifier
    assert fingerprint("train", _cfg(["compressor=classifier", "train.lr=1e-3"]), up) == classifier
