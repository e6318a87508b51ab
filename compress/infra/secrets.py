"""Keeping secrets out of logs, W&B configs, datasets and outputs.

Keys come from the environment or a `.env` file in the working directory, never from configs.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dotenv import load_dotenv

# Provider prefix of a LiteLLM model string -> the environment variables that can hold its key.
PROVIDER_KEYS: dict[str, tuple[str, ...]] = {
    "anthropic": ("ANTHROPIC_API_KEY",),
    "openai": ("OPENAI_API_KEY",),
    "gemini": ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
    "mistral": ("MISTRAL_API_KEY",),
    "groq": ("GROQ_API_KEY",),
    "together_ai": ("TOGETHERAI_API_KEY",),
    "openrouter": ("OPENROUTER_API_KEY",),
}

_SECRET_NAME = re.compile(r"(api[_-]?key|token|secret|password|passwd|credential)", re.IGNORECASE)
REDACTED = "<redacted>"


def load_env(cwd: Path | None = None) -> None:
    """Load `.env` from the working directory into the environment (existing variables win)."""
    path = (cwd or Path.cwd()) / ".env"
    if path.is_file():
        load_dotenv(path, override=False)


def secret_values() -> list[str]:
    """Values of environment variables whose names look secret (long enough to be real keys)."""
    return [v for k, v in os.environ.items() if _SECRET_NAME.search(k) and len(v) >= 8]


def scrub(obj: Any, secrets: list[str] | None = None) -> Any:
    """Return a copy of a nested config with secret-named keys and known secret values redacted."""
    values = secret_values() if secrets is None else secrets
    if isinstance(obj, Mapping):
        return {
            k: (REDACTED if _SECRET_NAME.search(str(k)) and v not in (None, "") else scrub(v, values))
            for k, v in obj.items()
        }
    if isinstance(obj, list | tuple):
        return [scrub(v, values) for v in obj]
    if isinstance(obj, str):
        for s in values:
            if s in obj:
                obj = obj.replace(s, REDACTED)
        return obj
    return obj
