"""Extractive units and choosing which to keep at a rate."""

from __future__ import annotations

import pytest

from compress.algorithms.text.units import join_documents, select_units, shape_of, split_units, units_of


def test_select_units_meets_the_rate() -> None:
    text = "alpha beta gamma delta epsilon zeta"
    spans = split_units(text, "word")
    assert len(spans) == 6
    kept = select_units(spans, [1, 6, 2, 5, 3, 4], [1] * 6, rate=0.5)
    assert kept == [1, 3, 5]  # the three best, in text order
    assert select_units(spans, [1] * 6, [1] * 6, rate=1.0) == list(range(6))
    lines = split_units("a = 1\n\nb = 2\n", "line")
    assert [("a = 1\n\nb = 2\n")[s:e] for s, e in lines] == ["a = 1\n", "\n", "b = 2\n"]


def test_prose_units_are_sentences_with_their_paragraph() -> None:
    text = (
        "The json module encodes objects. It was added in Python 2.6.\n\n"
        "The pickle module\nserializes objects. Protocol 5 came in 3.8.\n- a bullet here\n- another"
    )
    units = units_of(text, "prose")
    assert [text[u.start : u.end] for u in units] == [
        "The json module encodes objects.",
        "It was added in Python 2.6.",
        "The pickle module\nserializes objects.",
        "Protocol 5 came in 3.8.",
        "- a bullet here",
        "- another",
    ]
    assert [u.doc for u in units] == [0, 0, 1, 1, 1, 1]
    assert [u.first for u in units] == [True, False, True, False, False, False]
    assert all(u.needs is None for u in units)


def test_chat_units_keep_the_speaker_with_every_sentence() -> None:
    text = "John: So, we have been working on it. I think it's right.\nMary: Yes. The timeline is May 3.\nJohn: Thanks."
    units = units_of(text, "chat")
    said = [(text[u.start : u.end], u.doc, u.needs) for u in units]
    assert said == [
        ("John:", 0, None),
        ("So, we have been working on it.", 0, 0),
        ("I think it's right.", 0, 0),
        ("Mary:", 1, None),
        ("Yes.", 1, 3),
        ("The timeline is May 3.", 1, 3),
        ("John:", 2, None),
        ("Thanks.", 2, 6),
    ]
    assert shape_of("memory", text) == "chat" and shape_of("memory", "- likes tea\n- works on X") == "prose"
    assert shape_of("code", "x = 1") == "code" and shape_of(None, text) == "prose"


CODE = '''import os

@dec
def f(a,
      b):
    """Doc."""
    x = 1  # c
    if x:
        return a
    return b

class K:
    # comment
    def g(self): return 2
    def h(self):
        y = 3
        return y
'''


def test_code_units_are_statements_under_their_headers() -> None:
    units = units_of(CODE, "code")
    shown = [(CODE[u.start : u.end], u.needs) for u in units]
    assert shown == [
        ("import os", None),
        ("@dec\ndef f(a,\n      b):", None),
        ('"""Doc."""', 1),
        ("x = 1  # c", 1),
        ("if x:\n        return a", 1),
        ("return b", 1),
        ("class K:", None),
        ("# comment", None),
        ("def g(self): return 2", 6),
        ("def h(self):", 6),
        ("y = 3", 9),
        ("return y", 9),
    ]
    assert [u.doc for u in units][:2] == [0, 1] and units[6].doc == units[7].doc == 2
    # text that does not parse: a unit per non-blank line
    broken = "def f(:\n  pass\n\nx = ("
    assert [broken[u.start : u.end] for u in units_of(broken, "code")] == ["def f(:", "pass", "x = ("]


def test_every_non_space_character_is_in_a_unit() -> None:
    for text, shape in [
        (CODE, "code"),
        ("A b. C d!\n\nE f? g", "prose"),
        ("Ann: hi. Bo: yo\nAnn: ok", "chat"),
    ]:
        covered = [False] * len(text)
        for u in units_of(text, shape):
            for k in range(u.start, u.end):
                covered[k] = True
        assert all(c or ch.isspace() for c, ch in zip(covered, text, strict=True)), (shape, text)
    with pytest.raises(ValueError, match="unit shape"):
        units_of("x", "poem")


def test_join_documents_gives_each_its_span() -> None:
    joined, spans = join_documents(["ab", "", "cde"])
    assert joined == "ab\n\n\n\ncde" and [joined[a:b] for a, b in spans] == ["ab", "", "cde"]
