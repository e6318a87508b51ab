"""The token-classifier compressor: it learns its labels, reloads the same, holds any budget within a
word, keeps forced tokens and code indentation, listens to a query, and takes empty input.

The encoder is the bundled all-MiniLM-L6-v2 cut to its first layer (a tiny real encoder), trained for
a few epochs on stdlib docstrings labelled by a plain rule (keep words of 6+ letters, capitalised
words, and what a question names); the rule is the teacher here, the model and its training are real.
"""

from __future__ import annotations

import importlib
import inspect
import itertools
import json
import random
import textwrap
from typing import Any, cast

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf
from pydantic import ValidationError

from compress.algorithms.compressors.base import Request, tokens_at
from compress.algorithms.compressors.encoder import spans_of
from compress.algorithms.kinds import load_adapter
from compress.algorithms.kinds.classifier import (
    ClassifierCompressor,
    ClassifierMeta,
    load_classifier,
    train_classifier,
)
from compress.algorithms.text.words import normalize, protected, query_words, split_words, word_costs
from compress.infra.llm.tokens import TokenCounter
from tests.conftest import CACHE, ROOT

MODULES = ("json", "shutil", "textwrap", "argparse", "os.path", "inspect", "random", "pathlib", "csv")


def _docstrings() -> list[str]:
    out = []
    for name in MODULES:
        mod = importlib.import_module(name)
        for _, obj in sorted(vars(mod).items()):
            doc = inspect.getdoc(obj) if callable(obj) else None
            if doc and len(doc.split()) >= 25:
                out.append(" ".join(doc.split()[:90]))
    return list(dict.fromkeys(out))


DOCS = _docstrings()


def rule(words: Any) -> np.ndarray:
    """The teacher of these tests: long words and capitalised ones."""
    return np.array(
        [len(normalize(words.word(i))) >= 6 or words.word(i)[:1].isupper() for i in range(len(words))],
        dtype=bool,
    )


def _rows(texts: list[str], seed: int = 0) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    rows = []
    for t in texts:
        words = split_words(t)
        short = [words.word(i) for i in range(len(words)) if 3 <= len(normalize(words.word(i))) < 6]
        probes = [f"What does the text say about {normalize(rng.choice(short))}?"] if short else []
        rows.append(
            {
                "original": t,
                "compressed": " ".join(words.word(int(i)) for i in np.flatnonzero(rule(words))),
                "passed": True,
                "keep": rule(words).tolist(),
                "align_found": 1.0,
                "align_invented": 0,
                "probes": probes,
                "original_tokens": len(t.split()),
                "compressed_tokens": len(t.split()) // 2,
            }
        )
    return rows


def _cfg() -> Any:
    """The job config with compressor=classifier, made small: one encoder layer, short windows."""
    small = {"encoder_layers": 1, "max_length": 128, "overlap": 16, "epochs": 4, "batch_size": 8, "lr": 5e-4}
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return compose(
            config_name="config",
            overrides=[
                "compressor=classifier",
                "seed=0",
                "teacher.rate=0.5",
                "tokens.model=local/gemma3-270m",
                *(f"compressor.{k}={v}" for k, v in small.items()),
            ],
        )


COUNTER = TokenCounter("local/gemma3-270m", CACHE)


@pytest.fixture(scope="module")
def counter() -> TokenCounter:
    return COUNTER


def one(comp: ClassifierCompressor, text: str, rate: float | None = None, **kw: Any) -> str:
    """One text through the classifier at `rate` of its tokens (or `budget`), as the library asks."""
    if rate is not None:
        kw["budget"] = tokens_at(rate, COUNTER.count(text))
    kw["force_tokens"] = tuple(kw.get("force_tokens", ()))
    return comp.compress_many([Request(text, **kw)], COUNTER)[0].text


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, counter: TokenCounter) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("classifier")
    texts = DOCS[:40]
    logged: list[tuple[dict[str, Any], int]] = []
    result = train_classifier(_cfg(), _rows(texts), out, lambda m, s: logged.append((m, s)))
    comp = load_adapter(out / "adapter", CACHE)
    assert isinstance(comp, ClassifierCompressor)
    return {"dir": out / "adapter", "result": result, "log": logged, "texts": texts, "comp": comp}


