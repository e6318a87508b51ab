"""Probes that see the whole text: one per part, about an anchor of that part, each saying its part."""

from __future__ import annotations

from omegaconf import OmegaConf

from compress.algorithms.metrics.probes import part_anchors, text_probes

TEXT = (
    "The loader reads settings through load_config before anything else. "
    "It then opens a pool of workers that Bob Marley named. "
    "At the end the results go to disk through write_results on the handle."
)
NL = OmegaConf.create(
    {
        "probes": ["What is the main point?", "Which names does it mention?"],
        "part_probes": ["What does the text say about {anchor}?"],
    }
)


def test_one_probe_per_part_about_that_part() -> None:
    probes = text_probes(TEXT, NL, 3)
    assert [p.part for p in probes] == [0, 1, 2]
    anchors = part_anchors(TEXT, 3)
    assert anchors[0] == "load_config" and anchors[2] == "write_results"
    for p, anchor in zip(probes, anchors, strict=True):
        assert p.question == f"What does the text say about {anchor}?"
        assert anchor is not None and int(TEXT.index(anchor) / (len(TEXT) / 3)) == p.part
    # the whole text is one part when one probe is asked
    assert [p.part for p in text_probes(TEXT, NL, 1)] == [0]


def test_whole_text_probes_where_a_part_has_no_anchor() -> None:
    plain = OmegaConf.create({"probes": ["What is the main point?", "Which names?"]})
    assert [(p.question, p.part) for p in text_probes(TEXT, plain, 2)] == [
        ("What is the main point?", -1),
        ("Which names?", -1),
    ]
    # a text too short for three anchors: the parts without one get a whole-text probe
    probes = text_probes("a b c fine words", NL, 3)
    assert all(p.part == -1 for p in probes if "{" not in p.question and "about" not in p.question)
    assert any(p.part == -1 for p in probes)
