"""Compressor kinds, keyed by `compressor.name` (conf/compressor/): what the train stage makes and
how the evaluate stage budgets and places it.

- `generative`: a LoRA-tuned LM that rewrites the text, trained by the configured backend; it writes
  the length it learned, so a budget only caps it;
- `classifier`: a keep/drop token classifier on an encoder (`compress.algorithms.compressors.classifier`); it
  meets any budget in the target model's tokens, so the rate sweep runs it at every rate.

A new kind is a class implementing `CompressorKind` and an entry in `KINDS`, with a
`conf/compressor/<name>.yaml` and its schema (`compress.algorithms.compressors.config` says how);
`compress.library.trained.load_trained` loads what it saves by the `kind` in its `compressor.json`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from compress.algorithms.backends import get_backend
from compress.algorithms.compressors.base import tokens_at
from compress.algorithms.compressors.classifier import train_classifier
from compress.algorithms.compressors.config import ClassifierConfig, SelectorConfig
from compress.algorithms.compressors.selector import train_selector
from compress.algorithms.teachers.base import effective_rate
from compress.infra.errors import CompressError
from compress.infra.training.device import cuda_available

Log = Callable[[dict[str, Any], int], None]


class CompressorKind(Protocol):
    """A kind of trained compressor: how it trains, what budget a held-out text gets, where it runs."""

    name: str
    # meets a requested token budget (the rate sweep runs it at each evaluate.rates)
    rate_controlled: bool

    def train(
        self, cfg: Any, rows: list[dict[str, Any]], out: Path, cache: Path, log: Log, held_out: set[str]
    ) -> dict[str, Any]:
        """Train on weighted rows and save `out/adapter`; returns {"history": [...], "metrics": {...}}.
        `held_out`: the normalised texts the evaluation holds out (a kind that draws its own training
        texts from corpora must not draw these)."""
        ...

    def budget(self, cfg: Any, n_tokens: int, teacher_tokens: int | None = None) -> int:
        """The token budget of a text of `n_tokens` (the teacher's output had `teacher_tokens`)."""
        ...

    def inference_device(self, cfg: Any) -> tuple[str, str]:
        """(torch device, dtype) it is evaluated on here."""
        ...


class Generative:
    """The LoRA LM: trained by `backend.name`, capped at the text's length (at most max_new_tokens)."""

    name = "generative"
    rate_controlled = False

    def train(
        self, cfg: Any, rows: list[dict[str, Any]], out: Path, cache: Path, log: Log, held_out: set[str]
    ) -> dict[str, Any]:
        """LoRA training on the configured backend (on the train split's pairs only)."""
        result: dict[str, Any] = get_backend(str(cfg.backend.name)).train(cfg, rows, out, cache, log)
        return result

    def budget(self, cfg: Any, n_tokens: int, teacher_tokens: int | None = None) -> int:
        """A cap, not a target: it writes its own length, never much longer than the input."""
        return min(int(cfg.evaluate.max_new_tokens), n_tokens + 8)

    def inference_device(self, cfg: Any) -> tuple[str, str]:
        """Where the backend evaluates its adapters."""
        return get_backend(str(cfg.backend.name)).inference_device(cfg)


class Classifier:
    """The token classifier: held to the teacher's achieved tokens per sample (its rate elsewhere)."""

    name = "classifier"
    rate_controlled = True

    def train(
        self, cfg: Any, rows: list[dict[str, Any]], out: Path, cache: Path, log: Log, held_out: set[str]
    ) -> dict[str, Any]:
        """Distil the teacher's keep masks into the encoder (`train_classifier`; the train split only)."""
        return train_classifier(cfg, rows, out, cache, log)

    def budget(self, cfg: Any, n_tokens: int, teacher_tokens: int | None = None) -> int:
        """The teacher's own tokens for that sample, else the teacher's rate of the text."""
        if teacher_tokens is not None:
            return max(1, int(teacher_tokens))
        t = cfg.teacher
        return tokens_at(
            effective_rate(float(t.get("rate", 0.5)), t.get("target_tokens"), n_tokens), n_tokens
        )

    def inference_device(self, cfg: Any) -> tuple[str, str]:
        """CUDA when `compressor.device` allows and there is one, else the CPU; float32 weights
        (CUDA runs them under bfloat16 autocast)."""
        return _encoder_device(ClassifierConfig.of(cfg.compressor).device)


class Selector:
    """The unit selector: its default rate of each text (the rate sweep holds it to every rate)."""

    name = "selector"
    rate_controlled = True

    def train(
        self, cfg: Any, rows: list[dict[str, Any]], out: Path, cache: Path, log: Log, held_out: set[str]
    ) -> dict[str, Any]:
        """Answer-following labels from corpora (never a held-out text), then the encoder (`train_selector`)."""
        return train_selector(cfg, rows, out, cache, log, held_out)

    def budget(self, cfg: Any, n_tokens: int, teacher_tokens: int | None = None) -> int:
        """`compressor.rate` of the text: the selector learns no length from the teacher."""
        return tokens_at(float(cfg.compressor.rate), n_tokens)

    def inference_device(self, cfg: Any) -> tuple[str, str]:
        """As the classifier, from the selector's own `compressor.device`."""
        return _encoder_device(SelectorConfig.of(cfg.compressor).device)


def _encoder_device(pref: str) -> tuple[str, str]:
    return ("cuda" if pref in {"auto", "cuda"} and cuda_available() else "cpu"), "float32"


KINDS: dict[str, CompressorKind] = {
    "generative": Generative(),
    "classifier": Classifier(),
    "selector": Selector(),
}


def compressor_kind(cfg: Any) -> CompressorKind:
    """The kind the job config chooses (`compressor.name`)."""
    name = str(cfg.compressor.name)
    if name not in KINDS:
        raise CompressError(f"compressor={name!r} is unknown. Choose one of {sorted(KINDS)}.")
    return KINDS[name]