def test_training_lowers_the_loss_logs_each_step_and_saves_a_classifier(trained: dict[str, Any]) -> None:
    m = trained["result"]["metrics"]
    assert m["loss_last_quarter"] < 0.7 * m["loss_first_quarter"]
    assert len(trained["log"]) == m["steps"] and "loss" in trained["log"][0][0]
    meta = json.loads((trained["dir"] / "compressor.json").read_text())
    assert meta["kind"] == "classifier" and meta["encoder_layers"] == 1
    # every field written, none extra
    assert (
        ClassifierMeta.model_validate_json((trained["dir"] / "compressor.json").read_text()).model_dump()
        == meta
    )


def test_metadata_an_older_version_wrote_reads_with_its_defaults() -> None:
    # the first version's compressor.json had no query_boost; inference then boosted by 1.0 as now
    first = {
        "kind": "classifier",
        "encoder": "bundled:all-MiniLM-L6-v2",
        "encoder_layers": None,
        "max_length": 512,
        "overlap": 64,
        "quantize": "none",
        "query_aware": True,
        "max_query_tokens": 32,
        "inference_batch": 16,
        "protect": ["numbers"],
        "rate": 0.4,
        "tokens_model": "local/gemma3-270m",
        "threads": None,
    }
    meta = ClassifierMeta.model_validate(first)
    assert meta.query_boost == 1.0
    assert (meta.max_query_tokens, meta.protect, meta.rate) == (32, ["numbers"], 0.4)  # as written
    # the caller's counter counts now: a file without tokens_model reads, one without an encoder does not
    assert ClassifierMeta.model_validate({k: v for k, v in first.items() if k != "tokens_model"})
    with pytest.raises(ValidationError, match="encoder"):
        ClassifierMeta.model_validate({k: v for k, v in first.items() if k != "encoder"})


def test_it_learned_its_labels_and_a_reload_gives_the_same_keep_mask(
    trained: dict[str, Any], counter: TokenCounter
) -> None:
    comp: ClassifierCompressor = trained["comp"]
    texts = trained["texts"][:8]
    probs = comp.probabilities(texts, [None] * len(texts))
    agree = np.mean(
        np.concatenate([(p > 0.5) == rule(split_words(t)) for p, t in zip(probs, texts, strict=True)])
    )
    assert agree > 0.85  # an untrained head agrees about half the time
    again = load_adapter(trained["dir"], CACHE)
    assert isinstance(again, ClassifierCompressor)
    reqs = [Request(t, 20) for t in texts]
    for a, b in zip(comp.keep_masks(reqs, COUNTER), again.keep_masks(reqs, COUNTER), strict=True):
        assert a.tolist() == b.tolist()


def _varied_texts() -> list[str]:
    docs = DOCS
    base = [
        "Five words are enough here.",
        docs[0],
        docs[1] + "\n\n" + docs[2],
        "- first item with details\n- second item, 2 of them\n- third item ends the list",
        textwrap.dedent(inspect.getsource(textwrap.dedent)),
        "Q: what is the capital of France?\nA: Paris, since the 10th century, more or less.",
        " ".join(docs[:40]),  # a long one
        *docs[50:62],
        " ".join((docs * 10)[:400]).split(maxsplit=3000)[:3000],
    ]
    return [*cast(list[str], base[:-1]), " ".join(base[-1])]


def test_rate_control_lands_within_one_word_of_the_budget(
    trained: dict[str, Any], counter: TokenCounter
) -> None:
    comp: ClassifierCompressor = trained["comp"]
    texts = _varied_texts()
    assert len(texts) == 20 and len(texts[0].split()) == 5 and len(texts[-1].split()) >= 2900
    for i, text in enumerate(texts):
        n = counter.count(text)
        rate = (0.2, 0.35, 0.5, 0.7)[i % 4]
        budget = max(1, round(rate * n))
        out = one(comp, text, budget=budget)
        got = counter.count(out)
        words = split_words(text)
        guard = protected(words, comp.protect, [])
        widest = int(word_costs(words, counter).max())
        if counter.count(" ".join(words.word(int(j)) for j in np.flatnonzero(guard))) <= budget:
            assert got <= budget, (i, got, budget)
        assert got >= budget - widest - 1, (i, got, budget, widest)
        src = iter(text.split())
        assert all(w in src for w in out.split()), i  # the original words, in order
    assert one(comp, texts[1], rate=1.0) == texts[1]


