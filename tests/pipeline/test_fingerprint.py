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
