"""Compare two runs of the pipeline stage by stage: fingerprints, trained adapters, every evaluated row
(compressed text and scores per method and sample) and the evaluate summary (latency fields aside).

    python experiments/before_after/compare.py RUN_BEFORE RUN_AFTER
"""

from __future__ import annotations

import filecmp
import json
import sys
from pathlib import Path
from typing import Any

from datasets import load_from_disk

LATENCY = ("latency", "compressor_fixed_s", "compressor_s_per_1k", "break_even_tokens", "target_s_saved")


def _plain(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items() if not any(t in k for t in LATENCY)}
    if isinstance(x, list):
        return [_plain(v) for v in x]
    return x


def _diff(a: Any, b: Any, path: str, out: list[str]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                out.append(f"{path}/{k}: only in {'after' if k in b else 'before'}")
            else:
                _diff(a[k], b[k], f"{path}/{k}", out)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (u, v) in enumerate(zip(a, b, strict=True)):
            _diff(u, v, f"{path}[{i}]", out)
    elif a != b:
        out.append(f"{path}: {a!r} -> {b!r}")


def _row_of(summary: dict[str, Any], path: str) -> str:
    """The method (and baseline) a summary path belongs to."""
    top = path.split("/")[1]
    key, _, rest = top.partition("[")
    entry = summary[key][int(rest.rstrip("]"))] if rest else summary[key]
    if isinstance(entry, dict):
        return f"{key}: " + " vs ".join(str(entry[k]) for k in ("method", "baseline", "model") if k in entry)
    return key


def main(before: Path, after: Path) -> None:
    """Print what differs between the two runs."""
    for stage in ("generate", "validate", "train", "evaluate"):
        fa, fb = (json.loads((r / stage / "_DONE.json").read_text())["fingerprint"] for r in (before, after))
        print(f"{stage:9} {fa} {fb} {'same' if fa == fb else 'DIFFERENT'}")
    adapters = [before / "train" / "adapter", after / "train" / "adapter"]
    weights = [p for p in adapters[0].iterdir() if p.suffix in {".safetensors", ".gguf"}]
    same = all(filecmp.cmp(p, adapters[1] / p.name, shallow=False) for p in weights)
    print(f"adapter   {'identical' if same else 'DIFFERENT'} ({', '.join(p.name for p in weights)})")
    ea, eb = (load_from_disk(str(r / "evaluate" / "eval")) for r in (before, after))
    print(f"evaluated rows: {len(ea)} before, {len(eb)} after")
    for ra, rb in zip(ea, eb, strict=True):
        if ra["compressed"] != rb["compressed"] or ra["model_scores"] != rb["model_scores"]:
            print(
                f"  {ra['method']} sample {ra['id'][:8]}: {ra['compressed_tokens']} -> {rb['compressed_tokens']} "
                f"of {ra['original_tokens']} tokens, scores {ra['model_scores']} -> {rb['model_scores']}, "
                f"cloze {ra['cloze_correct']} -> {rb['cloze_correct']}"
            )
    sa, sb = (json.loads((r / "evaluate" / "summary.json").read_text()) for r in (before, after))
    out: list[str] = []
    _diff(_plain(sa), _plain(sb), "", out)
    rows = sorted({_row_of(sa, p.split(":")[0]) for p in out if "only in" not in p})
    print(f"summary: {len(out)} values differ, in these rows: {rows or 'none'}")
    for line in out:
        if "only in" in line:
            print("  " + line)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
