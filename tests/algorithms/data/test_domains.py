"""The rule-based domain classifier on known cases, and a mixed corpus routed by it."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from compress.algorithms.data.corpora import load_samples
from compress.algorithms.data.domains import classify, domain_table, sub_domain


@pytest.mark.parametrize(
    ("text", "domain"),
    [
        ("def add(a, b):\n    return a + b\n", "code"),
        ("import os\nx = os.getcwd()\nprint(x)\n", "code"),
        ("- The user prefers dark mode.\n- Their project deadline is 2026-12-01.\n", "memory"),
        ("The quick brown fox jumps over the lazy dog. It was a sunny day.", "nl"),
        ("Returns the number of items. If the list is empty, returns 0.", "nl"),
        ("", "nl"),
        # chat transcripts and message logs are memory
        ("User: move my dentist appointment to Thursday\nAssistant: Done, Thursday at 3pm.\n", "memory"),
        ("[09:14] Ana: the build is red again\n[09:15] Bob: on it\n[09:20] Ana: thanks\n", "memory"),
        # code that is not Python: braces and semicolons
        ("function add(a, b) {\n  const s = a + b;\n  return s;\n}\n", "code"),
        ('#include <stdio.h>\nint main(void) {\n    printf("hi\\n");\n    return 0;\n}\n', "code"),
        # prose with labels is still prose: a docstring's sections, a list of `Label: value` lines
        ("Open a file.\n\nArgs:\n    path: the file to open\n    mode: how to open it\n", "nl"),
        ("Note: the meeting moved.\nLocation: room 4.\n", "nl"),
    ],
)
def test_classifier_known_cases(text: str, domain: str) -> None:
    assert classify(text) == domain


def test_mixed_corpus_is_routed_by_the_classifier() -> None:
    cfg = OmegaConf.create(
        {
            "source": "stdlib_mixed",
            "path": None,
            "text_field": "text",
            "n_samples": 30,
            "min_words": 20,
            "max_words": 200,
            "seed": 0,
            "splits": {"train": 0.8, "val": 0.1, "test": 0.1},
        }
    )
    ds = load_samples(cfg, "mixed")
    # the stdlib sources carry their true kind in `source`: notes end in ::memory, code samples parse
    assert set(ds["domain"]) == {"nl", "code", "memory"}
    for row in ds:
        if row["source"].endswith("::memory"):
            assert row["domain"] == "memory"
    mixed = OmegaConf.create({"name": "mixed", "parts": {"code": {"name": "code"}, "nl": {"name": "nl"}}})
    assert sub_domain(mixed, "code").name == "code"
    plain = OmegaConf.create({"name": "nl"})
    assert sub_domain(plain, "code") is plain


def test_domain_table_takes_each_domains_settings_from_the_run() -> None:
    """Defaults from conf/domain/, overridden by a run's domain: each part of a mixed one, or its one domain."""
    defaults = domain_table(None)
    assert set(defaults) == {"nl", "code", "memory"}
    assert defaults["code"].unit == "line" and defaults["nl"].unit == "word"
    assert "code" in defaults["code"].instruction.lower()  # ${prompt:code} resolved
    mixed = OmegaConf.create(
        {
            "name": "mixed",
            "parts": {
                "code": {"name": "code", "unit": "word", "protect_patterns": ["^def "]},
                "nl": {"name": "nl", "unit": "line"},
            },
        }
    )
    table = domain_table(mixed)
    assert table["code"].unit == "word" and list(table["code"].protect_patterns) == ["^def "]
    assert table["nl"].unit == "line" and table["memory"].unit == defaults["memory"].unit
    single = domain_table(OmegaConf.create({"name": "memory", "unit": "line"}))
    assert single["memory"].unit == "line" and single["code"].unit == "line" and single["nl"].unit == "word"
