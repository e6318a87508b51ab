"""`compress serve` on a trained run's package (the smoke run's generative LoRA under llama.cpp): it
turns ready, names the package in /readyz, and answers /v1/compress exactly as the library does on the
same package (greedy decoding, one text at a time), batches included."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from compress import load_compressor
from compress.export.package import write_package
from tests.conftest import CACHE
from tests.support.serve import ServeProcess

TEXTS = [
    "The parser reads the configuration file line by line, skips comments that start with a hash, "
    "and returns a dictionary that maps each section name to its key-value pairs.",
    "def area(width, height):\n    # the rectangle's area in square units\n    return width * height\n",
]


@pytest.mark.slow  # the session's trained smoke run (about 2 minutes on 2 cores) is the cost: pytest -m slow
def test_a_trained_package_serves_what_the_library_gives(smoke_run: Path, tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    manifest = write_package(smoke_run, pkg, CACHE, version="1.2.0")
    with load_compressor(pkg, engine="llama_cpp", cache_dir=CACHE) as lib:
        expected = [lib.compress(t, target_tokens=20) for t in TEXTS]
    env = {"HF_HUB_OFFLINE": "1", "WANDB_MODE": "disabled", "COMPRESS_CACHE": str(CACHE)}
    srv = ServeProcess(str(pkg), tmp_path / "serve.log", "--engine", "llama_cpp", env=env)
    try:
        info = srv.wait_ready()
        assert info["compressor"]["kind"] == "generative", info
        assert info["compressor"]["version"] == manifest.version == "1.2.0"
        one = srv.client.post("/v1/compress", json={"text": TEXTS[0], "target_tokens": 20})
        assert one.status_code == 200, one.text
        many = srv.client.post("/v1/compress", json={"texts": TEXTS, "target_tokens": 20})
        assert many.status_code == 200, many.text
        got = [one.json(), *many.json()["results"]]
        for body, want in zip(got, [expected[0], *expected], strict=True):
            assert body["status"] == "compressed", body
            assert {
                k: body[k] for k in ("compressed", "tokens_before", "tokens_after", "tokenizer", "domain")
            } == (
                want.model_dump(
                    include={"compressed", "tokens_before", "tokens_after", "tokenizer", "domain"}
                )
            )
        assert [b["domain"] for b in got] == ["nl", "nl", "code"]
    finally:
        code = srv.stop(signal.SIGTERM)
        assert code == 0, srv.log()[-3000:]