def test_forced_tokens_survive_at_rate_one_tenth(trained: dict[str, Any]) -> None:
    comp: ClassifierCompressor = trained["comp"]
    text = trained["texts"][3] + " The code is load_cfg_x7 in the Zanzibar branch, see ticket."
    out = one(comp, text, rate=0.1, force_tokens=["Zanzibar", "ticket"])
    assert "Zanzibar" in out and "ticket." in out
    assert "load_cfg_x7" in out  # an identifier: protected by default
    plain = one(comp, text, rate=0.1)
    assert "ticket." not in plain


def test_kept_code_lines_keep_their_indentation(trained: dict[str, Any]) -> None:
    comp: ClassifierCompressor = trained["comp"]
    code = textwrap.dedent(inspect.getsource(textwrap.TextWrapper._split))
    lines = code.splitlines()
    out = one(comp, code, rate=0.6, domain=OmegaConf.create({"protect_patterns": [r"^\s*def "]}))
    whole = [line for line in out.splitlines() if line in lines and line.strip()]
    assert len(whole) >= 2
    stripped = {line.strip(): line for line in lines}
    for line in out.splitlines():
        if line.strip() in stripped:
            assert line == stripped[line.strip()]  # a line kept whole is kept as it was, indentation too
    assert out.startswith("def _split")


def test_a_query_moves_the_kept_set_toward_the_words_it_names(trained: dict[str, Any]) -> None:
    comp: ClassifierCompressor = trained["comp"]
    moved = 0
    cases = 0
    for text in DOCS[60:80]:
        words = split_words(text)
        short = [words.word(i) for i in range(len(words)) if 3 <= len(normalize(words.word(i))) < 6]
        if not short:
            continue
        query = f"What does the text say about {normalize(short[len(short) // 2])}?"
        named = query_words(words, query)
        budget = max(1, round(0.4 * len(words)))
        plain, asked = comp.keep_masks([Request(text, budget), Request(text, budget, query=query)], COUNTER)
        cases += 1
        assert asked[named].sum() >= plain[named].sum()
        moved += int(asked[named].sum() > plain[named].sum())
    # where the plain compression had dropped a named word, the question brought it back
    assert cases >= 10 and moved >= 5


def test_empty_and_whitespace_input_come_back_as_they_are(trained: dict[str, Any]) -> None:
    comp: ClassifierCompressor = trained["comp"]
    assert one(comp, "") == ""
    assert one(comp, "  \n\t ", rate=0.1) == "  \n\t "
    outs = comp.compress_many([Request(""), Request("one two three four five six", 2), Request(" ")], COUNTER)
    assert [o.text for o in outs[::2]] == ["", " "] and outs[1].text


def test_a_batch_gives_what_one_at_a_time_gives(trained: dict[str, Any]) -> None:
    comp: ClassifierCompressor = trained["comp"]
    reqs = [Request(t, 15) for t in trained["texts"][:6]]
    together = [c.text for c in comp.compress_many(reqs, COUNTER)]
    alone = [comp.compress_many([r], COUNTER)[0].text for r in reqs]
    assert together == alone


def test_windows_cover_every_token_and_overlap() -> None:
    for n, cap, ov in [(5, 10, 2), (10, 10, 2), (11, 10, 2), (1000, 126, 16), (3, 126, 16)]:
        spans = spans_of(n, cap, ov)
        covered = np.zeros(n, dtype=int)
        for s, e in spans:
            assert 0 <= s < e <= n and e - s <= cap
            covered[s:e] += 1
        assert (covered >= 1).all() and spans[-1][1] == n
        for (_, e0), (s1, _) in itertools.pairwise(spans):
            assert e0 - s1 >= ov  # neighbours share at least `overlap` tokens


def test_int8_quantization_keeps_the_decisions_close(trained: dict[str, Any], counter: TokenCounter) -> None:
    comp: ClassifierCompressor = trained["comp"]
    q = load_classifier(
        trained["dir"],
        ClassifierMeta.read(trained["dir"]),
        "cpu",
        quantize="int8",
    )
    texts = trained["texts"][:6]
    a = np.concatenate(comp.probabilities(texts, [None] * 6))
    b = np.concatenate(q.probabilities(texts, [None] * 6))
    assert np.mean((a > 0.5) == (b > 0.5)) > 0.9
