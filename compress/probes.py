"""Cross-model equivalence: validators answer probe tasks on the original and on the compressed text.

A pair's score for one model is the domain metric over that model's answers; the pair's score is
the minimum over models, and it passes only if that minimum clears the threshold.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from compress.llm.client import ChatRequest, run_chat_many
from compress.metrics import equivalence


def probe_messages(text: str, probe: str) -> list[dict[str, str]]:
    """The question a validator answers about a text."""
    return [{"role": "user", "content": f"Text:\n{text}\n\nQuestion: {probe}"}]


def _key(model: str, text: str, probe: str) -> str:
    return hashlib.sha256(f"{model}\0{probe}\0{text}".encode()).hexdigest()


def answer_all(texts: list[str], val_cfg: Any, probes: list[str], label: str) -> dict[str, str]:
    """Every validator's answer to every probe on every distinct text, keyed by (model, probe, text) hash."""
    reqs: dict[str, ChatRequest] = {}
    for model in val_cfg.models:
        for text in dict.fromkeys(texts):
            for probe in probes:
                k = _key(str(model), text, probe)
                reqs[k] = ChatRequest(
                    key=k,
                    model=str(model),
                    messages=probe_messages(text, probe),
                    max_tokens=int(val_cfg.max_answer_tokens),
                    temperature=float(val_cfg.temperature),
                    stop=list(val_cfg.get("stop") or []),
                )
    results = run_chat_many(list(reqs.values()), int(val_cfg.concurrency), label=label)
    first = bool(val_cfg.get("first_paragraph", False))
    return {r.key: _first_paragraph(r.text) if first else r.text.strip() for r in results}


def _first_paragraph(text: str) -> str:
    """The first non-blank paragraph: a base model rambles on after its answer."""
    return text.strip().split("\n\n")[0].strip()


@dataclass
class PairScore:
    """One pair's equivalence under every validator model."""

    model_scores: list[float]
    min_score: float
    answers_original: list[str]
    answers_compressed: list[str]


def score_pairs(
    originals: list[str],
    compressed: list[str],
    answers: dict[str, str],
    val_cfg: Any,
    domain_cfg: Any,
    probes: list[str],
) -> list[PairScore]:
    """Score each (original, compressed) pair with the domain metric under each validator model."""
    weights = {k: float(v) for k, v in domain_cfg.metric.items()}
    out = []
    for o, c in zip(originals, compressed, strict=True):
        scores, all_o, all_c = [], [], []
        for model in val_cfg.models:
            ans_o = [answers[_key(str(model), o, p)] for p in probes]
            ans_c = [answers[_key(str(model), c, p)] for p in probes]
            scores.append(equivalence(str(domain_cfg.name), weights, o, c, ans_o, ans_c))
            all_o += [f"[{model}] {a}" for a in ans_o]
            all_c += [f"[{model}] {a}" for a in ans_c]
        out.append(PairScore(scores, float(min(scores)), all_o, all_c))
    return out


def per_model_summary(models: list[str], scores: list[PairScore], threshold: float) -> dict[str, Any]:
    """Mean score and pass rate per model, the worst model, and the min-over-models pass rate."""
    summary: dict[str, Any] = {}
    means = {}
    for i, m in enumerate(models):
        col = np.array([s.model_scores[i] for s in scores])
        means[m] = float(col.mean()) if len(col) else 0.0
        summary[f"score_mean/{m}"] = means[m]
        summary[f"pass_rate/{m}"] = float((col >= threshold).mean()) if len(col) else 0.0
    mins = np.array([s.min_score for s in scores])
    summary["min_score_mean"] = float(mins.mean()) if len(mins) else 0.0
    summary["pass_rate"] = float((mins >= threshold).mean()) if len(mins) else 0.0
    summary["worst_model"] = min(means, key=lambda k: means[k]) if means else ""
    return summary
