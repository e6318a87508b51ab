"""The compressor as a library: load a trained run, a package or a baseline by name, then compress.

    from compress import load_compressor
    c = load_compressor("outputs/runs/2026-..._default")     # a run dir (its train/adapter)
    c = load_compressor("packages/nl-v1")                     # a package (python -m compress.export RUN --package DIR)
    c = load_compressor("truncate")                           # a baseline by name
    r = c.compress(text, rate=0.5, query="...")               # -> CompressResult

Tokens are counted by the target model's own tokenizer (the run's `tokens.model`, else its first
validator; the bundled Gemma's for a baseline unless `target_model` names another) and the result
names it.

Routing, in `compress_many` (one text at a time, not `joint`), the same for every compressor loaded:

1. A tool output goes by its shape, never through the compressor: a text whose `domain` is `json`,
   `log` or `listing`, or (no domain given) whose shape `compress.algorithms.structured.route` finds
   to be one, is packed (`structured.pack`) to the request's budget and query: compacted losslessly
   first (JSON minified with tables, repeated log lines counted, paths grouped by directory), then,
   only if that is still over the budget, lines or items left out, each run of them replaced by one
   marker `[… 118 lines like "INFO worker-# heartbeat ok seq=#" · id 3f9a2b1c]`. The result's
   `domain` is the shape and `ids` the markers' ids; `expand(id)` gives back the exact text a marker
   stands for (a bounded cache: the most recent 2048 texts). With `threshold` (or no budget for a
   compressor with a default rate of its own) a tool output is only compacted losslessly. A text
   that is not of its shape after all (JSON that does not parse) goes on as in 2.
2. Any other text is routed to a domain (`compress.algorithms.data.domains.classify`) unless the
   caller names one (`nl`, `code`, `memory`: naming one also skips the tool shapes), and compressed
   with that domain's settings from the run's config (or conf/domain/ for a baseline).

A text comes back unchanged with status `passthrough` when it is empty, already within the budget
(a tool output too), has no budget for a compressor that needs one (a baseline), or when the output
is no shorter than the text.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from omegaconf import DictConfig, OmegaConf
from pydantic import BaseModel, Field

from compress.algorithms.compressors.base import (
    Compressor,
    JointCompressor,
    Request,
    budget_of,
    check_budget,
    find_adapter,
    read_meta,
)
from compress.algorithms.compressors.baselines import BASELINES, BaselineContext
from compress.algorithms.data.domains import classify, domain_table
from compress.algorithms.kinds import kind_of_meta
from compress.algorithms.structured import TOOL_SHAPES, ExpandStore, pack, route
from compress.algorithms.structured.shapes import parse_json
from compress.algorithms.text.units import join_documents
from compress.export.package import (
    DEFAULT_TARGET,
    MANIFEST,
    read_manifest,
    run_config,
    run_dir_of,
    target_model_of,
)
from compress.infra.errors import CompressError
from compress.infra.llm.tokens import TokenCounter
from compress.infra.models.bundled import default_cache


class CompressResult(BaseModel):
    """One compressed text and what compression did (the HTTP API uses the same fields)."""

    compressed: str
    tokens_before: int
    tokens_after: int
    tokenizer: str  # which tokenizer counted
    domain: str  # the routed (or given) domain, or a tool output's shape (json, log, listing)
    seconds: float
    # dropped: compressed with other texts in one budget (joint), and none of it was kept
    status: Literal["compressed", "passthrough", "dropped"]
    # the ids of the markers in `compressed` (a tool output's left-out lines): LoadedCompressor.expand
    ids: list[str] = Field(default_factory=list)


@dataclass
class _Job:
    """One text on its way through `compress_many`: its budget, domain and (once known) result."""

    text: str
    domain: str
    tokens_before: int
    budget: int | None
    t0: float
    prep_s: float = 0.0  # routing and counting before the compressor ran
    result: CompressResult | None = None


class LoadedCompressor:
    """A compressor ready to use: `compress` one text, `compress_many` a batch, `close` when done.

    Calls are serialised by a lock: a model and its tokenizer are not safe to share between threads."""

    def __init__(
        self,
        name: str,
        kind: str,
        manifest: dict[str, Any],
        compressor: Compressor,
        counter: TokenCounter,
        domains: dict[str, DictConfig],
        needs_budget: bool,
    ) -> None:
        self.name, self.kind, self.manifest = name, kind, manifest
        self._compressor, self._counter, self._domains = compressor, counter, domains
        # a baseline has no length of its own: without a budget it has nothing to do
        self._needs_budget = needs_budget
        self._lock = threading.RLock()
        self._closed = False
        # what the markers of this compressor's results stand for (thread-safe on its own)
        self._store = ExpandStore()

    @property
    def tokenizer(self) -> str:
        """The name of the tokenizer that counts every result's tokens."""
        return str(self._counter.name)

    @property
    def domains(self) -> list[str]:
        """The domain names a caller may pass as `domain=`: the text domains and the tool shapes."""
        return sorted(set(self._domains) | set(TOOL_SHAPES))

    def expand(self, marker_id: str) -> str:
        """The exact text a marker (`[… · id ID]`) of an earlier result stands for."""
        try:
            return self._store.get(marker_id.strip())
        except KeyError:
            raise CompressError(
                f"id {marker_id!r}: unknown. The texts behind markers are kept in memory, the most recent "
                f"{self._store.max_entries} (at most {self._store.max_chars:,} characters), by the compressor "
                "that made them; compress the original again for a fresh id."
            ) from None

    def compress(
        self,
        text: str,
        rate: float | None = None,
        target_tokens: int | None = None,
        query: str | None = None,
        domain: str | None = None,
        force_tokens: Sequence[str] = (),
        threshold: float | None = None,
    ) -> CompressResult:
        """Compress one text to `rate` of its tokens, to `target_tokens`, or (a compressor that scores
        units) to what scores at least `threshold`: at most one of the three."""
        return self.compress_many([text], rate, target_tokens, query, domain, force_tokens, threshold)[0]

    def compress_many(
        self,
        texts: Sequence[str],
        rate: float | None = None,
        target_tokens: int | None = None,
        query: str | None = None,
        domain: str | None = None,
        force_tokens: Sequence[str] = (),
        threshold: float | None = None,
        joint: bool = False,
    ) -> list[CompressResult]:
        """Compress a batch (one call into the compressor for every text that needs it); one result per
        text, in order. The budget, query, domain and forced strings apply to every text.

        `joint=True` treats the texts as one context with one budget (`rate` of their tokens together,
        or `target_tokens` in all): their units compete for the query, so each text's share follows its
        relevance and a text with nothing kept comes back empty (`dropped`). A retriever's documents are
        such a list. It needs a compressor that selects units across texts (the selector kind, bm25)."""
        check_budget(rate, target_tokens, threshold)
        if isinstance(texts, str):
            raise CompressError("compress_many takes a list of texts, not one string: use compress(text).")
        bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
        if bad:
            raise CompressError(f"texts[{bad[0]}] is {type(texts[bad[0]]).__name__}, not a string.")
        if domain is not None and domain not in self.domains:
            raise CompressError(
                f"domain={domain!r} is unknown; choose from {self.domains} (or omit it to route)."
            )
        caps = self._compressor.capabilities
        if threshold is not None and not caps.threshold:
            raise CompressError(
                f"threshold={threshold}: {self.name} ({self.kind}) keeps to a budget, it scores no units "
                "against a threshold; give rate or target_tokens, or load a selector."
            )
        if joint and not (caps.joint and isinstance(self._compressor, JointCompressor)):
            raise CompressError(
                f"joint=True: {self.name} ({self.kind}) compresses each text on its own; one budget over "
                "several texts needs a compressor that selects units across them (a selector, or bm25)."
            )
        if joint and domain in TOOL_SHAPES:
            raise CompressError(
                f"domain={domain!r} with joint=True: a tool output is packed on its own, not in a shared "
                "budget; compress it without joint, or omit domain."
            )
        forced = tuple(str(t) for t in force_tokens if str(t))
        with self._lock:
            if self._closed:
                raise CompressError(
                    f"compressor {self.name!r} was closed: load it again with load_compressor()."
                )
            if joint:
                return self._joint(list(texts), rate, target_tokens, threshold, query, domain, forced)
            jobs = [self._job(t, rate, target_tokens, domain, threshold, query) for t in texts]
            todo = [j for j in jobs if j.result is None]
            if todo:
                done = self._compressor.compress_many(
                    [
                        Request(
                            j.text,
                            j.budget,
                            self._domains[j.domain],
                            query,
                            forced,
                            threshold,
                            j.tokens_before,
                        )
                        for j in todo
                    ],
                    self._counter,
                )
                for j, out in zip(todo, done, strict=True):
                    j.result = self._finish(j, out.text, out.seconds)
        return [j.result for j in jobs if j.result is not None]

    def _joint(
        self,
        texts: list[str],
        rate: float | None,
        target_tokens: int | None,
        threshold: float | None,
        query: str | None,
        domain: str | None,
        forced: tuple[str, ...],
    ) -> list[CompressResult]:
        t0 = time.perf_counter()
        live = [i for i, t in enumerate(texts) if t.strip()]
        joined, _ = join_documents([texts[i] for i in live])
        jobs = [
            _Job(t, domain or classify(t), self._counter.count(t) if t.strip() else 0, None, t0)
            for t in texts
        ]
        name = domain or classify(joined)
        n = self._counter.count(joined)
        budget = budget_of(rate, target_tokens, n)
        fits = threshold is None and budget is not None and n <= budget
        if not live or fits or (threshold is None and budget is None and self._needs_budget):
            return [self._passthrough(j) for j in jobs]
        assert isinstance(self._compressor, JointCompressor)  # compress_many checked it
        outs = self._compressor.compress_joint(
            [texts[i] for i in live],
            Request(joined, budget, self._domains[name], query, forced, threshold, n),
            self._counter,
        )
        seconds = time.perf_counter() - t0
        for i, out in zip(live, outs, strict=True):
            share = seconds * len(texts[i]) / max(1, len(joined))
            jobs[i].result = self._finish(jobs[i], out, 0.0).model_copy(update={"seconds": share})
            if not out.strip():
                jobs[i].result = jobs[i].result.model_copy(  # type: ignore[union-attr]
                    update={"compressed": "", "tokens_after": 0, "status": "dropped"}
                )
        return [j.result if j.result is not None else self._passthrough(j) for j in jobs]

    def _job(
        self,
        text: str,
        rate: float | None,
        target_tokens: int | None,
        domain: str | None,
        threshold: float | None = None,
        query: str | None = None,
    ) -> _Job:
        t0 = time.perf_counter()
        if not text.strip():
            job = _Job(text, domain or classify(text), 0, None, t0)
            job.result = self._passthrough(job)
            return job
        # a tool output's shape, given or found; a text domain given skips the tool shapes
        shape = domain if domain in TOOL_SHAPES else route(text) if domain is None else None
        n = self._counter.count(text)
        budget = budget_of(rate, target_tokens, n)
        unchanged = threshold is None and (
            (budget is not None and n <= budget) or (budget is None and self._needs_budget)
        )
        if shape is not None and not (shape == "json" and domain == "json" and parse_json(text) is None):
            job = _Job(text, shape, n, budget, t0)
            if unchanged:
                job.result = self._passthrough(job)
                return job
            # threshold: no budget, lossless compaction only
            packed = pack(
                text, shape, budget if threshold is None else None, self._counter.count, query, self._store
            )
            if packed is not None:
                job.prep_s = time.perf_counter() - t0
                job.result = self._finish(job, packed.text, 0.0, packed.ids)
                return job
        # not a tool output (or not of its shape after all): compressed as text, by its domain
        name = domain if domain is not None and domain not in TOOL_SHAPES else classify(text)
        job = _Job(text, name, n, budget, t0, time.perf_counter() - t0)
        if unchanged:
            job.result = self._passthrough(job)
        return job

    def _passthrough(self, job: _Job) -> CompressResult:
        return CompressResult(
            compressed=job.text,
            tokens_before=job.tokens_before,
            tokens_after=job.tokens_before,
            tokenizer=self.tokenizer,
            domain=job.domain,
            seconds=time.perf_counter() - job.t0,
            status="passthrough",
        )

    def _finish(self, job: _Job, text: str, compressor_s: float, ids: Sequence[str] = ()) -> CompressResult:
        t0 = time.perf_counter()
        after = self._counter.count(text)
        # this text's own time: its routing and counting, and its share of the compressor's batch
        seconds = job.prep_s + compressor_s + time.perf_counter() - t0
        if after >= job.tokens_before:  # no shorter: the original serves the caller better
            return self._passthrough(job).model_copy(update={"seconds": seconds})
        return CompressResult(
            compressed=text,
            tokens_before=job.tokens_before,
            tokens_after=after,
            tokenizer=self.tokenizer,
            domain=job.domain,
            seconds=seconds,
            status="compressed",
            ids=list(ids),
        )

    def close(self) -> None:
        """Free the model (llama.cpp's context; transformers' weights go with the object)."""
        with self._lock:
            close = getattr(self._compressor, "close", None)
            if callable(close) and not self._closed:
                close()
            self._closed = True

    def __enter__(self) -> LoadedCompressor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"LoadedCompressor(name={self.name!r}, kind={self.kind!r}, tokenizer={self.tokenizer!r})"


