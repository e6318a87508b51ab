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

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from itertools import islice
from pathlib import Path
from typing import Any, Literal

import numpy as np
from omegaconf import MISSING
from pydantic import BaseModel, ConfigDict

from compress.algorithms.compressors.base import (
    Capabilities,
    Compressed,
    Compressor,
    Request,
    own_budget,
    tokens_at,
    write_meta,
)
from compress.algorithms.compressors.baselines import bm25_scores
from compress.algorithms.compressors.coarse import (
    Layout,
    Scored,
    layout,
    select_documents,
    select_text,
    word_value,
)
from compress.algorithms.compressors.code import code_map
from compress.algorithms.compressors.encoder import (
    IGNORE,
    Encoded,
    Framing,
    Window,
    encode,
    load_encoder,
    load_saved_encoder,
    pad_batch,
    save_encoder,
    spans_of,
    token_probabilities,
    windows_of,
    word_probs,
)
from compress.algorithms.compressors.hybrid import HybridScorer, auto_shape, is_chat
from compress.algorithms.data.corpora import SOURCES
from compress.algorithms.kinds.base import EncoderKind, Log
from compress.algorithms.teachers.answers import AnswerExample, answer_examples, held_out, normal
from compress.algorithms.teachers.memory_labels import memory_examples
from compress.algorithms.text.units import join_documents, shape_of, units_of
from compress.algorithms.text.words import protected, query_words
from compress.infra.config_schema import Schema
from compress.infra.errors import CompressError
from compress.infra.llm.tokens import TokenCounter
from compress.infra.models.bundled import default_cache
from compress.infra.training.device import resolve_device
from compress.infra.training.loop import StepLog, batches, run_steps

NAME = "selector"


@dataclass
class AnswerLabelsConfig(Schema):
    """`compressor.labels` of the selector: the corpora and the questions its labels come from."""

    sources: dict[str, int] = MISSING
    min_words: int = MISSING
    max_words: int = MISSING
    examples: int = MISSING
    k_max: int = MISSING
    no_query_share: float = MISSING
    parts: int = MISSING
    memory: int = MISSING


@dataclass
class PriorConfig(Schema):
    """`compressor.prior` of the selector: what a unit's position adds to its score."""

    first: float = MISSING
    head: float = MISSING
    doc: float = MISSING


@dataclass
class SelectorConfig(Schema):
    """`compressor=selector` (conf/compressor/selector.yaml says what each key means)."""

    name: str = MISSING
    encoder: str = MISSING
    encoder_layers: int | None = MISSING
    max_length: int = MISSING
    overlap: int = MISSING
    max_query_tokens: int = MISSING
    mark_matches: bool = MISSING
    labels: AnswerLabelsConfig = field(default_factory=AnswerLabelsConfig)
    lr: float = MISSING
    epochs: int = MISSING
    batch_size: int = MISSING
    pos_weight: float = MISSING
    freeze_embeddings: bool = MISSING
    amp: bool = MISSING
    device: str = MISSING
    quantize: str = MISSING
    inference_batch: int = MISSING
    threads: int | None = MISSING
    rate: float = MISSING
    prior: PriorConfig = field(default_factory=PriorConfig)
    lexical: float = MISSING
    relevance: float = MISSING
    protect: list[str] = MISSING
    first_pass: str = MISSING
    candidates: float = MISSING
    rerank: float = MISSING


class SelectorMeta(BaseModel):
    """A trained selector's `compressor.json`: what inference needs, as `train_selector` writes it
    (a key it does not know is an error: a file from a newer version)."""

    model_config = ConfigDict(extra="forbid")

    kind: str = NAME
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
    # a unit scores for the question when it shares a term with it or the encoder gives it at least this
    relevance: float = 1.0
    protect: list[str] = ["numbers", "identifiers"]
    # the target model it was trained for (files of the first versions; the caller's counter counts)
    tokens_model: str | None = None
    # what finds the units: `encoder` reads the whole text; `hybrid` (compress.algorithms.compressors.
    # hybrid) scores every unit without the encoder, and the encoder reads only the best candidates
    # (`candidates` times the budget's tokens), its score weighted `rerank`
    first_pass: Literal["encoder", "hybrid"] = "encoder"
    candidates: float = 3.0
    rerank: float = 1.0

    def write(self, adapter_dir: Path) -> None:
        """Save as `adapter_dir/compressor.json`."""
        write_meta(adapter_dir, self.model_dump())


