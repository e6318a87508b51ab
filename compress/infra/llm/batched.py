"""Greedy generation for many prompts at once with llama.cpp: continuous batching over one context.

A CPU spends most of a single sequence's decode step reading the weights; several sequences decoded in
one batch share that read. The engine keeps `n_seq` sequences (slots) in one llama.cpp context with
a unified KV cache: callers from many threads submit prompts, a worker thread prefills each new
prompt (reusing, by `llama_memory_seq_cp`, the longest prompt prefix any slot already holds, so the
questions about one text pay its prefill once) and decodes every active slot one token per batch
until its stop. Greedy calls only (temperature 0); sampling calls go to a one-sequence engine.

Answers are greedy and deterministic for one sequence alone; decoded beside others, a sequence's
floating-point sums run in another order, and near-ties can tip another way: which answers differ
depends on what was decoded together. The answer cache keeps the first answer, so a rerun repeats it.
"""

from __future__ import annotations

import ctypes
import itertools
import os
import queue
import threading
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from compress.infra.console import native_stderr_quiet
from compress.infra.llm.engine import Completion, LlamaCppEngine


@dataclass
class _Job:
    prompt: list[int]
    shared: int  # the prompt's first `shared` tokens are its context: cached and reused as one piece
    max_tokens: int
    stop: list[str]
    future: Future[Completion]
    out: list[int] = field(default_factory=list)
    text: str = ""
    finish: str = "length"


@dataclass
class _Slot:
    tokens: list[int] = field(default_factory=list)  # what the slot's KV cache holds, position by position
    job: _Job | None = None


