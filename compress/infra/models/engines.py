"""Which engine runs a bundled model here: llama.cpp when it is installed, else transformers.

A light module (no LiteLLM, no torch): the server decides before anything heavy is imported."""

from __future__ import annotations

import importlib.util

from compress.infra.errors import MissingRequirement

ENGINE_NAMES = ("llama_cpp", "transformers")


def resolve_engine(preference: str, setting: str = "llm.local_engine") -> str:
    """`auto` means llama.cpp when installed, else transformers; an explicit choice must be installed.

    `setting` names the option in the errors (`llm.local_engine`, or a loader's `engine`)."""
    have_llama = importlib.util.find_spec("llama_cpp") is not None
    if preference == "auto":
        return "llama_cpp" if have_llama else "transformers"
    if preference not in ENGINE_NAMES:
        raise MissingRequirement(f"{setting}={preference!r}: choose auto, {' or '.join(ENGINE_NAMES)}.")
    if preference == "llama_cpp" and not have_llama:
        raise MissingRequirement(
            f"{setting}=llama_cpp needs llama-cpp-python: pip install -e '.[llamacpp]' "
            f"(builds from source, several minutes), or set {setting}=transformers."
        )
    return preference
