"""The `selector` kind: query-aware, coarse-to-fine compression that keeps whole units.

An encoder reads the text and the question together (the question as its second segment, the text's
neighbouring units in the same window) and gives every token a probability that the question's answer
needs it; a unit's score is the mean over its tokens, plus a configurable position prior (the unit
that opens each document, and a decay from the head). `compress.algorithms.compressors.coarse` then keeps whole
units best first within the budget and fills what is left word by word from the next best unit
(prose and chat; code keeps whole statements and still parses); a threshold instead of a budget keeps
every unit scoring at least it. Without a question the same encoder scores what a text's facts need.

Trained on answer-following labels (`compress.algorithms.teachers.answers`): questions with known answers from
thousands of texts every machine has, placed among distractor texts, the answer's unit labelled
keep. `train_selector` builds them, excluding every text the evaluation holds out.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict

from compress.algorithms.compressors.base import Compressed, Request, check_budget, tokens_at
from compress.algorithms.compressors.baselines import bm25_scores
from compress.algorithms.compressors.coarse import Layout, Scored, layout, select_documents, select_text
from compress.algorithms.compressors.config import SelectorConfig
from compress.algorithms.compressors.encoder import (
    IGNORE,
    Encoded,
    Framing,
    Window,
    encode,
    load_encoder,
    pad_batch,
    quantize_int8,
    save_encoder,
    spans_of,
    token_probabilities,
    windows_of,
    word_probs,
)
from compress.algorithms.compressors.generative import META_FILE
from compress.algorithms.data.corpora import SOURCES
from compress.algorithms.teachers.answers import AnswerExample, answer_examples, held_out, normal
from compress.algorithms.text.units import join_documents, shape_of, units_of
from compress.algorithms.text.words import protected, query_words
from compress.infra.errors import CompressError
from compress.infra.llm.tokens import TokenCounter
from compress.infra.training.device import resolve_device
from compress.infra.training.loop import StepLog, batches, run_steps

KIND = "selector"


class SelectorMeta(BaseModel):
    """A trained selector's `compressor.json`: what inference needs, as `train_selector` writes it
    (a key it does not know is an error: a file from a newer version)."""

    model_config = ConfigDict(extra="forbid")

    kind: str = KIND
    encoder: str
    encoder_layers: int | None = None
    max_length: int = 512
    overlap: int = 64
    max_query_tokens: int = 64
    inference_batch: int = 16
    quantize: str = "none"
    threads: int | None = None
    # the text's tokens of the words the question names carry the question's segment id
    mark_matches: bool = False
    # the budget when a request gives none
    rate: float = 0.5
    # added to a unit's score: it opens a document (a paragraph, a turn, a definition, a text of a list);
    # a decay from the text's head (1 at the start, 0 at the end); BM25 against the query, scaled to [0, 1]
    prior_first: float = 0.0
    prior_head: float = 0.0
    # times the best score of the unit's document: a document that answers keeps its context together
    prior_doc: float = 0.0
    lexical: float = 0.0
    protect: list[str] = ["numbers", "identifiers"]
    # whose tokens its budgets count unless the loader is given a counter
    tokens_model: str

    def write(self, adapter_dir: Path) -> None:
        """Save as `adapter_dir/compressor.json`."""
        (adapter_dir / META_FILE).write_text(json.dumps(self.model_dump(), indent=2))


class SelectorCompressor:
    """A trained unit selector, rate-controlled in the target model's tokens, or by a threshold."""

    name = "trained"
    kind = KIND
    # a unit's score is a probability: `threshold=` keeps the units at or above it
    thresholds = True

    def __init__(self, tok: Any, model: Any, counter: TokenCounter, meta: SelectorMeta, device: str = "cpu"):
        self.tok, self.model, self.counter, self.meta, self.device = tok, model, counter, meta, device
        self.framing = Framing(tok)

    def _query_ids(self, query: str | None) -> list[int]:
        if not query or not query.strip():
            return []
        return list(self.tok(query, add_special_tokens=False)["input_ids"][: self.meta.max_query_tokens])

    def token_probs(self, encoded: Sequence[Encoded], queries: Sequence[str | None]) -> list[np.ndarray]:
        """Per text, each sub-word token's probability that the answer needs it (averaged over the
        windows that hold it)."""
        qids = [self._query_ids(q) for q in queries]
        marks = [
            match_marks(e, q) if self.meta.mark_matches else None
            for e, q in zip(encoded, queries, strict=True)
        ]
        wins = windows_of(self.framing, encoded, qids, self.meta.max_length, self.meta.overlap, marks)
        return token_probabilities(
            self.model, self.framing, encoded, wins, self.meta.inference_batch, self.device
        )

    def score(self, requests: Sequence[Request]) -> list[Scored]:
        """Each request's layout with its unit and word scores (one batch through the encoder)."""
        encoded = [encode(self.tok, r.text) for r in requests]
        probs = self.token_probs(encoded, [r.query for r in requests])
        out = []
        for r, e, p in zip(requests, encoded, probs, strict=True):
            lay = layout(r.text, shape_of(_domain_name(r), r.text), self.counter, e.words)
            word = word_probs(e, p)
            patterns = list(r.domain.get("protect_patterns") or []) if r.domain is not None else []
            # the domain's protected facts are kept inside the one unit filled word by word; they do
            # not force units in (the caller's force_tokens do)
            word = word + protected(e.words, list(self.meta.protect), patterns)
            guard = protected(e.words, [], [], r.force_tokens)
            out.append(Scored(lay, self.unit_scores(lay, e, p, r.query), word, guard))
        return out

    def unit_scores(self, lay: Layout, e: Encoded, token_p: np.ndarray, query: str | None) -> np.ndarray:
        """Per unit: the mean probability of its tokens, plus the position priors and the lexical term."""
        n_units = lay.n_units
        if n_units == 0:
            return np.zeros(0)
        unit_of_token = lay.unit_of_word[e.word_of] if len(e.word_of) else np.zeros(0, dtype=np.int64)
        total = np.bincount(unit_of_token, weights=token_p, minlength=n_units)
        k = np.bincount(unit_of_token, minlength=n_units)
        score = np.where(k > 0, total / np.maximum(k, 1), 0.0)
        m = self.meta
        if m.prior_first:
            score = score + m.prior_first * np.asarray([u.first for u in lay.units], dtype=np.float64)
        if m.prior_head:
            score = score + m.prior_head * (1.0 - np.arange(n_units) / max(1, n_units))
        if m.lexical and query:
            lex = bm25_scores([lay.text[u.start : u.end] for u in lay.units], query)
            if lex.max() > 0:
                score = score + m.lexical * lex / lex.max()
        if m.prior_doc:
            doc = np.asarray([u.doc for u in lay.units], dtype=np.int64)
            best = np.full(int(doc.max()) + 1, -np.inf)
            np.maximum.at(best, doc, score)
            score = score + m.prior_doc * best[doc]
        return score

    def budget_of(self, r: Request) -> int:
        """The request's budget in target tokens: its own, else the default rate of the text."""
        if r.target_tokens is not None:
            return int(r.target_tokens)
        return tokens_at(self.meta.rate, self.counter.count(r.text))

    def compress_many(self, requests: Sequence[Request]) -> list[Compressed]:
        """One result per request, in order; empty texts come back as they are. Each result's seconds
        are its share (by length) of the batch's time."""
        t0 = time.perf_counter()
        live = [i for i, r in enumerate(requests) if r.text.strip()]
        texts = [r.text for r in requests]
        for i, s in zip(live, self.score([requests[i] for i in live]), strict=True):
            r = requests[i]
            budget = None if r.threshold is not None else self.budget_of(r)
            if budget is None or self.counter.count(r.text) > budget:
                texts[i] = select_text(s, budget, r.threshold, self.counter.count)
        seconds = time.perf_counter() - t0
        total = sum(len(r.text) for r in requests) or 1
        return [Compressed(t, seconds * len(r.text) / total) for t, r in zip(texts, requests, strict=True)]

    def compress_joint(self, documents: Sequence[str], r: Request) -> list[str]:
        """The texts as one context (`r.text`, their join) with one budget (`r.target_tokens`, else the
        default rate) or `r.threshold`: units compete across texts for the question."""
        _, spans = join_documents(list(documents))
        (s,) = self.score([r])
        budget = None if r.threshold is not None else self.budget_of(r)
        return select_documents(s, spans, budget, r.threshold, self.counter.count)

    def compress(
        self,
        text: str,
        rate: float | None = None,
        target_tokens: int | None = None,
        query: str | None = None,
        threshold: float | None = None,
        domain: Any = None,
    ) -> str:
        """One text to `target_tokens`, `rate` of its tokens or `threshold` (at most one)."""
        check_budget(rate, target_tokens, threshold)
        if rate is not None:
            target_tokens = tokens_at(rate, self.counter.count(text))
        return self.compress_many([Request(text, target_tokens, domain, query, (), threshold)])[0].text


