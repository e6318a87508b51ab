"""The validation gates: validators answer probe tasks on the original and on the compressed text.

Equivalence gate: a pair's score for one model is the domain metric over that model's answers; the
pair's score is the minimum over models, and it passes only if that minimum clears the threshold.
Facts gate: the text's fact recall and the answers' fact agreement, per model. Judge gate: an LLM's
yes/no verdict on whether the shortened text keeps every fact.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from compress.algorithms.metrics.equivalence import equivalence
from compress.algorithms.metrics.facts import answer_fact_agreement, fact_recall
from compress.infra.llm.client import ChatRequest, LLMSession


def probe_messages(text: str, probe: str) -> list[dict[str, str]]:
    """The question a validator answers about a text (the text first: every question about one text
    shares that prefix, so a local engine reuses its cache for the text)."""
    return [{"role": "user", "content": f"Text:\n{text}\n\nQuestion: {probe}"}]


def question_key(model: str, text: str, question: str) -> str:
    """The key of one model's answer to one question about one text."""
    return hashlib.sha256(f"{model}\0{question}\0{text}".encode()).hexdigest()


def probe_requests(texts: list[str], probes: list[list[str]], val_cfg: Any) -> dict[str, list[ChatRequest]]:
    """Per text, every validator's probe requests (keyed by `question_key`), the text's in a row."""
    out: dict[str, list[ChatRequest]] = {}
    for text, text_probes in zip(texts, probes, strict=True):
        reqs = out.setdefault(text, [])
        for model in val_cfg.models:
            for probe in text_probes:
                reqs.append(
                    ChatRequest(
                        key=question_key(str(model), text, probe),
                        model=str(model),
                        messages=probe_messages(text, probe),
                        max_tokens=int(val_cfg.max_answer_tokens),
                        temperature=float(val_cfg.temperature),
                        stop=list(val_cfg.get("stop") or []),
                    )
                )
    return out


def run_grouped(llm: LLMSession, groups: list[dict[str, list[ChatRequest]]], label: str) -> dict[str, str]:
    """Every request of `groups` (each: text -> its requests), the questions about one text back to back
    and each asked once; the answers by request key, as the models gave them."""
    ordered: dict[str, ChatRequest] = {}
    for text in dict.fromkeys(t for g in groups for t in g):
        for g in groups:
            for req in g.get(text, []):
                ordered.setdefault(req.key, req)
    # each model's questions together: a local engine then switches models least
    reqs = sorted(ordered.values(), key=lambda r: r.model)
    return {r.key: r.text for r in llm.run_many(reqs, label=label)}


def clean_answer(text: str, val_cfg: Any) -> str:
    """An answer as the equivalence metric reads it (the first paragraph when configured)."""
    return _first_paragraph(text) if val_cfg.get("first_paragraph", False) else text.strip()


def answer_all(
    llm: LLMSession, texts: list[str], probes: list[list[str]], val_cfg: Any, label: str
) -> dict[str, str]:
    """Every validator's answer to each text's probes, keyed by (model, probe, text) hash; repeats asked once."""
    raw = run_grouped(llm, [probe_requests(texts, probes, val_cfg)], label)
    return {k: clean_answer(v, val_cfg) for k, v in raw.items()}


def _first_paragraph(text: str) -> str:
    """The first non-blank paragraph: a base model rambles on after its answer."""
    return text.strip().split("\n\n")[0].strip()


@dataclass
class PairScore:
    """One pair's scores under every validator model: equivalence and facts gates."""

    model_scores: list[float]
    min_score: float
    fact_recall: float
    model_fact_scores: list[float]
    facts_min: float
    answers_original: list[str]
    answers_compressed: list[str]


def score_pairs(
    originals: list[str],
    compressed: list[str],
    answers: dict[str, str],
    val_cfg: Any,
    domains: list[Any],
    probes: list[list[str]],
) -> list[PairScore]:
    """Score each pair with its domain's metric and the fact check, per validator model.

    The facts score of a model is the mean of the text's fact recall (model-free) and the share of
    facts in that model's answers on the original that its answers on the compressed text repeat.
    """
    out = []
    for o, c, dom, pair_probes in zip(originals, compressed, domains, probes, strict=True):
        weights = {k: float(v) for k, v in dom.metric.items()}
        scores, fact_scores, all_o, all_c = [], [], [], []
        recall = fact_recall(o, c)
        for model in val_cfg.models:
            ans_o = [answers[question_key(str(model), o, p)] for p in pair_probes]
            ans_c = [answers[question_key(str(model), c, p)] for p in pair_probes]
            scores.append(equivalence(str(dom.name), weights, o, c, ans_o, ans_c))
            fact_scores.append(0.5 * recall + 0.5 * answer_fact_agreement(ans_o, ans_c))
            all_o += [f"[{model}] {a}" for a in ans_o]
            all_c += [f"[{model}] {a}" for a in ans_c]
        out.append(
            PairScore(scores, float(min(scores)), recall, fact_scores, float(min(fact_scores)), all_o, all_c)
        )
    return out


JUDGE_QUESTION = (
    "Does the shortened text keep every fact of the original text, so that questions about the original "
    "get the same answers from it? Answer yes or no."
)
_VERDICT = re.compile(r"\b(yes|no)\b", re.IGNORECASE)


def parse_verdict(text: str) -> float | None:
    """1.0 for yes, 0.0 for no, None when the judge said neither."""
    m = _VERDICT.search(text)
    return None if m is None else float(m.group(1).lower() == "yes")


def judge_pairs(
    llm: LLMSession, originals: list[str], compressed: list[str], judge_cfg: Any
) -> tuple[list[list[float]], int]:
    """Each judge model's verdict on each pair (unparseable verdicts count as no); returns verdicts and unparsed count."""
    reqs = [
        ChatRequest(
            key=f"{m}:{i}",
            model=str(m),
            messages=[
                {
                    "role": "user",
                    "content": f"Original text:\n{o}\n\nShortened text:\n{c}\n\nQuestion: {JUDGE_QUESTION}",
                }
            ],
            max_tokens=int(judge_cfg.max_tokens),
            temperature=0.0,
            stop=list(judge_cfg.get("stop") or []),
        )
        for i, (o, c) in enumerate(zip(originals, compressed, strict=True))
        for m in judge_cfg.models
    ]
    results = {r.key: r.text for r in llm.run_many(reqs, label="judge")}
    verdicts, unparsed = [], 0
    for i in range(len(originals)):
        row = []
        for m in judge_cfg.models:
            v = parse_verdict(results[f"{m}:{i}"])
            unparsed += v is None
            row.append(0.0 if v is None else v)
        verdicts.append(row)
    return verdicts, unparsed


def rate_by_model(models: list[str], per_pair: list[list[float]], threshold: float) -> dict[str, float]:
    """Pass rate of each model's score, and of the min over models (`all`)."""
    arr = np.array(per_pair, dtype=float).reshape(len(per_pair), len(models))
    out = {m: float((arr[:, i] >= threshold).mean()) if len(arr) else 0.0 for i, m in enumerate(models)}
    out["all"] = float((arr.min(axis=1) >= threshold).mean()) if len(arr) else 0.0
    return out


def per_model_summary(models: list[str], scores: list[PairScore], threshold: float) -> dict[str, Any]:
    """Mean score and pass rate per model, the worst model, and the min-over-models pass rate (equivalence gate)."""
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
