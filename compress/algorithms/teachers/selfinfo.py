"""`teacher.kind=selfinfo`: local and extractive (Selective Context). Keep the units whose tokens the
bundled model finds most informative (highest mean -log p) until `rate` of the tokens are kept."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from compress.algorithms.teachers.base import TeacherOutput, effective_rate
from compress.algorithms.text.patterns import protected_spans
from compress.algorithms.text.units import select_units, split_units
from compress.infra.console import tracked
from compress.infra.errors import CompressError
from compress.infra.llm.client import LLMSession
from compress.infra.models.bundled import LOCAL_MODELS, load_hf

# positions per LM-head call when scoring a text
SCORE_CHUNK = 512


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
        self.tok, self.model = load_hf(model_name, cache_dir)
        self.rate, self.unit, self.target_tokens = rate, unit, target_tokens
        self.protect, self.protect_patterns = list(protect or []), list(protect_patterns or [])
        budget = f"{target_tokens}tok" if target_tokens else f"{rate}"
        self.name = f"selfinfo:{model_name}@{budget}"

    @classmethod
    def from_config(cls, cfg: Any, cache_dir: Path, llm: LLMSession) -> SelfInfoTeacher:
        """The teacher of `cfg.teacher` with the domain's unit and protected patterns."""
        name = str(cfg.teacher.model)
        if name not in LOCAL_MODELS:
            raise CompressError(
                f"teacher=selfinfo scores tokens with a bundled model; teacher.model={name!r} is not one of "
                f"{sorted(LOCAL_MODELS)}. Set teacher.model=gemma3-270m."
            )
        return cls(
            name,
            cache_dir,
            float(cfg.teacher.rate),
            str(cfg.domain.unit),
            target_tokens=cfg.teacher.get("target_tokens"),
            protect=list(cfg.teacher.get("protect") or []),
            protect_patterns=list(cfg.domain.get("protect_patterns") or []),
        )

    @classmethod
    def requirements(cls, cfg: Any) -> list[str]:
        """It scores with a bundled model: `teacher.model` must be one."""
        if cfg.teacher.model in LOCAL_MODELS:
            return []
        return [
            f"generate: teacher=selfinfo scores with a bundled model; teacher.model={cfg.teacher.model!r} "
            f"is not one (bundled: {sorted(LOCAL_MODELS)})."
        ]

    def token_surprisal(self, text: str) -> tuple[list[tuple[int, int]], list[float]]:
        """Offsets and -log p of each token of `text` (the first token gets the mean of the rest)."""
        import torch

        enc = self.tok(text, return_offsets_mapping=True, add_special_tokens=False, return_tensors="pt")
        ids = enc["input_ids"]
        bos = torch.tensor([[self.tok.bos_token_id]])
        full = torch.cat([bos, ids], dim=1)
        # the LM head applied to SCORE_CHUNK positions at a time: the whole text's logits would be
        # tokens x 262k vocabulary floats (17 GB at 16k tokens, twice over with the softmax)
        head = self.model.get_output_embeddings()
        cap = getattr(self.model.config, "final_logit_softcapping", None)
        parts = []
        with torch.inference_mode():
            hidden = self.model.base_model(input_ids=full).last_hidden_state[0, :-1]
            for s in range(0, hidden.shape[0], SCORE_CHUNK):
                logits = head(hidden[s : s + SCORE_CHUNK]).float()
                if cap:
                    logits = torch.tanh(logits / cap) * cap
                logp = torch.log_softmax(logits, dim=-1)
                parts.append(-logp.gather(1, full[0, 1 + s : 1 + s + SCORE_CHUNK, None])[:, 0])
        surprisal = torch.cat(parts).tolist() if parts else []  # an empty text has no tokens to score
        return [tuple(o) for o in enc["offset_mapping"][0].tolist()], surprisal

    def compress_one(
        self, text: str, unit: str | None = None, protect_patterns: list[str] | None = None
    ) -> str:
        """Keep the most informative units of one text (units and protected patterns default to the teacher's)."""
        offsets, surprisal = self.token_surprisal(text)
        return self.select(text, offsets, surprisal, unit, protect_patterns)

    def select(
        self,
        text: str,
        offsets: list[tuple[int, int]],
        surprisal: list[float],
        unit: str | None = None,
        protect_patterns: list[str] | None = None,
    ) -> str:
        """The units of `text` to keep at this teacher's rate, given its tokens' surprisal (scored once,
        selected at as many budgets as asked)."""
        return self.select_spans(text, offsets, surprisal, unit, protect_patterns)[0]

    def select_spans(
        self,
        text: str,
        offsets: list[tuple[int, int]],
        surprisal: list[float],
        unit: str | None = None,
        protect_patterns: list[str] | None = None,
    ) -> tuple[str, list[tuple[int, int]]]:
        """`select`'s text and the character spans of the units it kept (the exact keep mask)."""
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
        kept = select_units(
            spans, scores, costs, effective_rate(self.rate, self.target_tokens, len(surprisal))
        )
        out = "".join(text[spans[i][0] : spans[i][1]] for i in kept)
        return out.strip(), [spans[i] for i in kept]

    def __call__(self, texts: list[str], domains: list[Any]) -> list[TeacherOutput]:
        """Compress each text with its domain's unit and protected patterns."""
        outs = []
        for t, dom in tracked(list(zip(texts, domains, strict=True)), "selfinfo teacher", unit="texts"):
            t0 = time.perf_counter()
            offsets, surprisal = self.token_surprisal(t)
            text, kept = self.select_spans(
                t, offsets, surprisal, str(dom.unit), list(dom.get("protect_patterns") or [])
            )
            outs.append(TeacherOutput(text, time.perf_counter() - t0, kept))
        return outs