def match_marks(e: Encoded, query: str | None) -> np.ndarray | None:
    """Per sub-word token of the text, whether its word is one the question names (no question: None)."""
    if not query or not query.strip():
        return None
    return query_words(e.words, query)[e.word_of]


def _domain_name(r: Request) -> str | None:
    return str(r.domain.name) if r.domain is not None and "name" in r.domain else None


def load_selector(
    adapter_dir: Path,
    meta: SelectorMeta,
    cache_dir: Path,
    device: str = "cpu",
    counter: TokenCounter | None = None,
) -> SelectorCompressor:
    """The selector the train stage saved in `adapter_dir`, counting tokens by `counter` (default: the
    target model it was trained for); int8 on a CPU when it was trained so."""
    import torch
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    if meta.threads:
        torch.set_num_threads(int(meta.threads))
    tok = AutoTokenizer.from_pretrained(str(adapter_dir))
    model = AutoModelForTokenClassification.from_pretrained(str(adapter_dir))
    model.eval()
    if meta.quantize not in ("int8", "none"):
        raise CompressError(f"compressor.quantize={meta.quantize!r}: choose int8 or none.")
    device = resolve_device(device)
    model = quantize_int8(model) if meta.quantize == "int8" and device == "cpu" else model.to(device)
    return SelectorCompressor(tok, model, counter or TokenCounter(meta.tokens_model, cache_dir), meta, device)


