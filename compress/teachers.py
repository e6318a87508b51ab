"""Teachers write the compressed side of each pair. A registry keyed by `teacher.kind`.

- `selfinfo`: local and extractive (Selective Context): keep the units whose tokens the bundled
  model finds most informative (highest mean -log p) until `rate` of the tokens are kept.
- `llm`: any LiteLLM model (the local one included) rewrites the text under the domain's instruction.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError
from rich.progress import track

from compress.errors import CompressError
from compress.facts import protected_spans
from compress.llm.client import ChatRequest, LLMSession


@dataclass
class TeacherOutput:
    """The compressed text and the seconds the teacher spent on it."""

    compressed: str
    seconds: float


_WORD_UNIT = re.compile(r"\S+\s*")
_LINE_UNIT = re.compile(r"[^\n]*\n|[^\n]+$")


def split_units(text: str, unit: str) -> list[tuple[int, int]]:
    """Character spans of the extractive units (words with their trailing space, or lines)."""
    pattern = _LINE_UNIT if unit == "line" else _WORD_UNIT
    return [m.span() for m in pattern.finditer(text) if m.end() > m.start()]


def select_units(
    spans: list[tuple[int, int]], scores: list[float], costs: list[int], rate: float
) -> list[int]:
    """Indices of the units to keep, in text order: every protected unit (score +inf), then the best
    scored until `rate` of the total cost is kept. Protected units may take the result past the rate."""
    budget = rate * sum(costs)
    kept = [i for i, s in enumerate(scores) if s == float("inf")]
    used = sum(costs[i] for i in kept)
    for i in sorted(range(len(spans)), key=lambda k: -scores[k]):
        if used >= budget:
            break
        if costs[i] == 0 or scores[i] == float("inf"):
            continue
        kept.append(i)
        used += costs[i]
    return sorted(kept)


class SelfInfoTeacher:
    """Token self-information from a local causal LM, aggregated per unit."""

    def __init__(
        self,
        model_name: str,
        cache_dir: Path,
        rate: float,
        unit: str,
        target_tokens: int | None = None,
        protect: list[str] | None = None,
        protect_patterns: list[str] | None = None,
    ) -> None:
        from compress.localmodel import load_hf

        self.tok, self.model = load_hf(model_name, cache_dir)
        self.rate, self.unit, self.target_tokens = rate, unit, target_tokens
        self.protect, self.protect_patterns = list(protect or []), list(protect_patterns or [])
        budget = f"{target_tokens}tok" if target_tokens else f"{rate}"
        self.name = f"selfinfo:{model_name}@{budget}"

    def token_surprisal(self, text: str) -> tuple[list[tuple[int, int]], list[float]]:
        """Offsets and -log p of each token of `text` (the first token gets the mean of the rest)."""
        import torch

        enc = self.tok(text, return_offsets_mapping=True, add_special_tokens=False, return_tensors="pt")
        ids = enc["input_ids"]
        bos = torch.tensor([[self.tok.bos_token_id]])
        full = torch.cat([bos, ids], dim=1)
        with torch.inference_mode():
            logits = self.model(input_ids=full).logits[0, :-1].float()
        logp = torch.log_softmax(logits, dim=-1)
        surprisal = (-logp.gather(1, full[0, 1:, None])[:, 0]).tolist()
        return [tuple(o) for o in enc["offset_mapping"][0].tolist()], surprisal

    def compress_one(
        self, text: str, unit: str | None = None, protect_patterns: list[str] | None = None
    ) -> str:
        """Keep the most informative units of one text (units and protected patterns default to the teacher's)."""
        offsets, surprisal = self.token_surprisal(text)
        spans = split_units(text, unit or self.unit)
        per_unit: list[list[float]] = [[] for _ in spans]
        j = 0
        for (start, _end), s in zip(offsets, surprisal, strict=True):
            while j < len(spans) - 1 and start >= spans[j][1]:
                j += 1
            per_unit[j].append(s)
        scores = [
            sum(v) / len(v) if v and text[a:b].strip() else float("-inf")
            for v, (a, b) in zip(per_unit, spans, strict=True)
        ]
        # protected units (numbers, identifiers, marked code) go first, whatever their information
        patterns = self.protect_patterns if protect_patterns is None else protect_patterns
        guarded = protected_spans(text, self.protect, patterns)
        for i, (a, b) in enumerate(spans):
            if scores[i] > float("-inf") and any(s < b and a < e for s, e in guarded):
                scores[i] = float("inf")
        costs = [len(v) if text[a:b].strip() else 0 for v, (a, b) in zip(per_unit, spans, strict=True)]
        rate = self.rate
        if self.target_tokens:
            rate = min(1.0, self.target_tokens / max(1, len(surprisal)))
        kept = select_units(spans, scores, costs, rate)
        out = "".join(text[spans[i][0] : spans[i][1]] for i in kept)
        return out.strip()

    def __call__(self, texts: list[str], domains: list[Any]) -> list[TeacherOutput]:
        outs = []
        for t, dom in track(
            list(zip(texts, domains, strict=True)), description="selfinfo teacher", transient=True
        ):
            t0 = time.perf_counter()
            outs.append(
                TeacherOutput(
                    self.compress_one(t, str(dom.unit), list(dom.get("protect_patterns") or [])),
                    time.perf_counter() - t0,
                )
            )
        return outs


class TeacherAnswer(BaseModel):
    """The structured answer a teacher must give: the compressed text, nothing else."""

    compressed: str = Field(min_length=1)


STRUCTURED_HINT = 'Reply with JSON only, exactly of the form {"compressed": "<the compressed text>"}.'


def parse_answer(text: str) -> TeacherAnswer | None:
    """The teacher's answer if it holds a valid JSON object of the right shape, else None."""
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        return None
    try:
        return TeacherAnswer.model_validate_json(text[start : end + 1])
    except ValidationError:
        return None


class LLMTeacher:
    """A LiteLLM model rewrites each text under the domain's instruction.

    With `teacher.structured`, the answer must be JSON that parses as `TeacherAnswer`; an answer
    that does not is asked again (showing the model its reply) up to `teacher.parse_retries` times.
    """

    def __init__(self, cfg: Any, llm: LLMSession) -> None:
        self.cfg, self.llm = cfg, llm
        self.structured = bool(cfg.get("structured", False))
        self.name = f"llm:{cfg.model}@{cfg.rate}"

    def _request(self, key: str, messages: list[dict[str, str]]) -> ChatRequest:
        return ChatRequest(
            key=key,
            model=str(self.cfg.model),
            messages=messages,
            max_tokens=int(self.cfg.max_tokens),
            temperature=float(self.cfg.temperature),
        )

    def __call__(self, texts: list[str], domains: list[Any]) -> list[TeacherOutput]:
        pct = round(100 * float(self.cfg.rate))
        hint = f" Aim for about {pct}% of the original length." + (
            " " + STRUCTURED_HINT if self.structured else ""
        )
        convs = [
            [
                {"role": "system", "content": str(dom.instruction) + hint},
                {"role": "user", "content": f"Text:\n{t}"},
            ]
            for t, dom in zip(texts, domains, strict=True)
        ]
        t0 = time.perf_counter()
        results = self.llm.run_many(
            [self._request(str(i), c) for i, c in enumerate(convs)], label=f"teacher {self.cfg.model}"
        )
        answers: dict[int, str] = {}
        pending: dict[int, str] = {}
        for i, r in enumerate(results):
            if not self.structured:
                answers[i] = r.text.strip()
            elif (parsed := parse_answer(r.text)) is not None:
                answers[i] = parsed.compressed.strip()
            else:
                pending[i] = r.text
        for attempt in range(int(self.cfg.get("parse_retries", 2))):
            if not pending:
                break
            retry = {
                i: [
                    *convs[i],
                    {"role": "assistant", "content": bad},
                    {"role": "user", "content": f"That was not valid. {STRUCTURED_HINT}"},
                ]
                for i, bad in pending.items()
            }
            again = self.llm.run_many(
                [self._request(f"{i}:retry{attempt}", c) for i, c in retry.items()], label="teacher (reparse)"
            )
            pending = {}
            for i, r in zip(retry, again, strict=True):
                if (parsed := parse_answer(r.text)) is not None:
                    answers[i] = parsed.compressed.strip()
                else:
                    convs[i], pending[i] = retry[i], r.text
        if pending:
            raise CompressError(
                f'teacher {self.cfg.model} gave no answer parsing as {{"compressed": ...}} for {len(pending)} of '
                f"{len(texts)} samples (e.g. {next(iter(pending.values()))[:120]!r}) after "
                f"{int(self.cfg.get('parse_retries', 2))} retries. Every answer is cached: rerun with "
                "teacher.parse_retries raised, or teacher.structured=false for a model that cannot emit JSON."
            )
        per = (time.perf_counter() - t0) / max(1, len(texts))
        return [TeacherOutput(answers[i], per) for i in range(len(texts))]


TEACHERS: dict[
    str, Callable[[Any, Any, Path, LLMSession], Callable[[list[str], list[Any]], list[TeacherOutput]]]
] = {
    "selfinfo": lambda cfg, domain, cache, llm: SelfInfoTeacher(
        _local_name(cfg.teacher.model),
        cache,
        float(cfg.teacher.rate),
        str(domain.unit),
        target_tokens=cfg.teacher.get("target_tokens"),
        protect=list(cfg.teacher.get("protect") or []),
        protect_patterns=list(domain.get("protect_patterns") or []),
    ),
    "llm": lambda cfg, domain, cache, llm: LLMTeacher(cfg.teacher, llm),
}


def _local_name(name: str) -> str:
    from compress.localmodel import LOCAL_MODELS

    if name not in LOCAL_MODELS:
        raise CompressError(
            f"teacher=selfinfo scores tokens with a bundled model; teacher.model={name!r} is not one of "
            f"{sorted(LOCAL_MODELS)}. Set teacher.model=gemma3-270m."
        )
    return name


def make_teacher(cfg: Any, cache_dir: Path, llm: LLMSession) -> Any:
    """The configured teacher (raises CompressError for an unknown kind)."""
    kind = str(cfg.teacher.kind)
    if kind not in TEACHERS:
        raise CompressError(f"teacher.kind={kind!r} is unknown. Choose one of {sorted(TEACHERS)}.")
    return TEACHERS[kind](cfg, cfg.domain, cache_dir, llm)