class BatchedLlamaCpp:
    """llama.cpp serving greedy completions to many threads at once (see the module doc)."""

    name = "llama_cpp"

    def __init__(self, path: Path, threads: int | None = None, n_seq: int = 8, n_ctx_seq: int = 2048) -> None:
        import llama_cpp as lc
        from llama_cpp import Llama

        self._lc = lc
        n_threads = threads or os.cpu_count() or 2
        self._path, self._threads = path, threads
        self._sampler: LlamaCppEngine | None = None
        self._sampler_lock = threading.Lock()
        # the model (weights, tokenizer) through the high-level class; its own context stays tiny
        with native_stderr_quiet():
            self._llm = Llama(
                model_path=str(path), n_ctx=256, n_threads=n_threads, use_mmap=False, verbose=False
            )
        # the one-sequence engine's settings (attention kernels, SWA cache, threads), for n_seq sequences
        params = lc.llama_context_params.from_buffer_copy(self._llm.context_params)
        params.n_ctx = n_seq * n_ctx_seq
        params.n_batch = 512
        params.n_ubatch = 512
        params.n_seq_max = n_seq + 1  # and one sequence of padding rows
        params.n_threads = n_threads
        params.n_threads_batch = n_threads
        params.kv_unified = True  # one cache for all slots: prefixes copy between them for free
        with native_stderr_quiet():
            self._ctx = lc.llama_init_from_model(self._llm._model.model, params)
            if not self._ctx:  # raised inside: llama.cpp's reasons are written out with it
                raise RuntimeError("llama.cpp could not create a batched context")
        self._mem = lc.llama_get_memory(self._ctx)
        self._vocab = lc.llama_model_get_vocab(self._llm._model.model)
        self._n_vocab = int(lc.llama_vocab_n_tokens(self._vocab))
        self._n_ctx_seq = n_ctx_seq
        self._batch = lc.llama_batch_init(512, 0, n_seq + 1)
        self._slots = [_Slot() for _ in range(n_seq)]
        self._pad_seq = n_seq
        self.prefilled = 0  # prompt tokens computed (not taken from the cache), for the curious and the tests
        self._jobs: queue.Queue[_Job | None] = queue.Queue()
        self._worker = threading.Thread(target=self._run, name="llama-batched", daemon=True)
        self._worker.start()

    # -- the caller's side ----------------------------------------------------------------------
    def tokenize(self, prompt: str) -> list[int]:
        """The prompt's tokens as llama.cpp's one-sequence engine makes them (BOS, special tokens)."""
        return list(self._llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=True))

    def split(self, prompt: str) -> tuple[list[int], int]:
        """The prompt's tokens and where its context ends: after its last blank line (the questions
        asked about one text differ only after it), when the tokens split there; else nowhere (0)."""
        tokens = self.tokenize(prompt)
        cut = prompt.rfind("\n\n")
        if cut < 0:
            return tokens, 0
        head = self.tokenize(prompt[: cut + 2])
        return tokens, len(head) if tokens[: len(head)] == head and len(head) < len(tokens) else 0

    def complete(self, prompt: str, max_tokens: int, temperature: float, stop: list[str]) -> Completion:
        """Greedy completion of `prompt`; blocks until the worker has finished it."""
        if temperature > 0:  # sampling: one sequence at a time, on an engine of its own
            with self._sampler_lock:
                if self._sampler is None:
                    self._sampler = LlamaCppEngine(self._path, self._threads)
            return self._sampler.complete(prompt, max_tokens, temperature, stop)
        tokens, shared = self.split(prompt)
        # the context of one slot bounds a prompt: keep its end, where the question is
        limit = self._n_ctx_seq - max_tokens - 1
        if len(tokens) > limit:
            tokens, shared = tokens[:1] + tokens[len(tokens) - limit + 1 :], 0
        job = _Job(tokens, shared, max_tokens, [s for s in stop if s], Future())
        self._jobs.put(job)
        return job.future.result()

    def close(self) -> None:
        """Stop the worker and free the context (and the sampling engine, if one was made)."""
        self._jobs.put(None)
        self._worker.join(timeout=10)
        self._lc.llama_batch_free(self._batch)
        self._lc.llama_free(self._ctx)
        self._llm.close()
        if self._sampler is not None:
            self._sampler.close()

    # -- the worker -----------------------------------------------------------------------------
    def _decode(self, entries: list[tuple[int, int, int, bool]]) -> None:
        """One llama_decode of (token, position, slot, wants logits) entries (at most n_batch)."""
        b = self._batch
        for i, (tok, pos, seq, logits) in enumerate(entries):
            b.token[i] = tok
            b.pos[i] = pos
            b.n_seq_id[i] = 1
            b.seq_id[i][0] = seq
            b.logits[i] = logits
        b.n_tokens = len(entries)
        rc = self._lc.llama_decode(self._ctx, b)
        if rc != 0:
            raise RuntimeError(f"llama_decode failed ({rc})")

    def _argmax(self, i: int) -> int:
        ptr = self._lc.llama_get_logits_ith(self._ctx, i)
        row = np.ctypeslib.as_array(ctypes.cast(ptr, ctypes.POINTER(ctypes.c_float)), shape=(self._n_vocab,))
        return int(row.argmax())

    def _assign(self, job: _Job) -> int | None:
        """Put a job in a free slot; when a slot holds the job's context (its shared prefix, exactly),
        the context's KV cache is copied from there instead of computed again."""
        free = [i for i, s in enumerate(self._slots) if s.job is None]
        if not free:
            return None
        head = job.prompt[: job.shared]
        src = next(
            (i for i, s in enumerate(self._slots) if job.shared and s.tokens[: job.shared] == head), None
        )
        # the free slot that holds the context itself, else the free slot holding least
        target = src if src in free else min(free, key=lambda i: len(self._slots[i].tokens))
        slot = self._slots[target]
        if src is None:
            self._lc.llama_memory_seq_rm(self._mem, target, 0, -1)
            slot.tokens = []
        elif src == target:
            self._lc.llama_memory_seq_rm(self._mem, target, job.shared, -1)
            slot.tokens = slot.tokens[: job.shared]
        else:
            self._lc.llama_memory_seq_rm(self._mem, target, 0, -1)
            self._lc.llama_memory_seq_cp(self._mem, src, target, 0, job.shared)
            slot.tokens = list(head)
        slot.job = job
        return target

    def _prefill(self, targets: list[int]) -> None:
        """Feed each new job's prompt past its cached context and sample its first token. The pieces
        are always the same for the same prompt (the context in 512-token chunks from its start, then
        the rest), so its tokens do not depend on what the cache held before."""
        for t in targets:
            slot = self._slots[t]
            job = slot.job
            assert job is not None
            bounds = [*range(0, job.shared, 512), job.shared] if job.shared else [0]
            pieces = [(a, b) for a, b in itertools.pairwise([*bounds, len(job.prompt)]) if b > a]
            entries: list[tuple[int, int, int, bool]] = []
            for a, b in pieces:
                if b <= len(slot.tokens):
                    continue  # cached
                chunk = job.prompt[a:b]
                entries = [
                    (tok, a + k, t, b == len(job.prompt) and k == len(chunk) - 1)
                    for k, tok in enumerate(chunk)
                ]
                slot.tokens += chunk
                self.prefilled += len(chunk)
                self._decode(entries)
            self._emit(t, self._argmax(len(entries) - 1))

    def _emit(self, t: int, tok: int) -> None:
        """A slot's new token: finish its job on an end token, a stop string or its length."""
        slot = self._slots[t]
        job = slot.job
        assert job is not None
        if self._lc.llama_vocab_is_eog(self._vocab, tok):
            job.finish = "stop"
            self._finish(t)
            return
        job.out.append(tok)
        job.text += self._llm.detokenize([tok]).decode("utf-8", errors="ignore")
        # stop strings count only once the answer has begun (a base model opens with a blank line)
        body = job.text.lstrip()
        cut = min((body.find(s) for s in job.stop if s in body), default=-1)
        if cut >= 0:
            job.text, job.finish = body[:cut], "stop"
            self._finish(t)
        elif len(job.out) >= job.max_tokens:
            self._finish(t)

    def _finish(self, t: int) -> None:
        slot = self._slots[t]
        job = slot.job
        assert job is not None
        slot.job = None
        job.future.set_result(Completion(job.text, len(job.prompt), len(job.out), job.finish))

    def _run(self) -> None:
        waiting: deque[_Job] = deque()
        closing = False
        while True:
            busy = any(s.job is not None for s in self._slots)
            if not waiting and not busy:
                if closing:
                    return
                first = self._jobs.get()  # nothing to decode: wait for work
                if first is None:
                    return
                waiting.append(first)
            while True:  # everything submitted meanwhile joins this round
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    closing = True
                else:
                    waiting.append(job)
            new: list[int] = []
            while waiting:
                target = self._assign(waiting[0])
                if target is None:
                    break  # no free slot: the rest wait for one
                waiting.popleft()
                new.append(target)
            try:
                if new:
                    self._prefill(new)
                self._step()
            except Exception as exc:  # a failed decode fails its callers, never hangs them
                for s in self._slots:
                    if s.job is not None:
                        s.job.future.set_exception(exc)
                    s.job, s.tokens = None, []
                self._lc.llama_memory_clear(self._mem, True)

    def _step(self) -> None:
        """One decode step for every slot whose job is still generating. The batch is always padded to
        `n_seq` rows: the matrix kernels then see one shape, so a sequence's tokens do not depend on
        how many others are decoded beside it (answers are reproducible, whatever the timing)."""
        active = [i for i, s in enumerate(self._slots) if s.job is not None and s.job.out]
        if not active:
            return
        entries = []
        for t in active:
            slot = self._slots[t]
            tok = slot.job.out[-1]  # type: ignore[union-attr]
            entries.append((tok, len(slot.tokens), t, True))
            slot.tokens.append(tok)
        self._lc.llama_memory_seq_rm(self._mem, self._pad_seq, 0, -1)
        entries += [(0, k, self._pad_seq, True) for k in range(len(self._slots) - len(active))]
        self._decode(entries)
        for i, t in enumerate(active):
            self._emit(t, self._argmax(i))