def load_compressor(
    spec: str | Path,
    *,
    engine: str = "auto",
    device: str = "cpu",
    cache_dir: Path | None = None,
    target_model: str | None = None,
) -> LoadedCompressor:
    """A compressor from a run dir (with train/adapter), a package dir (manifest.json) or a baseline name
    (identity, truncate, tail, random, selfinfo).

    `engine` (the generative kind): auto | llama_cpp | transformers; `device`: torch's device for
    transformers; `target_model`: the LiteLLM model whose tokenizer counts (default: the run's or
    package's target model, else the bundled Gemma's)."""
    cache = Path(cache_dir).expanduser() if cache_dir is not None else default_cache()
    path = Path(spec).expanduser()
    if path.is_dir():
        if (path / MANIFEST).is_file():
            return _load_package(path, cache, engine, device, target_model)
        return _load_run(path, cache, engine, device, target_model)
    name = str(spec)
    if name in BASELINES:
        return _load_baseline(name, cache, target_model)
    raise CompressError(
        f"{spec!r} is neither a directory nor a baseline name. Pass a run dir (outputs/runs/<run> with "
        f"train/adapter), a package dir (python -m compress.export RUN --package DIR) or one of {sorted(BASELINES)}."
    )


def _dtype(device: str) -> str:
    # on an accelerator half precision; on a CPU float32 (bfloat16 matmuls there are slow)
    return "float32" if device == "cpu" else "bfloat16"


