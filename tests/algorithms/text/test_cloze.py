"""Cloze facts: items from every part of a text, graded by normalised exact match."""

from __future__ import annotations

from compress.algorithms.text.cloze import BLANK, cloze_items, grade, question
from compress.algorithms.text.units import sentence_spans

TEXT = (
    "The parser reads the header with read_header before anything else in the file.\n"
    "It keeps the first 512 bytes of every block in a buffer of its own.\n"
    "Every record then goes through the validator that Alice Smith wrote years ago.\n"
    "The checksum of each record is made with zlib.crc32 unless told otherwise.\n"
    "Timeouts are retried up to 3 times with exponential backoff between the tries.\n"
    "Finally the writer flushes everything to disk with os.fsync on the handle.\n"
)


def test_items_come_from_every_part_of_the_text() -> None:
    items = cloze_items("s1", TEXT, parts=3)
    assert [it.part for it in items] == [0, 1, 2]
    for it in items:
        start = it.start
        assert TEXT[start : start + len(it.answer)] == it.answer
        assert int(start / (len(TEXT) / 3)) == it.part  # the answer lies in the part it says
        assert BLANK in it.sentence and it.answer not in it.sentence
        assert it.sentence.startswith(it.left) and len(it.left.split()) >= 3
        assert question(it).endswith(it.left)
    # numbers and identifiers are preferred: each part's blank has one right answer
    assert {it.kind for it in items} <= {"number", "identifier"}
    assert cloze_items("s1", TEXT, parts=6)[-1].part == 5


def test_no_item_where_the_answer_is_ambiguous_or_unanchored() -> None:
    # 7 stands twice in its sentence; the only other fact opens its sentence (no quote to go on from)
    assert cloze_items("s", "Pick 7 or 7 and nothing else here ok.", parts=1) == []
    assert cloze_items("s", "", parts=3) == [] and cloze_items("s", "   ", parts=3) == []
    spans = sentence_spans("First one. Second\nwrapped line.\n- a bullet\n- another")
    assert len(spans) == 4  # a wrapped line stays in its sentence; bullets split


def test_grading_normalises_but_stays_exact() -> None:
    (item,) = [it for it in cloze_items("s", TEXT, parts=3) if it.answer == "512"]
    assert grade(item, "512 bytes of every block")  # talks on after the answer
    assert grade(item, "  512.")  # punctuation and space
    assert grade(item, f"{item.left} 512 bytes")  # restates the quote first
    assert not grade(item, "about 512")  # something else before it
    assert not grade(item, "5120") and not grade(item, "") and not grade(item, "\n\n")
    number = [it for it in cloze_items("s", "The limit of the pool is 1,000 connections per host.", 1)]
    assert number and grade(number[0], "1000 connections")  # digit groups
    ident = cloze_items("s", "The data goes to disk in the end with os.fsync on the handle.", 1)
    assert ident and ident[0].answer == "os.fsync" and grade(ident[0], "`os.fsync` on the handle")
    assert not grade(ident[0], "os.sync")
