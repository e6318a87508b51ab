"""What the console helpers hold back and what they let through."""

from __future__ import annotations

import os

import pytest

from compress.infra.console import native_stderr_quiet


def test_native_stderr_is_held_back_unless_the_block_fails(capfd: pytest.CaptureFixture[str]) -> None:
    with native_stderr_quiet():
        os.write(2, b"llama_context: n_ctx = 256\n")
    os.write(2, b"after\n")
    assert capfd.readouterr().err == "after\n"
    with pytest.raises(RuntimeError, match="no context"), native_stderr_quiet():
        os.write(2, b"llama_init: out of memory\n")
        raise RuntimeError("no context")
    assert capfd.readouterr().err == "llama_init: out of memory\n"