def _load_baseline(name: str, cache: Path, target_model: str | None) -> LoadedCompressor:
    model = target_model or DEFAULT_TARGET
    counter = TokenCounter(model, cache)
    compressor = BASELINES[name](BaselineContext(cache))
    doc = (type(compressor).__doc__ or "").strip().split("\n")[0]
    manifest = {"kind": "baseline", "name": name, "description": doc, "tokenizer": {"model": model}}
    # identity is a baseline too, but asks for no budget: it passes every text through
    return LoadedCompressor(name, "baseline", manifest, compressor, counter, domain_table(None), True)


def _load_run(
    path: Path, cache: Path, engine: str, device: str, target_model: str | None
) -> LoadedCompressor:
    adapter = find_adapter(path)
    run_dir = run_dir_of(adapter)
    cfg = run_config(run_dir)
    meta = read_meta(adapter)
    model = target_model or target_model_of(cfg)
    domains = domain_table(cfg.domain if cfg is not None else None, str(run_dir / ".hydra" / "config.yaml"))
    manifest = {
        "kind": kind_of_meta(meta).name,
        "name": run_dir.name,
        "run_dir": str(run_dir),
        "adapter": str(adapter),
        "base_model": meta.get("model"),
        "tokenizer": {"model": model},
    }
    return _trained(run_dir.name, manifest, adapter, meta, cache, engine, device, model, domains)


def _load_package(
    path: Path, cache: Path, engine: str, device: str, target_model: str | None
) -> LoadedCompressor:
    manifest = read_manifest(path)
    model = target_model or manifest.tokenizer.model
    domains = {name: OmegaConf.create(d) for name, d in manifest.domains.items()} or domain_table(None)
    data = json.loads(manifest.model_dump_json())
    adapter = path / manifest.adapter_dir
    return _trained(manifest.name, data, adapter, read_meta(adapter), cache, engine, device, model, domains)


def _trained(
    name: str,
    manifest: dict[str, Any],
    adapter: Path,
    meta: dict[str, Any],
    cache: Path,
    engine: str,
    device: str,
    model: str,
    domains: dict[str, DictConfig],
) -> LoadedCompressor:
    # the kind loads it; every budget it is given is in the target model's tokens, by this counter
    compressor = kind_of_meta(meta).load(adapter, meta, cache, device, _dtype(device), engine)
    manifest = manifest | {"engine": str(getattr(compressor, "engine", engine))}
    counter = TokenCounter(model, cache)
    return LoadedCompressor(name, str(manifest["kind"]), manifest, compressor, counter, domains, False)
