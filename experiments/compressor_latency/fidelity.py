"""How closely each classifier reproduces its teacher on held-out texts: the quality a speed-up costs,
measured without a single LLM call.

    .venv/bin/python experiments/compressor_latency/fidelity.py RUN [RUN ...] [--max-samples 208]

Each RUN is a pipeline run dir with a trained classifier (`compressor=classifier`,
`compressor=classifier_fast`, ...). On the evaluate stage's held-out samples (generate's pairs of
`evaluate.split`, the first `evaluate.max_samples`, exactly the texts evaluate scores), every
classifier keeps words within the teacher's own budget (its compressed tokens, by the target model's
tokenizer), and its word keep mask is compared with the teacher's (generate's `keep` column): precision,
recall and F1 of the kept words, micro-averaged over all words. Beside them, at the same budgets,
truncation (the first words) and random word choices (seeded) show what agreement costs nothing;
the first run's classifier also runs as a copy with its first 2 layers only and int8, and each
as trained with int8, so each speed-up's cost is measured on the same texts. Writes
fidelity.json beside this file and prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from datasets import load_from_disk  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402

from compress.algorithms.compressors.base import Request  # noqa: E402
from compress.algorithms.kinds.classifier import ClassifierCompressor, ClassifierMeta, load_classifier  # noqa: E402
from compress.algorithms.text.words import Words, split_words  # noqa: E402
from compress.infra.llm.tokens import TokenCounter, largest_prefix  # noqa: E402

HERE = Path(__file__).resolve().parent


def _cache() -> Path:
    return Path(os.environ.get("COMPRESS_CACHE", Path.home() / ".cache" / "compress"))


def held_out(run: Path, max_samples: int | None) -> list[dict[str, Any]]:
    """The run's evaluate samples: generate's pairs of evaluate.split, the first evaluate.max_samples."""
    cfg = OmegaConf.load(run / ".hydra" / "config.yaml")
    pairs = load_from_disk(str(run / "generate" / "pairs"))
    n = int(max_samples or cfg.evaluate.max_samples)
    return [r for r in pairs if r["split"] == str(cfg.evaluate.split)][:n]


def prf(pred: list[np.ndarray], gold: list[np.ndarray]) -> dict[str, float]:
    """Micro precision, recall and F1 of the kept words."""
    tp = sum(int((p & g).sum()) for p, g in zip(pred, gold, strict=True))
    kept = sum(int(p.sum()) for p in pred)
    true = sum(int(g.sum()) for g in gold)
    prec, rec = tp / max(1, kept), tp / max(1, true)
    return {"precision": prec, "recall": rec, "f1": 2 * prec * rec / max(1e-9, prec + rec)}


def fast_copy(adapter: Path, tmp: Path) -> Path:
    """The adapter's first 2 encoder layers (the trained weights), saved with int8 inference."""
    from transformers import AutoConfig, AutoModelForTokenClassification, AutoTokenizer

    config = AutoConfig.from_pretrained(str(adapter))
    config.num_hidden_layers = 2
    model = AutoModelForTokenClassification.from_pretrained(str(adapter), config=config)
    out = tmp / "first2"
    model.save_pretrained(str(out))
    AutoTokenizer.from_pretrained(str(adapter)).save_pretrained(str(out))
    ClassifierMeta.read(adapter).model_copy(update={"encoder_layers": 2, "quantize": "int8"}).write(out)
    return out


def masks_of(
    comp: ClassifierCompressor, rows: list[dict[str, Any]], budgets: list[int], counter: TokenCounter
) -> list[np.ndarray]:
    """The classifier's keep masks over each text's words at each budget."""
    return comp.keep_masks([Request(r["original"], b) for r, b in zip(rows, budgets, strict=True)], counter)


def head_masks(rows: list[dict[str, Any]], counter: TokenCounter, budgets: list[int]) -> list[np.ndarray]:
    """Truncation's masks: the first words that fit the budget."""
    out = []
    for r, b in zip(rows, budgets, strict=True):
        text, words = r["original"], split_words(r["original"])

        def cost(k: int, text: str = text, words: Words = words) -> int:
            return counter.count(text[: words.ends[k - 1]]) if k else 0

        k = largest_prefix(len(words), cost, b)
        m = np.zeros(len(words), dtype=bool)
        m[:k] = True
        out.append(m)
    return out


def random_masks(gold: list[np.ndarray], seed: int = 0) -> list[np.ndarray]:
    """As many words as the teacher kept, drawn at random (seeded)."""
    rng = np.random.default_rng(seed)
    out = []
    for g in gold:
        m = np.zeros(len(g), dtype=bool)
        m[rng.choice(len(g), size=int(g.sum()), replace=False)] = True
        out.append(m)
    return out


def main() -> None:
    """Fidelity of each run's classifier (and its speed variants) to the teacher on held-out texts."""
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("runs", type=Path, nargs="+")
    ap.add_argument("--max-samples", type=int, default=None)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    cache = _cache()
    rows = held_out(args.runs[0], args.max_samples)
    gold = [np.asarray(r["keep"], dtype=bool) for r in rows]
    ok = [i for i, r in enumerate(rows) if len(gold[i]) == len(split_words(r["original"]))]
    rows, gold = [rows[i] for i in ok], [gold[i] for i in ok]
    budgets = [int(r["compressed_tokens"]) for r in rows]
    counter = TokenCounter("local/gemma3-270m", cache)
    results: list[dict[str, Any]] = [
        {"method": "truncate (head)", **prf(head_masks(rows, counter, budgets), gold)},
        {"method": "random words", **prf(random_masks(gold), gold)},
    ]
    tmp = Path(tempfile.mkdtemp(prefix="fidelity-"))
    variants: list[tuple[str, Path, str | None]] = []
    for run in args.runs:
        adapter = run / "train" / "adapter"
        meta = ClassifierMeta.read(adapter)
        layers = meta.encoder_layers or "all"
        label = f"{run.name}: {layers} layers, {meta.quantize}"
        variants.append((label, adapter, None))
        if meta.quantize == "none":
            variants.append((f"{run.name}: {layers} layers, int8", adapter, "int8"))
    first = args.runs[0] / "train" / "adapter"
    if ClassifierMeta.read(first).encoder_layers in (None, 6):
        variants.append((f"{args.runs[0].name}: first 2 of its layers, int8", fast_copy(first, tmp), None))
    for label, adapter, quantize in variants:
        comp = load_classifier(adapter, ClassifierMeta.read(adapter), quantize=quantize)
        t0 = time.perf_counter()
        pred = masks_of(comp, rows, budgets, counter)
        results.append({"method": label, **prf(pred, gold), "seconds": time.perf_counter() - t0})
        print(f"{label}: {results[-1]}", file=sys.stderr)
    kept = sum(int(g.sum()) for g in gold) / max(1, sum(len(g) for g in gold))
    out = {
        "runs": [str(r) for r in args.runs],
        "texts": len(rows),
        "teacher_kept_share": kept,
        "results": results,
    }
    (HERE / "fidelity.json").write_text(json.dumps(out, indent=2))
    print(f"{len(rows)} held-out texts; the teacher kept {kept:.1%} of their words\n")
    print("| method | precision | recall | F1 | seconds (all texts) |")
    print("|---|---:|---:|---:|---:|")
    for r in results:
        secs = f"{r['seconds']:.1f}" if "seconds" in r else ""
        print(f"| {r['method']} | {r['precision']:.3f} | {r['recall']:.3f} | {r['f1']:.3f} | {secs} |")


if __name__ == "__main__":
    main()
