"""compress: semantic compression of LLM inputs, as an experiment-tracking research framework."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

__version__ = "0.1.0"

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"


def read_prompt(name: str) -> str:
    """`${prompt:NAME}` in a config: the text of conf/prompts/NAME.md, or of a path to any file."""
    path = Path(name).expanduser()
    if not path.is_absolute():
        path = CONF_DIR / "prompts" / (name if name.endswith((".md", ".txt")) else f"{name}.md")
    if not path.is_file():
        raise FileNotFoundError(
            f"prompt {name!r}: no file {path}. Put the prompt in conf/prompts/{name}.md or pass a file path."
        )
    return path.read_text(encoding="utf-8").strip()


def runtime_cwd(*, _root_: Any) -> str:
    """`${compress.cwd:}` in a config: the directory Hydra was started from.

    Hydra's own `${hydra:runtime.cwd}` reads the job's HydraConfig, which a sweep's driver has not set
    when its sweeper resolves `hydra.sweep.dir` (every `-m` run crashed on it); the driver's config
    still holds the value in its `hydra` node. A job reads it from its HydraConfig, as Hydra's does.
    Outside Hydra it fails as Hydra's does (a saved run config does not know where it was run)."""
    from hydra.core.hydra_config import HydraConfig

    cwd = OmegaConf.select(_root_, "hydra.runtime.cwd", default=None)
    return str(cwd) if cwd else str(HydraConfig.get().runtime.cwd)


if not OmegaConf.has_resolver("prompt"):
    OmegaConf.register_new_resolver("prompt", read_prompt)
if not OmegaConf.has_resolver("compress.cwd"):
    OmegaConf.register_new_resolver("compress.cwd", runtime_cwd)


# the library's entry points, loaded on first use (PEP 562) so `import compress` stays light:
# `from compress import load_compressor` pulls in the compressors, torch and the tokenizers only then
_LAZY = {
    "load_compressor": "compress.library.load",
    "LoadedCompressor": "compress.library.load",
    "CompressResult": "compress.library.load",
    "CompressError": "compress.infra.errors",
}


def __getattr__(name: str) -> Any:
    """`compress.load_compressor` and friends, imported when first asked for."""
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'compress' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
