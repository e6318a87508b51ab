"""The one terminal console every command prints to (stderr, so stdout stays the command's output)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console

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
