"""Secrets are redacted from anything logged: keys by name, values by what the environment holds."""

from __future__ import annotations

import pytest

from compress.infra.secrets import REDACTED, scrub


def test_scrub_removes_secret_keys_and_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-live-abcdefghijkl")
    cfg = {
        "teacher": {"model": "openai/gpt", "api_key": "x"},
        "note": "key sk-live-abcdefghijkl here",
        "n": 3,
        "token": None,
    }
    out = scrub(cfg)
    assert out["teacher"]["api_key"] == REDACTED
    assert "sk-live" not in out["note"]
    assert out["n"] == 3 and out["teacher"]["model"] == "openai/gpt"
