"""The token-classifier compressor (LLMLingua-2 style): an encoder labels each word keep or drop.

Training distils the teacher's word-level keep masks (generate's `keep` column) into
`AutoModelForTokenClassification` on an encoder (the bundled all-MiniLM-L6-v2 by default): every
sub-word token carries its word's label, windows of `max_length` positions overlap by `overlap`,
examples are weighted by validation outcome, and with `query_aware` each probe question validate
asked rides along as the second segment (the words it names labelled keep).

Inference, for a batch of requests in one set of forward passes: each text's sub-word keep
probabilities (averaged over the windows that hold a token), averaged per word (numpy), then the
protected words (numbers, identifiers, the domain's patterns, forced strings) and the most probable
others, as many as fit the budget in the target model's tokens, rendered in order with newlines and
indentation (`compress.algorithms.text.words`).
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import MISSING
from pydantic import BaseModel

from compress.algorithms.compressors.base import (
    Capabilities,
    Compressed,
    Compressor,
    Request,
    own_budget,
    read_meta,
    tokens_at,
    write_meta,
)
from compress.algorithms.compressors.encoder import (
    IGNORE,
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
from compress.algorithms.kinds.base import EncoderKind, Log, weight_metrics, weighted
from compress.algorithms.teachers.base import effective_rate
from compress.algorithms.text.words import (
    protected,
    query_words,
    render,
    select,
    split_words,
    word_costs,
)
from compress.infra.config_schema import Schema
from compress.infra.errors import CompressError
from compress.infra.llm.tokens import TokenCounter
from compress.infra.training.device import resolve_device
from compress.infra.training.loop import StepLog, batches, run_steps

NAME = "classifier"


@dataclass
class LabelsConfig(Schema):
    """`compressor.labels`: which LLM-teacher pairs give labels (their alignment's quality)."""

    min_found: float = MISSING
    max_invented: float = MISSING


@dataclass
class ClassifierConfig(Schema):
    """`compressor=classifier` (and `classifier_fast`): the keep/drop token classifier on an encoder
    (conf/compressor/classifier.yaml says what each key means)."""

    name: str = MISSING
    encoder: str = MISSING
    encoder_layers: int | None = MISSING
    max_length: int = MISSING
    overlap: int = MISSING
    lr: float = MISSING
    epochs: int = MISSING
    batch_size: int = MISSING
    freeze_embeddings: bool = MISSING
    amp: bool = MISSING
    device: str = MISSING
    quantize: str = MISSING
    query_aware: bool = MISSING
    max_query_tokens: int = MISSING
    query_boost: float = MISSING
    inference_batch: int = MISSING
    protect: list[str] = MISSING
    labels: LabelsConfig = field(default_factory=LabelsConfig)
    threads: int | None = MISSING


class ClassifierMeta(BaseModel):
    """A trained classifier's `compressor.json`: what inference needs, as `train_classifier` writes it.

    The defaults are for files an older version wrote without a field (the first one had no
    `query_boost`; experiments write partial ones): they keep the behaviour such a file had."""

    kind: str = NAME
    encoder: str
    encoder_layers: int | None = None
    max_length: int = 512
    overlap: int = 64
    quantize: str = "none"
    query_aware: bool = True
    max_query_tokens: int = 64
    inference_batch: int = 16
    query_boost: float = 1.0
    protect: list[str] = ["numbers", "identifiers"]
    # the rate it keeps when a request gives no budget
    rate: float = 0.5
    # the target model it was trained for (files of the first versions; the caller's counter counts)
    tokens_model: str | None = None
    threads: int | None = None

    @classmethod
    def read(cls, adapter_dir: Path) -> ClassifierMeta:
        """The `compressor.json` in `adapter_dir`."""
        return cls.model_validate(read_meta(adapter_dir))

    def write(self, adapter_dir: Path) -> None:
        """Save as `adapter_dir/compressor.json`."""
        write_meta(adapter_dir, self.model_dump())


class ClassifierCompressor:
    """A trained keep/drop token classifier, held to a budget in the caller's counter's tokens; without
    one, the rate the classifier was trained at."""

    name = NAME
    capabilities = Capabilities(query=True)

    def __init__(self, tok: Any, model: Any, meta: ClassifierMeta, device: str = "cpu") -> None:
        self.tok, self.model, self.meta, self.device = tok, model, meta, device
        self.framing = Framing(tok)
        self.max_length = meta.max_length
        self.overlap = meta.overlap
        self.protect = list(meta.protect)
        self.rate = meta.rate
        self.query_aware = meta.query_aware
        self.max_query = meta.max_query_tokens
        self.batch = meta.inference_batch
        self.query_boost = meta.query_boost

    def _query_ids(self, query: str | None) -> list[int]:
        if not query or not self.query_aware or not query.strip():
            return []
        ids = self.tok(query, add_special_tokens=False)["input_ids"]
        return list(ids[: self.max_query])

    def probabilities(self, texts: Sequence[str], queries: Sequence[str | None]) -> list[np.ndarray]:
        """Each text's per-word keep probabilities (`encoder.token_probabilities`, averaged per word)."""
        encoded = [encode(self.tok, t) for t in texts]
        qids = [self._query_ids(q) for q in queries]
        wins = windows_of(self.framing, encoded, qids, self.max_length, self.overlap)
        probs = token_probabilities(self.model, self.framing, encoded, wins, self.batch, self.device)
        return [word_probs(e, p) for e, p in zip(encoded, probs, strict=True)]

    def keep_masks(self, requests: Sequence[Request], counter: TokenCounter) -> list[np.ndarray]:
        """Each request's keep mask over its words (`compress.algorithms.text.words.split_words`),
        within its budget by `counter`."""
        live = [i for i, r in enumerate(requests) if r.text.strip()]
        probs = self.probabilities([requests[i].text for i in live], [requests[i].query for i in live])
        out = [np.ones(len(split_words(r.text)), dtype=bool) for r in requests]
        for i, p in zip(live, probs, strict=True):
            r = requests[i]
            words = split_words(r.text)
            patterns = list(r.domain.get("protect_patterns") or []) if r.domain is not None else []
            if r.query and self.query_aware and self.query_boost:
                # the words the question names, raised by a lexical prior: what the encoder learns
                # from the second segment takes more data than a small run has
                p = p + self.query_boost * query_words(words, r.query)
            guard = protected(words, self.protect, patterns, r.force_tokens)
            budget = own_budget(r, counter, self.rate)
            if r.n_tokens(counter) <= budget:
                continue  # the whole text fits
            out[i] = select(words, p, guard, budget, counter.count, word_costs(words, counter))
        return out

    def compress_many(self, requests: Sequence[Request], counter: TokenCounter) -> list[Compressed]:
        """One result per request, in order; empty or whitespace texts come back as they are. Each
        result's seconds are its share (by length) of the batch's time."""
        t0 = time.perf_counter()
        masks = self.keep_masks(requests, counter)
        texts = [
            r.text if not r.text.strip() or m.all() else render(split_words(r.text), m)
            for r, m in zip(requests, masks, strict=True)
        ]
        seconds = time.perf_counter() - t0
        total = sum(len(r.text) for r in requests) or 1
        return [Compressed(t, seconds * len(r.text) / total) for t, r in zip(texts, requests, strict=True)]


def load_classifier(
    adapter_dir: Path, meta: ClassifierMeta, device: str = "cpu", quantize: str | None = None
) -> ClassifierCompressor:
    """The classifier the train stage saved in `adapter_dir`; `quantize` (default: as trained) int8
    on a CPU."""
    tok, model, device = load_saved_encoder(adapter_dir, quantize or meta.quantize, device, meta.threads)
    return ClassifierCompressor(tok, model, meta, device)


# --- training -----------------------------------------------------------------------------------


def trainingwindows_of(
    tok: Any, rows: Sequence[dict[str, Any]], ccfg: ClassifierConfig, seed: int
) -> tuple[list[Window], int]:
    """Labelled windows of the rows: each text alone, and with `query_aware` once with each of its
    probe questions as the second segment (the words the question names labelled keep). Returns the
    windows and how many rows had no usable labels (mask length off: a text the labels do not fit)."""
    framing = Framing(tok)
    max_length, overlap, max_q = ccfg.max_length, ccfg.overlap, ccfg.max_query_tokens
    out: list[Window] = []
    skipped = 0
    for r in rows:
        e = encode(tok, r["original"])
        keep = np.asarray(r["keep"], dtype=bool)
        if len(keep) != len(e.words) or len(e.ids) == 0:
            skipped += 1
            continue
        variants: list[tuple[list[int], np.ndarray]] = [([], keep)]
        if ccfg.query_aware:
            for q in r.get("probes") or []:
                named = query_words(e.words, q)
                variants.append((list(tok(q, add_special_tokens=False)["input_ids"][:max_q]), keep | named))
        for q_ids, labels in variants:
            tok_labels = labels[e.word_of].astype(np.int64)
            cap = framing.capacity(max_length, q_ids)
            for s, t in spans_of(len(e.ids), cap, overlap):
                w = framing.window(0, e.ids, s, t, q_ids)
                w.labels = [IGNORE, *tok_labels[s:t].tolist()] + [IGNORE] * (len(w.ids) - 1 - (t - s))
                w.weight = float(r["weight"])
                out.append(w)
    random.Random(seed).shuffle(out)
    return out, skipped


def train_classifier(cfg: Any, rows: list[dict[str, Any]], out_dir: Path, log: Log) -> dict[str, Any]:
    """Train the token classifier on the rows' keep masks (weighted by validation outcome) and save
    it with its `compressor.json` (`"kind": "classifier"`) to `out_dir/adapter`."""
    rows = weighted(cfg, rows)
    import torch
    import torch.nn.functional as F

    ccfg = ClassifierConfig.of(cfg.compressor)
    torch.manual_seed(int(cfg.seed))
    if ccfg.threads:
        torch.set_num_threads(ccfg.threads)
    device = resolve_device(ccfg.device)
    min_found, max_inv = ccfg.labels.min_found, ccfg.labels.max_invented
    usable = [
        r
        for r in rows
        if r["weight"] > 0
        and float(r.get("align_found", 1.0)) >= min_found
        and int(r.get("align_invented", 0)) <= max_inv * max(1, len(str(r["compressed"]).split()))
    ]
    if not usable:
        raise CompressError(
            f"train: no pair has usable labels ({len(rows)} rows; compressor.labels.min_found={min_found}, "
            f"max_invented={max_inv}, weight > 0). Lower those thresholds, or use an extractive teacher "
            "(teacher=selfinfo), whose labels are exact."
        )
    tok, model = load_encoder(ccfg.encoder, ccfg.encoder_layers)
    if ccfg.freeze_embeddings:
        # the vocabulary's embeddings are most of a small encoder's weights; a few thousand labelled
        # windows do not move them usefully, and their optimizer state is most of a step's time
        for p in model.base_model.embeddings.parameters():
            p.requires_grad_(False)
    model.to(device)
    model.train()
    windows, skipped = trainingwindows_of(tok, usable, ccfg, int(cfg.seed))
    if not windows:
        raise CompressError(f"train: none of the {len(usable)} usable pairs gave a training window.")
    framing = Framing(tok)
    bs = ccfg.batch_size
    steps = max(1, ccfg.epochs * -(-len(windows) // bs))
    params = [p for p in model.parameters() if p.requires_grad]
    amp = ccfg.amp and device.startswith("cuda")

    def loss_of(batch: list[Window]) -> tuple[Any, int, dict[str, Any]]:
        inputs = pad_batch(framing, batch, device)
        width = inputs["input_ids"].shape[1]
        lab = torch.full((len(batch), width), IGNORE, dtype=torch.long)
        for i, w in enumerate(batch):
            lab[i, : len(w.labels)] = torch.tensor(w.labels)
        lab = lab.to(device)
        weights = torch.tensor([w.weight for w in batch], device=device)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
            logits = model(**inputs).logits
        ce = F.cross_entropy(logits.float().transpose(1, 2), lab, ignore_index=IGNORE, reduction="none")
        mask = (lab != IGNORE).float()
        per_window = (ce * mask).sum(1) / mask.sum(1).clamp_min(1)  # (batch,)
        loss = (per_window * weights).sum() / weights.sum().clamp_min(1e-8)
        return loss, sum(len(w.ids) for w in batch), {}

    steps_log = StepLog(log)
    run_steps(
        batches(windows, steps, bs, int(cfg.seed)),
        steps,
        params,
        ccfg.lr,
        0.01,
        loss_of,
        steps_log,
        "train classifier",
    )
    adapter = save_encoder(model, tok, out_dir)
    rates = [
        float(r["compressed_tokens"]) / max(1, int(r["original_tokens"]))
        for r in usable
        if "compressed_tokens" in r and "original_tokens" in r
    ]
    ClassifierMeta(
        kind=NAME,
        encoder=ccfg.encoder,
        encoder_layers=ccfg.encoder_layers,
        max_length=ccfg.max_length,
        overlap=ccfg.overlap,
        quantize=ccfg.quantize,
        query_aware=ccfg.query_aware,
        max_query_tokens=ccfg.max_query_tokens,
        inference_batch=ccfg.inference_batch,
        query_boost=ccfg.query_boost,
        protect=ccfg.protect,
        # the teacher's rate as achieved on its pairs
        rate=float(np.mean(rates)) if rates else float(cfg.teacher.get("rate", 0.5)),
        threads=ccfg.threads,
    ).write(adapter)
    result = steps_log.result(
        len(windows),
        skipped,
        device=device,
        trainable_params=sum(p.numel() for p in params),
        label_rows=len(usable),
        label_rows_filtered=len(rows) - len(usable),
        windows=len(windows),
    )
    result["metrics"].update(weight_metrics(rows))
    return result


class Classifier(EncoderKind):
    """The token classifier kind: held to the teacher's achieved tokens per sample in evaluate (its
    rate elsewhere); trained on the teacher's keep masks, weighted by validation outcome."""

    name = NAME
    schema = ClassifierConfig
    capabilities = ClassifierCompressor.capabilities
    train_reads = ("compressor", "train.weights", "teacher.rate", "seed")

    def train(
        self, cfg: Any, rows: list[dict[str, Any]], out: Path, cache: Path, log: Log, held_out: set[str]
    ) -> dict[str, Any]:
        """Distil the teacher's keep masks into the encoder (`train_classifier`; the train split only)."""
        return train_classifier(cfg, rows, out, log)

    def budget(self, cfg: Any, n_tokens: int, teacher_tokens: int | None = None) -> int:
        """The teacher's own tokens for that sample, else the teacher's rate of the text."""
        if teacher_tokens is not None:
            return max(1, int(teacher_tokens))
        t = cfg.teacher
        return tokens_at(
            effective_rate(float(t.get("rate", 0.5)), t.get("target_tokens"), n_tokens), n_tokens
        )

    def load_saved(self, adapter_dir: Path, meta: dict[str, Any], device: str, cache: Path) -> Compressor:
        """The saved classifier."""
        return load_classifier(adapter_dir, ClassifierMeta.model_validate(meta), device)


KIND = Classifier()