# --- training -----------------------------------------------------------------------------------


def text_pool(ccfg: SelectorConfig, seed: int, exclude: set[str], extra: Sequence[str]) -> list[str]:
    """The texts the labels are built from: `labels.sources` (corpus names of `compress.algorithms.data.corpora`,
    each up to its cap), `extra` (the run's own train split) and nothing the evaluation holds out."""
    labels = ccfg.labels
    lo, hi = labels.min_words, labels.max_words
    out: list[str] = list(extra)
    for name, cap in labels.sources.items():
        if name not in SOURCES:
            raise CompressError(
                f"compressor.labels.sources: {name!r} is not a corpus; choose from {sorted(SOURCES)}."
            )
        cfg = _SourceCfg(seed)
        rows = (r["text"] for r in SOURCES[name](cfg) if lo <= len(r["text"].split()) <= hi)
        out += list(islice(rows, int(cap)))
    seen: set[str] = set()
    pool = []
    for t in held_out(out, exclude):
        key = normal(t)
        if key not in seen:
            seen.add(key)
            pool.append(t)
    return pool


@dataclass
class _SourceCfg:
    seed: int
    path: str | None = None
    text_field: str = "text"


def labelled_windows(
    tok: Any,
    examples: Sequence[AnswerExample],
    max_length: int,
    overlap: int,
    max_query: int,
    mark: bool = False,
) -> list[Window]:
    """Each example's encoder windows, every text token labelled by its unit: 1 where the unit holds
    what the answer needs, else 0 (the special tokens and the question are ignored)."""
    framing = Framing(tok)
    out: list[Window] = []
    for ex in examples:
        e = encode(tok, ex.context)
        if len(e.ids) == 0:
            continue
        units = units_of(ex.context, "prose")
        starts = np.asarray([u.start for u in units], dtype=np.int64)
        ends = np.asarray([u.end for u in units], dtype=np.int64)
        label = np.zeros(len(units), dtype=np.int64)
        for a, b in ex.needed:
            label[(starts < b) & (ends > a)] = 1
        unit_of_word = np.clip(np.searchsorted(starts, e.words.starts, side="right") - 1, 0, len(units) - 1)
        tok_labels = label[unit_of_word[e.word_of]]
        q = list(tok(ex.query, add_special_tokens=False)["input_ids"][:max_query]) if ex.query else []
        marks = match_marks(e, ex.query) if mark else None
        cap = framing.capacity(max_length, q)
        for s, t in spans_of(len(e.ids), cap, overlap):
            w = framing.window(0, e.ids, s, t, q, marks)
            w.labels = [IGNORE, *tok_labels[s:t].tolist()] + [IGNORE] * (len(w.ids) - 1 - (t - s))
            out.append(w)
    return out


