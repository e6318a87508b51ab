"""The one terminal console every command prints to (stderr, so stdout stays the command's output)."""

from __future__ import annotations

from rich.console import Console

# a fixed width when not on a terminal: logs and CI output keep whole table rows
console = Console(stderr=True, width=None if Console(stderr=True).is_terminal else 160)
