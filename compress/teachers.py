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

from rich.progress import track

from compress.errors import CompressError
from compress.llm.client import ChatRequest, run_chat_many


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
    """Indices of the units to keep: best score first until `rate` of the total cost is kept, in text order."""
    total = sum(costs)
    budget = rate * total
    kept: list[int] = []
    used = 0
    for i in sorted(range(len(spans)), key=lambda k: -scores[k]):
        if used >= budget:
            break
        if costs[i] == 0:
            continue
        kept.append(i)
        used += costs[i]
    return sorted(kept)


class SelfInfoTeacher:
    """Token self-information from a local causal LM, aggregated per unit."""

    def __init__(self, model_name: str, cache_dir: Path, rate: float, unit: str) -> None:
        from compress.localmodel import load_hf

        self.tok, self.model = load_hf(model_name, cache_dir)
        self.rate, self.unit = rate, unit
        self.name = f"selfinfo:{model_name}@{rate}"

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

    def compress_one(self, text: str) -> str:
        """Keep the most informative units of one text."""
        offsets, surprisal = self.token_surprisal(text)
        spans = split_units(text, self.unit)
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
        costs = [len(v) if text[a:b].strip() else 0 for v, (a, b) in zip(per_unit, spans, strict=True)]
        kept = select_units(spans, scores, costs, self.rate)
        out = "".join(text[spans[i][0] : spans[i][1]] for i in kept)
        return out.strip()

    def __call__(self, texts: list[str]) -> list[TeacherOutput]:
        outs = []
        for t in track(texts, description="selfinfo teacher", transient=True):
            t0 = time.perf_counter()
            outs.append(TeacherOutput(self.compress_one(t), time.perf_counter() - t0))
        return outs


class LLMTeacher:
    """A LiteLLM model rewrites each text under the domain's instruction."""

    def __init__(self, cfg: Any, instruction: str) -> None:
        self.cfg, self.instruction = cfg, instruction
        self.name = f"llm:{cfg.model}@{cfg.rate}"

    def __call__(self, texts: list[str]) -> list[TeacherOutput]:
        pct = round(100 * float(self.cfg.rate))
        reqs = [
            ChatRequest(
                key=str(i),
                model=str(self.cfg.model),
                messages=[
                    {
                        "role": "system",
                        "content": f"{self.instruction} Aim for about {pct}% of the original length.",
                    },
                    {"role": "user", "content": f"Text:\n{t}"},
                ],
                max_tokens=int(self.cfg.max_tokens),
                temperature=float(self.cfg.temperature),
            )
            for i, t in enumerate(texts)
        ]
        t0 = time.perf_counter()
        results = run_chat_many(reqs, int(self.cfg.concurrency), label=f"teacher {self.cfg.model}")
        per = (time.perf_counter() - t0) / max(1, len(texts))
        return [TeacherOutput(r.text.strip(), per) for r in results]


TEACHERS: dict[str, Callable[[Any, Any, Path], Callable[[list[str]], list[TeacherOutput]]]] = {
    "selfinfo": lambda cfg, domain, cache: SelfInfoTeacher(
        _local_name(cfg.teacher.model), cache, float(cfg.teacher.rate), str(domain.unit)
    ),
    "llm": lambda cfg, domain, cache: LLMTeacher(cfg.teacher, str(domain.instruction)),
}


def _local_name(name: str) -> str:
    from compress.localmodel import LOCAL_MODELS

    if name not in LOCAL_MODELS:
        raise CompressError(
            f"teacher=selfinfo scores tokens with a bundled model; teacher.model={name!r} is not one of "
            f"{sorted(LOCAL_MODELS)}. Set teacher.model=gemma3-270m."
        )
    return name


def make_teacher(cfg: Any, cache_dir: Path) -> Any:
    """The configured teacher (raises CompressError for an unknown kind)."""
    kind = str(cfg.teacher.kind)
    if kind not in TEACHERS:
        raise CompressError(f"teacher.kind={kind!r} is unknown. Choose one of {sorted(TEACHERS)}.")
    return TEACHERS[kind](cfg, cfg.domain, cache_dir)
