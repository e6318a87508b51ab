"""A compressor kind is one module and one YAML: a new kind written into a clean copy of the repository,
with no other change, is composed, trained by the train stage, packaged and loaded like the others."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.support.clean_copy import clean_copy, user_env

# a real kind, small: it learns from the teacher's keep masks how often each word is kept, and keeps
# the units whose words were kept most (coarse-to-fine selection, as the selector's)
KIND_MODULE = '''
"""`compressor=keywords`: the units whose words the teacher kept most often, within the budget."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import MISSING

from compress.algorithms.compressors.base import Capabilities, Compressed, Request, own_budget, tokens_at, write_meta
from compress.algorithms.compressors.coarse import Scored, layout, select_text
from compress.algorithms.kinds.base import Log, no_exports
from compress.algorithms.text.units import shape_of
from compress.algorithms.text.words import normalize, protected
from compress.infra.config_schema import Schema
from compress.infra.errors import CompressError
from compress.infra.llm.tokens import TokenCounter


@dataclass
class KeywordsConfig(Schema):
    name: str = MISSING
    rate: float = MISSING


class KeywordsCompressor:
    name = "keywords"
    capabilities = Capabilities()

    def __init__(self, weights: dict[str, float], rate: float) -> None:
        self.weights, self.rate = weights, rate

    def compress_many(self, requests: Sequence[Request], counter: TokenCounter) -> list[Compressed]:
        out = []
        for r in requests:
            budget = own_budget(r, counter, self.rate)
            if r.n_tokens(counter) <= budget:
                out.append(Compressed(r.text, 0.0))
                continue
            lay = layout(r.text, shape_of(None, r.text), counter)
            word = np.array([self.weights.get(normalize(lay.words.word(i)), 0.0) for i in range(len(lay.words))])
            unit = np.bincount(lay.unit_of_word, weights=word, minlength=lay.n_units) / np.maximum(
                np.bincount(lay.unit_of_word, minlength=lay.n_units), 1
            )
            s = Scored(lay, unit, word, protected(lay.words, [], [], r.force_tokens))
            out.append(Compressed(select_text(s, budget, None, counter.count), 0.0))
        return out


class Keywords:
    name = "keywords"
    schema = KeywordsConfig
    capabilities = KeywordsCompressor.capabilities
    train_reads = ("compressor",)
    exports = ()

    def requirements(self, cfg: Any, stage: str) -> list[str]:
        return []

    def train(self, cfg: Any, rows: list[dict[str, Any]], out: Path, cache: Path, log: Log, held_out: set[str]) -> dict[str, Any]:
        kept: Counter[str] = Counter()
        seen: Counter[str] = Counter()
        for r in rows:
            for word, keep in zip(r["original"].split(), r["keep"], strict=True):
                seen[normalize(word)] += 1
                kept[normalize(word)] += int(keep)
        weights = {w: kept[w] / seen[w] for w in seen}
        adapter = out / "adapter"
        adapter.mkdir(parents=True)
        (adapter / "weights.json").write_text(json.dumps(weights))
        write_meta(adapter, {"kind": "keywords", "rate": float(cfg.compressor.rate)})
        loss = 1.0 - float(np.mean(list(weights.values())))
        log({"loss": loss}, 0)
        history = [{"step": 0, "loss": loss, "tokens": sum(seen.values()), "seconds": 0.0}]
        return {"history": history, "metrics": {"words": len(weights)}}

    def budget(self, cfg: Any, n_tokens: int, teacher_tokens: int | None = None) -> int:
        return tokens_at(float(cfg.compressor.rate), n_tokens)

    def inference_device(self, cfg: Any) -> tuple[str, str]:
        return "cpu", "float32"

    def load(self, adapter_dir: Path, meta: dict[str, Any], cache: Path, device: str, dtype: str, engine: str) -> KeywordsCompressor:
        return KeywordsCompressor(json.loads((adapter_dir / "weights.json").read_text()), float(meta["rate"]))

    def prepare_package(self, adapter_dir: Path, meta: dict[str, Any], cache: Path, gguf: bool) -> None:
        if not (adapter_dir / "weights.json").is_file():
            raise CompressError(f"{adapter_dir}: weights.json is missing")

    def export(self, adapter_dir: Path, out: Path, names: Sequence[str], cache: Path, dtype: str | None = None) -> dict[str, Path]:
        return no_exports("keywords", names)


KIND = Keywords()
'''

KIND_YAML = """\
# The keywords kind: the units whose words the teacher kept most often.
defaults:
  - schema_keywords
  - _self_
name: keywords
rate: 0.5
"""

LOAD = """
import json, sys
from compress import load_compressor
c = load_compressor(sys.argv[1])
text = "The parser reads the file. It returns a list of tokens, one per word. Errors stop it."
r = c.compress(text, rate=0.5)
print(json.dumps({"kind": c.kind, "result": r.model_dump()}))
"""


@pytest.mark.slow  # a generate and validate stage on the bundled model first (about a minute on 2 cores)
def test_a_kind_is_one_module_and_one_yaml(tmp_path: Path) -> None:
    repo = clean_copy(tmp_path / "repo")
    (repo / "compress" / "algorithms" / "kinds" / "keywords.py").write_text(textwrap.dedent(KIND_MODULE))
    (repo / "conf" / "compressor" / "keywords.yaml").write_text(KIND_YAML)
    env = user_env({"WANDB_MODE": "disabled"})

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [sys.executable, *args], cwd=repo, env=env, capture_output=True, text=True, timeout=900
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        return proc

    run(
        "-m",
        "compress.run",
        "+experiment=smoke",
        "compressor=keywords",
        "stages=[generate,validate,train]",
        "logger=none",
        "data.n_samples=8",
    )
    (run_dir,) = sorted((repo / "outputs" / "runs").iterdir())
    meta = json.loads((run_dir / "train" / "adapter" / "compressor.json").read_text())
    assert meta == {"kind": "keywords", "rate": 0.5}
    done = json.loads((run_dir / "train" / "_DONE.json").read_text())
    assert done["metrics"]["words"] > 0
    run("-m", "compress.export", str(run_dir), "--package", str(tmp_path / "pkg"))
    manifest = json.loads((tmp_path / "pkg" / "manifest.json").read_text())
    assert manifest["kind"] == "keywords"
    assert {w["path"] for w in manifest["weights"]} == {"adapter/compressor.json", "adapter/weights.json"}
    for spec in (str(run_dir), str(tmp_path / "pkg")):
        out = json.loads(run("-c", LOAD, spec).stdout.strip().splitlines()[-1])
        assert out["kind"] == "keywords"
        r = out["result"]
        assert r["status"] == "compressed" and 0 < r["tokens_after"] <= round(0.5 * r["tokens_before"])