class SelectorCompressor:
    """A trained unit selector: a budget in the caller's counter's tokens, or a threshold."""

    name = NAME
    # a unit's score is a probability: `threshold=` keeps the units at or above it
    capabilities = Capabilities(query=True, threshold=True, joint=True)

    def __init__(
        self, tok: Any, model: Any, meta: SelectorMeta, device: str = "cpu", cache: Path | None = None
    ):
        self.tok, self.model, self.meta, self.device = tok, model, meta, device
        self.framing = Framing(tok)
        self.hybrid = HybridScorer(cache or default_cache()) if meta.first_pass == "hybrid" else None
        # code by definitions (`_code`); off: statements scored one by one, as the encoder reads them
        self.code_structure = True

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

    def score(self, requests: Sequence[Request], counter: TokenCounter) -> list[Scored]:
        """Each request's layout with its unit and word scores (one batch through the encoder; with the
        hybrid first pass, the encoder reads each request's candidates only)."""
        if self.hybrid is not None:
            return [self._rerank(r, counter, self.hybrid) for r in requests]
        encoded = [encode(self.tok, r.text) for r in requests]
        probs = self.token_probs(encoded, [r.query for r in requests])
        out = []
        for r, e, p in zip(requests, encoded, probs, strict=True):
            lay = layout(r.text, shape_of(_domain_name(r), r.text), counter, e.words)
            patterns = list(r.domain.get("protect_patterns") or []) if r.domain is not None else []
            # the domain's protected facts go first inside a shortened unit; they do not force units
            # in (the caller's force_tokens do)
            facts = protected(e.words, list(self.meta.protect), patterns)
            word = word_value(e.words, r.query, word_probs(e, p), facts)
            guard = protected(e.words, [], [], r.force_tokens)
            unit, relevant = self.unit_scores(lay, e, p, r.query)
            out.append(Scored(lay, unit, word, guard, relevant))
        return out

    def _rerank(self, r: Request, counter: TokenCounter, hybrid: HybridScorer) -> Scored:
        """The hybrid first pass over every unit, then the encoder over the best candidates' turns (or
        sentences' paragraphs): units covering `candidates` times the budget. Each candidate's
        encoder score is cached by question and unit text, so a question asked again of a history
        that grew reads only what is new."""
        lay = hybrid.layout(r.text, auto_shape(_domain_name(r), r.text), counter)
        score, relevant = hybrid.scores(lay, r.query)
        budget = None if r.threshold is not None else own_budget(r, counter, self.meta.rate)
        guard = protected(lay.words, [], [], r.force_tokens)
        s = Scored(lay, score, np.zeros(len(lay.words)), guard, relevant)
        asked = bool(r.query and r.query.strip())
        if asked and self.meta.rerank and lay.n_units:
            cap = self.meta.candidates * (budget if budget is not None else int(lay.unit_cost.sum()) // 10)
            doc_of = np.asarray([x.doc for x in lay.units], dtype=np.int64)
            doc_cost = np.bincount(doc_of, weights=lay.unit_cost)
            docs: set[int] = set()
            used = 0
            for u in s.order().tolist():
                if used >= cap:
                    break
                d = int(doc_of[u])
                if d not in docs:
                    docs.add(d)
                    used += int(doc_cost[d])
            enc = self._encoder_scores(lay, doc_of, docs, str(r.query), hybrid)
            hit = ~np.isnan(enc)
            s.unit = score + self.meta.rerank * np.where(hit, enc, 0.0)
            if relevant is not None:
                s.relevant = relevant | (hit & (np.nan_to_num(enc) >= self.meta.relevance))
        s.word = hybrid.word_values(lay, r.query, s.order(), budget)
        return s

    def _encoder_scores(
        self, lay: Layout, doc_of: np.ndarray, docs: set[int], query: str, hybrid: HybridScorer
    ) -> np.ndarray:
        """Per unit, the encoder's mean keep probability (NaN for units of other documents), read with
        the question over the documents `docs` joined (`doc_of`: each unit's document); cached per
        (question, unit text)."""
        out = np.full(lay.n_units, np.nan)
        units = [u for u in range(lay.n_units) if int(doc_of[u]) in docs]
        texts = {u: lay.text[lay.units[u].start : lay.units[u].end] for u in units}
        new = [u for u in units if not hybrid.memo.has(("enc", query, texts[u]))]
        new_docs = sorted({int(doc_of[u]) for u in new})
        if new_docs:
            # every unit of a new document, grouped by document (a document's units are contiguous)
            members = {d: [u for u in units if int(doc_of[u]) == d] for d in new_docs}
            spans = [(lay.units[m[0]].start, lay.units[m[-1]].end) for m in members.values()]
            joined, where = join_documents([lay.text[a:b] for a, b in spans], "\n")
            e = encode(self.tok, joined)
            (p,) = self.token_probs([e], [query])
            tok_start = e.words.starts[e.word_of] if len(e.word_of) else np.zeros(0, dtype=np.int64)
            for (a, _), (c, _), mine in zip(spans, where, members.values(), strict=True):
                for u in mine:
                    x = lay.units[u]
                    mask = (tok_start >= x.start - a + c) & (tok_start < x.end - a + c)
                    hybrid.memo.put(("enc", query, texts[u]), float(p[mask].mean()) if mask.any() else 0.0)
        for u in units:
            out[u] = hybrid.memo.get(("enc", query, texts[u]), lambda: 0.0)
        return out

    def unit_scores(
        self, lay: Layout, e: Encoded, token_p: np.ndarray, query: str | None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Per unit: the mean probability of its tokens, plus the position priors and the lexical term;
        and (with a question) whether it scores for it: a term shared with it, or the encoder's
        probability at least `relevance`."""
        n_units = lay.n_units
        if n_units == 0:
            return np.zeros(0), None
        unit_of_token = lay.unit_of_word[e.word_of] if len(e.word_of) else np.zeros(0, dtype=np.int64)
        total = np.bincount(unit_of_token, weights=token_p, minlength=n_units)
        k = np.bincount(unit_of_token, minlength=n_units)
        encoder = np.where(k > 0, total / np.maximum(k, 1), 0.0)
        score = encoder.copy()
        m = self.meta
        asked = bool(query and query.strip())
        lex = (
            bm25_scores([lay.text[u.start : u.end] for u in lay.units], query) if asked else np.zeros(n_units)
        )
        if m.prior_first:
            score = score + m.prior_first * np.asarray([u.first for u in lay.units], dtype=np.float64)
        if m.prior_head:
            score = score + m.prior_head * (1.0 - np.arange(n_units) / max(1, n_units))
        if m.lexical and lex.max() > 0:
            score = score + m.lexical * lex / lex.max()
        if m.prior_doc:
            doc = np.asarray([u.doc for u in lay.units], dtype=np.int64)
            best = np.full(int(doc.max()) + 1, -np.inf)
            np.maximum.at(best, doc, score)
            score = score + m.prior_doc * best[doc]
        return score, ((lex > 0) | (encoder >= m.relevance)) if asked else None

    def compress_many(self, requests: Sequence[Request], counter: TokenCounter) -> list[Compressed]:
        """One result per request, in order; empty texts come back as they are. Each result's seconds
        are its share (by length) of the batch's time. No budget: the trained default rate."""
        t0 = time.perf_counter()
        live = [i for i, r in enumerate(requests) if r.text.strip()]
        texts = [r.text for r in requests]
        for i, s in zip(live, self.score([requests[i] for i in live], counter), strict=True):
            r = requests[i]
            budget = None if r.threshold is not None else own_budget(r, counter, self.meta.rate)
            if budget is None or r.n_tokens(counter) > budget:
                texts[i] = self._code(r, budget, counter) or select_text(
                    s, budget, r.threshold, counter.count
                )
        seconds = time.perf_counter() - t0
        total = sum(len(r.text) for r in requests) or 1
        return [Compressed(t, seconds * len(r.text) / total) for t, r in zip(texts, requests, strict=True)]

    def _code(self, r: Request, budget: int | None, counter: TokenCounter) -> str | None:
        """Code by definitions (the hybrid first pass's code path: whole functions where the question
        needs them, a skeleton elsewhere), or None: not code, no budget, no hybrid first pass, or a
        plan that would not parse (statements are selected then)."""
        if self.hybrid is None or not self.code_structure or budget is None or r.threshold is not None:
            return None
        if auto_shape(_domain_name(r), r.text) != "code" or (cmap := code_map(r.text)) is None:
            return None
        return self.hybrid.compress_code(cmap, replace(r, budget=budget), counter)

    def compress_joint(self, documents: Sequence[str], r: Request, counter: TokenCounter) -> list[str]:
        """The texts as one context (`r.text`, their join) with one budget (`r.budget`, else the
        default rate) or `r.threshold`: units compete across texts for the question."""
        _, spans = join_documents(list(documents))
        (s,) = self.score([r], counter)
        budget = None if r.threshold is not None else own_budget(r, counter, self.meta.rate)
        return select_documents(s, spans, budget, r.threshold, counter.count)


def match_marks(e: Encoded, query: str | None) -> np.ndarray | None:
    """Per sub-word token of the text, whether its word is one the question names (no question: None)."""
    if not query or not query.strip():
        return None
    return query_words(e.words, query)[e.word_of]


def _domain_name(r: Request) -> str | None:
    return str(r.domain.name) if r.domain is not None and "name" in r.domain else None


def load_selector(
    adapter_dir: Path, meta: SelectorMeta, device: str = "cpu", cache: Path | None = None
) -> SelectorCompressor:
    """The selector the train stage saved in `adapter_dir`; int8 on a CPU when it was trained so."""
    tok, model, device = load_saved_encoder(adapter_dir, meta.quantize, device, meta.threads)
    return SelectorCompressor(tok, model, meta, device, cache)


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
        units = units_of(ex.context, "chat" if is_chat(ex.context) else "prose")
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
    cfg: Any, rows: list[dict[str, Any]], out_dir: Path, log: Log, exclude: set[str] | None = None
) -> dict[str, Any]:
    """Build answer-following labels (excluding every text in `exclude`, the normalised texts the
    evaluation holds out), train the encoder on them and save it with its `compressor.json`. It reads
    `compressor` and `seed` of the config (`Selector.train_reads`), and the originals of `rows`."""
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
    # questions that matching words do not answer, from generated histories no evaluation draws
    examples += memory_examples(labels.memory, seed) if labels.memory else []
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
    # the windows carry the question's matches as inference does (`mark_matches`)
    windows = labelled_windows(
        tok, examples, ccfg.max_length, ccfg.overlap, ccfg.max_query_tokens, ccfg.mark_matches
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
        relevance=ccfg.relevance,
        protect=list(ccfg.protect),
        first_pass="hybrid" if ccfg.first_pass == "hybrid" else "encoder",
        candidates=ccfg.candidates,
        rerank=ccfg.rerank,
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


class Selector(EncoderKind):
    """The unit selector kind: its default rate of each text in evaluate (the rate sweep holds it to
    every rate); trained from corpora with labels that follow answers, plus the run's train split."""

    name = NAME
    schema = SelectorConfig
    capabilities = SelectorCompressor.capabilities
    train_reads = ("compressor", "seed")

    def train(
        self, cfg: Any, rows: list[dict[str, Any]], out: Path, cache: Path, log: Log, held_out: set[str]
    ) -> dict[str, Any]:
        """Answer-following labels from corpora (never a held-out text), then the encoder (`train_selector`)."""
        return train_selector(cfg, rows, out, log, held_out)

    def budget(self, cfg: Any, n_tokens: int, teacher_tokens: int | None = None) -> int:
        """`compressor.rate` of the text: the selector learns no length from the teacher."""
        return tokens_at(SelectorConfig.of(cfg.compressor).rate, n_tokens)

    def load_saved(self, adapter_dir: Path, meta: dict[str, Any], device: str, cache: Path) -> Compressor:
        """The saved selector (its candidate pass's static embeddings in `cache`)."""
        return load_selector(adapter_dir, SelectorMeta.model_validate(meta), device, cache)


KIND = Selector()
