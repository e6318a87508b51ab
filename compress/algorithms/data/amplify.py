"""Seed amplification (as nanodistill does): from a few user examples, an LLM writes more inputs of
the same kind. New inputs join the train split only (never the held-out ones) and are deduplicated
against the seeds and each other, exactly and by word overlap."""

from __future__ import annotations

import re
from dataclasses import dataclass

from compress.algorithms.data.corpora import stable_hash
from compress.algorithms.text.words import jaccard
from compress.infra.llm.client import ChatRequest, LLMSession

PROMPT = (
    "Here is an example of an input:\n---\n{seed}\n---\n"
    "Write one new input of the same kind, style and length, about a different subject (variant {k}). "
    "Answer with the new input only."
)


@dataclass
class Amplified:
    """New samples and what happened to the requests."""

    rows: list[dict[str, str]]
    requested: int
    duplicates: int
    empty: int


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def amplify(
    llm: LLMSession,
    seeds: list[dict[str, str]],
    factor: int,
    model: str,
    temperature: float,
    max_tokens: int,
    near_dup: float = 0.8,
) -> Amplified:
    """`factor` new inputs per seed sample, deduplicated; each keeps its seed's domain, split `train`."""
    reqs = [
        ChatRequest(
            key=f"{s['id']}:{k}",
            model=model,
            messages=[{"role": "user", "content": PROMPT.format(seed=s["text"], k=k + 1)}],
            max_tokens=max_tokens,
            temperature=temperature,
        )
        for s in seeds
        for k in range(factor)
    ]
    results = llm.run_many(reqs, label="amplify seeds")
    seen = {_norm(s["text"]) for s in seeds}
    kept_texts = [s["text"] for s in seeds]
    rows, dups, empty = [], 0, 0
    by_id = {s["id"]: s for s in seeds}
    for req, res in zip(reqs, results, strict=True):
        text = res.text.strip()
        if not text:
            empty += 1
            continue
        if _norm(text) in seen or any(jaccard(text, other) >= near_dup for other in kept_texts):
            dups += 1
            continue
        seen.add(_norm(text))
        kept_texts.append(text)
        seed = by_id[req.key.rsplit(":", 1)[0]]
        rows.append(
            {
                "id": stable_hash("augment:" + text),
                "domain": seed["domain"],
                "source": f"augment:{seed['id']}",
                "split": "train",
                "text": text,
            }
        )
    return Amplified(rows, len(reqs), dups, empty)