def train_selector(
    cfg: Any,
    rows: list[dict[str, Any]],
    out_dir: Path,
    cache_dir: Path,
    log: Callable[[dict[str, Any], int], None],
    exclude: set[str] | None = None,
) -> dict[str, Any]:
    """Build answer-following labels (excluding every text in `exclude`, the normalised texts the
    evaluation holds out), train the encoder on them and save it with its `compressor.json`."""
    import torch
    import torch.nn.functional as F

    ccfg = SelectorConfig.of(cfg.compressor)
    seed = int(cfg.seed)
    torch.manual_seed(seed)
    if ccfg.threads:
        torch.set_num_threads(ccfg.threads)
    device = resolve_device(ccfg.device)
    t0 = time.perf_counter()
    pool = text_pool(ccfg, seed, exclude or set(), [r["original"] for r in rows])
    labels = ccfg.labels
    examples = answer_examples(pool, labels.examples, seed, labels.k_max, labels.no_query_share, labels.parts)
    if not examples:
        raise CompressError(
            f"train: none of the {len(pool)} texts of compressor.labels.sources has a fact to ask about; "
            "add sources or widen compressor.labels.min_words/max_words."
        )
    tok, model = load_encoder(ccfg.encoder, ccfg.encoder_layers)
    if ccfg.freeze_embeddings:
        for p in model.base_model.embeddings.parameters():
            p.requires_grad_(False)
    model.to(device)
    model.train()
    windows = labelled_windows(
        tok, examples, int(ccfg.max_length), int(ccfg.overlap), int(ccfg.max_query_tokens)
    )
    random.Random(seed).shuffle(windows)
    build_s = time.perf_counter() - t0
    framing = Framing(tok)
    bs = ccfg.batch_size
    steps = max(1, ccfg.epochs * -(-len(windows) // bs))
    params = [p for p in model.parameters() if p.requires_grad]
    amp = ccfg.amp and device.startswith("cuda")
    class_weight = torch.tensor([1.0, ccfg.pos_weight], device=device)

    def loss_of(batch: list[Window]) -> tuple[Any, int, dict[str, Any]]:
        inputs = pad_batch(framing, batch, device)
        width = inputs["input_ids"].shape[1]
        lab = torch.full((len(batch), width), IGNORE, dtype=torch.long)
        for i, w in enumerate(batch):
            lab[i, : len(w.labels)] = torch.tensor(w.labels)
        lab = lab.to(device)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
            logits = model(**inputs).logits
        loss = F.cross_entropy(logits.float().transpose(1, 2), lab, weight=class_weight, ignore_index=IGNORE)
        return loss, sum(len(w.ids) for w in batch), {}

    steps_log = StepLog(log)
    run_steps(
        batches(windows, steps, bs, seed),
        steps,
        params,
        float(ccfg.lr),
        0.01,
        loss_of,
        steps_log,
        "train selector",
    )
    adapter = save_encoder(model, tok, out_dir)
    SelectorMeta(
        encoder=ccfg.encoder,
        encoder_layers=ccfg.encoder_layers,
        max_length=ccfg.max_length,
        overlap=ccfg.overlap,
        max_query_tokens=ccfg.max_query_tokens,
        inference_batch=ccfg.inference_batch,
        quantize=ccfg.quantize,
        threads=ccfg.threads,
        mark_matches=ccfg.mark_matches,
        rate=ccfg.rate,
        prior_first=ccfg.prior.first,
        prior_head=ccfg.prior.head,
        prior_doc=ccfg.prior.doc,
        lexical=ccfg.lexical,
        protect=list(ccfg.protect),
        tokens_model=str((cfg.get("tokens") or {}).get("model") or cfg.validation.models[0]),
    ).write(adapter)
    positives = sum(sum(1 for x in w.labels if x == 1) for w in windows)
    labelled = sum(sum(1 for x in w.labels if x != IGNORE) for w in windows)
    return steps_log.result(
        len(windows),
        0,
        device=device,
        trainable_params=sum(p.numel() for p in params),
        label_texts=len(pool),
        label_examples=len(examples),
        label_positive_share=positives / max(1, labelled),
        label_build_s=build_s,
        windows=len(windows),
    )
