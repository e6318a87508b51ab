"""The one terminal console every command prints to (stderr, so stdout stays the command's output)."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

T = TypeVar("T")

# a fixed width when not on a terminal: logs and CI output keep whole table rows
console = Console(stderr=True, width=None if Console(stderr=True).is_terminal else 160)


@contextmanager
def quiet_transformers() -> Iterator[None]:
    """transformers' load reports, progress bars and warnings held back inside the block: what they
    say (a sentence-embedding checkpoint loaded under a token-classification head has no head yet)
    means nothing to the user; the caller prints one line that does."""
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
        if bars:
            hf_logging.enable_progress_bar()


@contextmanager
def native_stderr_quiet() -> Iterator[None]:
    """What native code writes to the process's stderr (file descriptor 2) inside the block is held
    back: llama.cpp logs how it sets up a context there whatever its `verbose` flag says. When the
    block raises, what was held back is written out first, so a failure keeps its native reasons."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            held.seek(0)
            os.write(2, held.read())
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


class Steps:
    """Progress of a long loop: a bar on a terminal; where the output is a file or a CI log, one plain
    line every `every` of the way (10 %) or `every_s` seconds, whichever comes first, so a log shows
    the stage moving. `fields` (a loss, say) are shown beside the count.

        with Steps("train selector", total=453, unit="steps") as steps:
            for ...:
                steps.advance(loss=0.31)
    """

    def __init__(self, label: str, total: int, unit: str = "", every: float = 0.1, every_s: float = 30.0):
        self.label, self.total, self.unit = label, max(0, int(total)), unit
        self.every, self.every_s = every, every_s
        self.done = 0
        self.fields: dict[str, Any] = {}
        self._bar: Progress | None = None
        self._task: Any = None
        self._t0 = self._last_t = time.monotonic()
        self._last_done = 0

    def __enter__(self) -> Steps:
        self._t0 = self._last_t = time.monotonic()
        if console.is_terminal:
            self._bar = Progress(
                TextColumn(self.label),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[note]}"),
                TimeElapsedColumn(),
                console=console,
                transient=True,
            )
            self._bar.__enter__()
            self._task = self._bar.add_task(self.label, total=self.total, note="")
        return self

    def advance(self, n: int = 1, **fields: Any) -> None:
        """`n` more steps done (`fields`: figures to show beside the count)."""
        self.done += n
        self.fields |= fields
        if self._bar is not None:
            self._bar.update(self._task, advance=n, note=self._note())
            return
        now = time.monotonic()
        step = max(1, int(self.total * self.every))
        if (
            self.done >= self.total
            or self.done - self._last_done >= step
            or now - self._last_t >= self.every_s
        ):
            self._line(now)

    def _note(self) -> str:
        return " ".join(
            f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in self.fields.items()
        )

    def _line(self, now: float) -> None:
        self._last_done, self._last_t = self.done, now
        elapsed = now - self._t0
        share = self.done / self.total if self.total else 1.0
        left = f", about {_clock(elapsed / share - elapsed)} left" if 0 < share < 1 else ""
        note = f", {self._note()}" if self.fields else ""
        console.print(
            f"{self.label}: {self.done}/{self.total} {self.unit}".rstrip()
            + f" ({share:.0%}){note}, {_clock(elapsed)}{left}",
            highlight=False,
        )

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
        elif self.done != self._last_done:
            self._line(time.monotonic())


def tracked(items: Iterable[T], label: str, total: int | None = None, unit: str = "") -> Iterator[T]:
    """`items` one by one, with `Steps` progress (`total`: their number, when `items` has no len)."""
    seq = items if total is not None else list(items)
    with Steps(label, total if total is not None else len(seq), unit) as steps:  # type: ignore[arg-type]
        for item in seq:
            yield item
            steps.advance()


def _clock(seconds: float) -> str:
    s = int(max(0.0, seconds))
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"
