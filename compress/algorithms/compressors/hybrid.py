"""The `hybrid` compressor: units found by more than matching words, at a cost that follows the budget.

What a question needs in a long history is often not what shares its words: the second turn of a
multi-hop answer names a thing the question does not, a temporal answer sits in the session's date, a
changed fact's latest statement counts, a paraphrase shares no word at all. Scoring, per unit
(`compress.algorithms.text.units`: sentences; turns and session headers in a chat):

1. a first pass: BM25 of the unit against the question (lexical) plus the cosine of static embeddings
   (dense: every sub-word token of the bundled all-MiniLM-L6-v2 embedded once, on its own, and a unit
   the mean of its content tokens': no encoder pass per text);
2. bridge expansion: the rarest terms of the first pass's best units that the question does not name
   (the dog's name, the depot a name points to) are asked again, and what they find scores too;
3. context: the turn before a relevant turn (what it answers) shares its score, in part; every turn of
   a session needs the session's header (its date), so a kept turn keeps it;
4. recency: later units weigh a little more (the latest statement of a changed fact wins ties);
   near-duplicate units count once (the latest);
5. (the selector's rerank, `compress.algorithms.kinds.selector`) the trained encoder reads only the best
   candidates, never the whole history.

Then `compress.algorithms.compressors.coarse` keeps whole units best first within the budget (or every
unit at or above a threshold: irrelevant documents go whole). Code with a budget is read by its definitions instead
(`HybridScorer.code_scores`, `compress.algorithms.compressors.code`): each function scored whole, the
best kept whole, a skeleton of the rest. What every unit costs to read is kept by
content in a bounded per-process cache (`UnitMemo`): its terms, its static embedding, its tokens in
the target model's tokenizer, and the encoder's score for a question; a history that grows by one turn
pays for that turn.
"""

from __future__ import annotations

import itertools
import math
import re
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from compress.algorithms.compressors.base import Capabilities, Compressed, Request
from compress.algorithms.compressors.coarse import (
    Layout,
    Scored,
    select_documents,
    select_text,
    word_value,
)
from compress.algorithms.compressors.code import CodeMap, Plan, code_map, compress_code, identifier_words
from compress.algorithms.compressors.encoder import BUNDLED_ENCODER, encoder_path, quantize_int8
from compress.algorithms.text.patterns import SESSION, TURN
from compress.algorithms.text.units import Unit, join_documents, shape_of, units_of
from compress.algorithms.text.words import normalize, protected, query_terms, split_words, word_costs
from compress.infra.console import quiet_transformers
from compress.infra.errors import CompressError
from compress.infra.llm.tokens import TokenCounter

NAME = "hybrid"
_TERM = re.compile(r"\w\w+", re.UNICODE)
# English function words and chat fillers: they say nothing about which unit a question needs
_STOP = frozenset(
    re.findall(
        r"[\w']+",
        "a about above after again against all am an and any are as at be because been before being "
        "below between both but by can could did do does doing down during each few for from further "
        "had has have having he her here hers herself him himself his how i if in into is it its itself "
        "just me more most my myself no nor not now of off on once only or other our ours ourselves out "
        "over own same she should so some such than that the their theirs them themselves then there "
        "these they this those through to too under until up very was we were what when where which "
        "while who whom why will with would you your yours yourself yourselves also ll re ve don didn "
        "doesn isn wasn yeah yes oh ok okay really just like got get gets getting go going went gone "
        "know think thing things lot one much many well still even tell told say said says let let's "
        "sure maybe actually pretty",
    )
)


def stem(word: str) -> str:
    """A light English stem: lower case, no possessive, no plural `s` (dogs -> dog, boxes -> box)."""
    w = word.lower()
    if w.endswith("'s"):
        w = w[:-2]
    if len(w) > 4 and w.endswith("ies"):
        return w[:-3] + "y"
    if len(w) > 4 and w.endswith(("ches", "shes", "xes", "sses")):
        return w[:-2]
    if len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        return w[:-1]
    return w


def terms_of(text: str) -> list[str]:
    """The text's terms as BM25 and the bridge read them: stemmed words of two or more characters,
    function words out."""
    return [t for t in (stem(m.group()) for m in _TERM.finditer(text)) if t not in _STOP]


# the static embedders loaded in this process, by cache dir: a table is read once per process
_STATIC: dict[str, StaticEmbedder] = {}


class UnitMemo:
    """A bounded per-process cache by content (least recently used out first): what a unit costs to
    read is paid once per process, whichever text it comes back in."""

    def __init__(self, max_entries: int = 400_000) -> None:
        self.max_entries = max_entries
        self._d: OrderedDict[Hashable, Any] = OrderedDict()

    def get(self, key: Hashable, make: Callable[[], Any]) -> Any:
        """The cached value for `key`, made and cached when absent."""
        if key in self._d:
            self._d.move_to_end(key)
            return self._d[key]
        value = make()
        self.put(key, value)
        return value

    def has(self, key: Hashable) -> bool:
        """Whether `key` is cached (no change to its recency)."""
        return key in self._d

    def put(self, key: Hashable, value: Any) -> None:
        """Cache `value` under `key`."""
        self._d[key] = value
        self._d.move_to_end(key)
        if len(self._d) > self.max_entries:
            self._d.popitem(last=False)

    def __iter__(self) -> Iterator[Hashable]:
        """The cached keys, least recently used first."""
        return iter(list(self._d))

    def __len__(self) -> int:
        return len(self._d)


def bm25(
    unit_terms: Sequence[Counter[str]],
    lengths: np.ndarray,
    query: Sequence[str],
    weight: dict[str, float] | None = None,
) -> np.ndarray:
    """BM25 (Lucene's idf, k1 1.5, b 0.75) of each unit's terms against the query terms, the units
    being the corpus; `weight` scales a term's part (default 1)."""
    n = len(unit_terms)
    out = np.zeros(n)
    if n == 0 or not query:
        return out
    avg = float(lengths.mean()) or 1.0
    norm = 1.5 * (1 - 0.75 + 0.75 * lengths / avg)
    for t in set(query):
        tf = np.fromiter((c.get(t, 0) for c in unit_terms), dtype=np.float64, count=n)
        df = int((tf > 0).sum())
        if df == 0:
            continue
        idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
        out += (weight or {}).get(t, 1.0) * idf * tf * 2.5 / (tf + norm)
    return out


def _z(x: np.ndarray) -> np.ndarray:
    sd = float(x.std()) if x.size else 0.0
    return (x - x.mean()) / sd if sd > 0 else np.zeros_like(x)


def _unit(x: np.ndarray) -> np.ndarray:
    m = float(x.max()) if x.size else 0.0
    return x / m if m > 0 else np.zeros_like(x)


class StaticEmbedder:
    """Static embeddings of the bundled all-MiniLM-L6-v2: every token of its vocabulary run through the
    encoder once, on its own (with [CLS] and [SEP]), its output kept as that token's vector; a text's
    vector is the mean of its content tokens' vectors. The table is computed once per machine (about
    10 s on 2 cores) and saved under the cache dir; reading a text is a tokenisation and a lookup."""

    def __init__(self, cache_dir: Path) -> None:
        from transformers import AutoTokenizer

        path = encoder_path(BUNDLED_ENCODER)
        self.tok = AutoTokenizer.from_pretrained(path)
        self.tok.model_max_length = int(1e12)
        file = Path(cache_dir) / "static" / "all-MiniLM-L6-v2.npy"
        if not file.is_file():
            file.parent.mkdir(parents=True, exist_ok=True)
            table = self._distil(path)
            tmp = file.with_suffix(".tmp.npy")
            np.save(tmp, table)
            tmp.replace(file)
        self.table = np.load(file).astype(np.float32)
        vocab = self.tok.convert_ids_to_tokens(list(range(self.table.shape[0])))
        # function words, punctuation and special tokens carry no meaning of their own
        self.weight = np.asarray(
            [0.0 if (v.startswith("[") or v.strip("#") in _STOP or not any(c.isalnum() for c in v)) else 1.0
             for v in vocab],
            dtype=np.float32,
        )  # fmt: skip

    def _distil(self, path: str) -> np.ndarray:
        import torch
        from transformers import AutoModel

        with quiet_transformers():
            model = quantize_int8(AutoModel.from_pretrained(path).eval())
        n = int(self.tok.vocab_size)
        cls, sep = self.tok.cls_token_id, self.tok.sep_token_id
        out = np.zeros((n, model.config.hidden_size), dtype=np.float16)
        with torch.inference_mode():
            for a in range(0, n, 2048):
                ids = torch.arange(a, min(n, a + 2048)).unsqueeze(1)
                inputs = torch.cat([torch.full_like(ids, cls), ids, torch.full_like(ids, sep)], dim=1)
                h = model(input_ids=inputs, attention_mask=torch.ones_like(inputs)).last_hidden_state[:, 1]
                out[a : a + len(ids)] = torch.nn.functional.normalize(h, dim=-1).numpy().astype(np.float16)
        return out

    def ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Each text's sub-word token ids (no special tokens)."""
        if not texts:
            return []
        return [list(x) for x in self.tok(list(texts), add_special_tokens=False)["input_ids"]]

    def vector(self, ids: Sequence[int]) -> np.ndarray:
        """The unit-length mean of the content tokens' vectors (zeros for a text with none)."""
        if not ids:
            return np.zeros(self.table.shape[1], dtype=np.float32)
        idx = np.asarray(ids, dtype=np.int64)
        w = self.weight[idx]
        v = (self.table[idx] * w[:, None]).sum(axis=0)
        norm = float(np.linalg.norm(v))
        return v / norm if norm > 0 else v


class SentenceEmbedder:
    """The bundled all-MiniLM-L6-v2 as a sentence embedder (int8 on the CPU): mean-pooled, unit length."""

    def __init__(self) -> None:
        from transformers import AutoModel, AutoTokenizer

        path = encoder_path(BUNDLED_ENCODER)
        self.tok = AutoTokenizer.from_pretrained(path)
        with quiet_transformers():
            self.model = quantize_int8(AutoModel.from_pretrained(path).eval())

    def embed(self, texts: Sequence[str], batch: int = 64) -> np.ndarray:
        """Each text's embedding (at most 128 tokens of it), shortest first so a batch pads little."""
        import torch

        out = np.zeros((len(texts), self.model.config.hidden_size), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        with torch.inference_mode():
            for a in range(0, len(order), batch):
                idx = order[a : a + batch]
                enc = self.tok(
                    [texts[i] for i in idx],
                    padding=True,
                    truncation=True,
                    max_length=128,
                    return_tensors="pt",
                )
                h = self.model(**enc).last_hidden_state
                mask = enc["attention_mask"].unsqueeze(-1).to(h.dtype)
                v = torch.nn.functional.normalize((h * mask).sum(1) / mask.sum(1).clamp(min=1), dim=-1)
                out[idx] = v.numpy()
        return out


# the sentence embedder loaded in this process (one model whatever the number of scorers)
_SENTENCE: list[SentenceEmbedder] = []


@dataclass(frozen=True)
class HybridSettings:
    """How the hybrid scorer weighs its signals (tuned on the development split of the `memory` and
    `tracing` tasks at rate 0.05: experiments/memory_study/tune.py, results/tune.json)."""

    # the embedding of the first pass: `minilm` (the bundled all-MiniLM-L6-v2 reads each unit once per
    # process, cached) or `static` (its token table: no encoder pass, weaker)
    dense_model: str = "minilm"
    dense: float = 2.0
    # a unit is relevant by its embedding alone when its cosine to the question is this many standard
    # deviations above the text's mean
    dense_z: float = 3.0
    bridge: float = 0.6
    bridge_units: int = 3
    bridge_terms: int = 6
    # chains of three hops need a second round: the units the first round found bring their own terms
    bridge_rounds: int = 2
    # the turn before a relevant turn shares this much of its score (0: tuning found it no help)
    context: float = 0.0
    # how much a chat participant's name in the question counts in BM25 (other terms count 1)
    speaker_weight: float = 0.3
    recency: float = 0.2
    dedupe: bool = True
    # code (`compress.algorithms.compressors.code`): how a definition's lexical and embedding z-scores
    # weigh (`HybridScorer.code_scores`), and how the budget is shared
    code_lexical: float = 0.5
    code_dense: float = 1.0
    code_plan: Plan = field(default_factory=Plan)

    def __post_init__(self) -> None:
        if self.dense_model not in ("minilm", "static"):
            raise CompressError(f"hybrid: dense_model={self.dense_model!r}; choose minilm or static.")


def is_chat(text: str) -> bool:
    """Whether a text reads as a conversation: at least a third of its non-blank lines are turns."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return bool(lines) and sum(bool(TURN.match(ln)) for ln in lines) * 3 >= len(lines)


def auto_shape(domain: str | None, text: str) -> str:
    """The unit shape: the domain's (`shape_of`), and chat for a text of turns whatever the domain."""
    shape = shape_of(domain, text)
    return "chat" if shape == "prose" and is_chat(text) else shape


def with_headers(units: list[Unit], text: str) -> list[Unit]:
    """Chat units where every speaker's tag needs its session's header line (the date above it), so a
    kept turn keeps when it was said."""
    needed = {u.needs for u in units if u.needs is not None}
    header: int | None = None
    out = []
    for i, u in enumerate(units):
        if SESSION.match(text[u.start : u.end]):
            header = i
        elif i in needed and u.needs is None and header is not None:
            u = replace(u, needs=header)
        out.append(u)
    return out


class HybridScorer:
    """Scores a text's units for a question (see the module's docstring); shared by the `hybrid`
    compressor and the selector's candidate pass."""

    def __init__(self, cache_dir: Path, settings: HybridSettings | None = None, memo: UnitMemo | None = None):
        self.cache_dir = Path(cache_dir)
        self.settings = settings or HybridSettings()
        self.memo = memo or UnitMemo()
        self._static: StaticEmbedder | None = None

    @property
    def static(self) -> StaticEmbedder:
        """The static embedder (loaded on first use, one per cache dir and process)."""
        if self._static is None:
            key = str(self.cache_dir.resolve())
            if key not in _STATIC:
                _STATIC[key] = StaticEmbedder(self.cache_dir)
            self._static = _STATIC[key]
        return self._static

    @property
    def sentence(self) -> SentenceEmbedder:
        """The sentence embedder (loaded on first use, one per process)."""
        if not _SENTENCE:
            _SENTENCE.append(SentenceEmbedder())
        return _SENTENCE[0]

    def layout(self, text: str, shape: str, counter: TokenCounter) -> Layout:
        """The text's layout (`coarse.layout`) with its units' word costs from the cache: only units
        not seen before are tokenised (all of a text at once when most of it is new)."""
        units = units_of(text, shape)
        if shape == "chat":
            units = with_headers(units, text)
        words = split_words(text)
        starts = np.asarray([u.start for u in units], dtype=np.int64)
        uow = np.searchsorted(starts, words.starts, side="right") - 1 if len(units) else np.zeros(0, int)
        uow = np.clip(uow, 0, max(0, len(units) - 1))
        bounds = np.searchsorted(uow, np.arange(len(units) + 1), side="left")
        name = counter.name
        keys = [(name, text[u.start : u.end]) for u in units]
        missing = [i for i, k in enumerate(keys) if not self.memo.has(("cost", *k))]
        if len(missing) * 2 > len(units):  # mostly new: one tokenisation of the whole text
            whole = word_costs(words, counter)
            for i in missing:
                self.memo.put(("cost", *keys[i]), whole[bounds[i] : bounds[i + 1]].copy())
        parts = []
        for i, k in enumerate(keys):
            n_words = int(bounds[i + 1] - bounds[i])
            cost = self.memo.get(("cost", *k), partial(_costs, k[1], counter))
            if len(cost) != n_words:  # a unit split into words otherwise on its own: count it in place
                cost = np.ones(n_words, dtype=np.int64) * max(1, int(cost.sum()) // max(1, n_words))
            parts.append(cost)
        costs = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
        unit_cost = np.bincount(uow, weights=costs, minlength=len(units)).astype(np.int64)
        return Layout(text, shape, units, words, uow, costs, unit_cost)

    def features(self, lay: Layout, speakers: Sequence[str]) -> list[Counter[str]]:
        """Each unit's term counts with its speaker's name (a sentence Ana says is about Ana), cached by
        speaker and text."""
        return [
            self.memo.get(("terms", who, t), partial(_counts, t, who))
            for who, t in zip(speakers, (lay.text[u.start : u.end] for u in lay.units), strict=True)
        ]

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        """Each text's embedding by `settings.dense_model` (cached by text; the new ones in one batch)."""
        model = self.settings.dense_model
        new = [t for t in dict.fromkeys(texts) if not self.memo.has((model, t))]
        if new:
            if model == "minilm":
                embedded = list(self.sentence.embed(new))
            else:
                embedded = [self.static.vector(ids) for ids in self.static.ids(new)]
            for t, v in zip(new, embedded, strict=True):
                self.memo.put((model, t), v)
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        return np.stack([self.memo.get((model, t), partial(np.zeros, 384, np.float32)) for t in texts])

    def scores(self, lay: Layout, query: str | None) -> tuple[np.ndarray, np.ndarray | None]:
        """Per unit: the hybrid score, and whether it is relevant to the question (None: no question)."""
        st = self.settings
        n = lay.n_units
        texts = [lay.text[u.start : u.end] for u in lay.units]
        position = np.arange(n) / max(1, n - 1)
        q_terms = terms_of(query or "")
        if n == 0 or not q_terms:
            # no question: nothing is more relevant than anything else; a chat keeps its latest turns
            prior = position if lay.shape == "chat" else -position
            return prior.astype(np.float64), None
        tag, speakers = speakers_of(lay)
        unit_terms = self.features(lay, speakers)
        lengths = np.asarray([sum(c.values()) for c in unit_terms], dtype=np.float64)
        # a participant's name says little about which of a chat's units a question needs: every
        # sentence they say carries it, and the other speaker names them in small talk
        names = {t for who in set(speakers) if who for t in terms_of(who)}
        lex = bm25(unit_terms, lengths, q_terms, {t: st.speaker_weight for t in names})
        dense = np.zeros(n)
        dense_hit = np.zeros(n, dtype=bool)
        if st.dense:
            # the question without the participants' names: in an embedding a name outweighs what is
            # asked about it, and every unit of a chat is someone's
            cos = self.vectors(texts) @ self.vectors([without_names(query or "", speakers)])[0]
            body = ~tag & (lengths > 0)
            mu = float(cos[body].mean()) if body.any() else 0.0
            sd = float(cos[body].std()) if body.any() else 1.0
            z = (cos - mu) / (sd or 1.0)
            dense = np.clip(z / (2 * st.dense_z), 0.0, 1.0)
            dense_hit = z >= st.dense_z
        first = _unit(lex) + st.dense * dense
        first[tag] = 0.0
        score = first.copy()
        bridged = np.zeros(n, dtype=bool)
        if st.bridge and st.bridge_units:
            df = Counter(t for c in unit_terms for t in c)
            asked = set(q_terms)
            found = first
            for _ in range(st.bridge_rounds):
                best = [
                    u for u in np.argsort(-found, kind="stable")[: st.bridge_units].tolist() if found[u] > 0
                ]
                cand = {t for u in best for t in self._names(texts[u]) if t not in asked}
                # the rarest terms the best units bring: names, places, things the question does not name
                picked = [
                    t
                    for t in sorted(cand, key=lambda t: (df[t], t))[: st.bridge_terms]
                    if df[t] * 20 <= max(20, n)
                ]
                if not picked:
                    break
                asked |= set(picked)
                second = bm25(unit_terms, lengths, picked)
                second[tag] = 0.0
                new = (second > 0) & ~bridged & ~(lex > 0)
                bridged |= second > 0
                score = score + st.bridge * _unit(second)
                found = np.where(new, second, 0.0)
        relevant = ((lex > 0) | bridged | dense_hit) & ~tag
        if st.context and lay.shape == "chat":
            score = score + st.context * self._previous_turn(lay, score * relevant)
        score = score + st.recency * position
        score[tag] = 0.0
        if st.dedupe:
            seen: set[str] = set()
            for u in range(n - 1, -1, -1):  # the latest copy stays
                key = self.memo.get(("key", texts[u]), partial(_key, texts[u]))
                if key.count(" ") < 2:
                    continue  # speaker tags and short replies repeat by nature
                if key in seen:
                    score[u], relevant[u] = 0.0, False
                seen.add(key)
        return score, relevant

    def code_scores(self, cmap: CodeMap, query: str | None) -> np.ndarray:
        """Each code definition's relevance to the question (`compress.algorithms.compressors.code`), a
        sum of z-scores among the definitions: the embedding of its name and signature (twice: what a
        description of a function is closest to), of its whole text, and BM25 over identifier words
        (`code_lexical`; all 0 without a question)."""
        st = self.settings
        docs = cmap.documents()
        n = len(docs)
        q_terms = code_terms(query or "")
        if n == 0 or not q_terms:
            return np.zeros(n)
        counts = [self.memo.get(("code_terms", d), partial(_code_counts, d)) for d in docs]
        lengths = np.asarray([sum(c.values()) for c in counts], dtype=np.float64)
        score = st.code_lexical * _z(bm25(counts, lengths, q_terms))
        if st.code_dense and n > 1:
            q = self.vectors([query or ""])[0]
            score = score + st.code_dense * (
                2.0 * _z(self.vectors(cmap.signatures()) @ q) + _z(self.vectors(docs) @ q)
            )
        return score

    def compress_code(self, cmap: CodeMap, r: Request, counter: TokenCounter) -> str | None:
        """The code's definitions by relevance, whole or as a skeleton, within the request's budget
        (None: the plan would not parse; the caller selects statements)."""
        assert r.budget is not None
        scores = self.code_scores(cmap, r.query)
        q_terms = code_terms(r.query or "")

        def block_scores(texts: list[str]) -> np.ndarray:
            counts = [Counter(code_terms(t)) for t in texts]
            lengths = np.asarray([sum(c.values()) for c in counts], dtype=np.float64)
            return bm25(counts, lengths, q_terms)

        return compress_code(
            cmap,
            scores,
            int(r.budget),
            counter.count,
            counter.token_starts(cmap.text),
            block_scores,
            self.settings.code_plan,
        )

    def word_values(
        self, lay: Layout, query: str | None, order: np.ndarray, budget: int | None
    ) -> np.ndarray:
        """Which words a shortened unit keeps first (`coarse.word_value`), for the words of the best
        units only (those covering three times the budget: the unit shortened to fill the budget is one
        of them); every other word 0. The query-free part is cached per unit."""
        word = np.zeros(len(lay.words))
        if budget is None or not len(lay.words):
            return word
        bounds = np.searchsorted(lay.unit_of_word, np.arange(lay.n_units + 1), side="left")
        named = query_terms(query)
        covered = 0
        for k, u in enumerate(order.tolist()):
            if covered > 2 * budget and k >= 20:
                break
            covered += int(lay.unit_cost[u])
            a, b = int(bounds[u]), int(bounds[u + 1])
            if a == b:
                continue
            text = lay.text[int(lay.words.starts[a]) : int(lay.words.ends[b - 1])]
            own, normal = self.memo.get(("wv", text), partial(_base_value, text))
            if len(own) != b - a:
                continue
            word[a:b] = own + (2.0 * np.fromiter((w in named for w in normal), bool, len(normal)))
        return word

    def _names(self, text: str) -> set[str]:
        """The terms of a unit that name something: capitalised words past a sentence's start, and
        identifiers (snake_case, dotted, with digits): what a second hop is found by."""
        return self.memo.get(("names", text), partial(_names, text))

    @staticmethod
    def _previous_turn(lay: Layout, score: np.ndarray) -> np.ndarray:
        """Per unit: the best score of the turn after its own (what its turn is answered by), so the
        turn a relevant turn answers comes along when it can."""
        doc = np.asarray([u.doc for u in lay.units], dtype=np.int64)
        best = np.zeros(int(doc.max()) + 1 if doc.size else 0)
        np.maximum.at(best, doc, score)
        turns = sorted({u.doc for u in lay.units if not SESSION.match(lay.text[u.start : u.end])})
        after = np.zeros_like(best)
        for a, b in itertools.pairwise(turns):
            after[a] = best[b]
        return after[doc]


def code_terms(text: str) -> list[str]:
    """A code text's terms: identifiers split into words (`read_file` -> read, file) and stemmed, each
    identifier of several words also whole; function words out."""
    out: list[str] = []
    for m in _CODE_TERM.finditer(text):
        ident = m.group()
        words = [stem(w) for w in identifier_words(ident) if len(w) > 1]
        out += [w for w in words if w not in _STOP]
        if len(words) > 1:
            out.append(ident.lower())
    return out


_CODE_TERM = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\d+")


def _costs(text: str, counter: TokenCounter) -> np.ndarray:
    return word_costs(split_words(text), counter)


def _code_counts(text: str) -> Counter[str]:
    return Counter(code_terms(text))


def _counts(text: str, speaker: str = "") -> Counter[str]:
    return Counter(terms_of(text) + terms_of(speaker))


_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][\w'-]+|\b[A-Za-z]+_\w+|\b\w*\d\w*[A-Za-z]\w*")


def _names(text: str) -> set[str]:
    return {t for m in _NAME.finditer(text) for t in terms_of(m.group())}


def without_names(query: str, names: Sequence[str]) -> str:
    """The question without the given names (and their possessive `'s`)."""
    named = sorted({w for w in names if w})
    if not named:
        return query
    plain = re.sub(r"\b(" + "|".join(map(re.escape, named)) + r")('s)?\b", "", query)
    return " ".join(plain.split())


def speakers_of(lay: Layout) -> tuple[np.ndarray, list[str]]:
    """Per unit of a chat: whether it is a speaker's tag (`Ana:`, kept only with what the speaker
    said), and the name of who said it ("" outside turns)."""
    n = lay.n_units
    tag = np.zeros(n, dtype=bool)
    who = [""] * n
    if lay.shape != "chat":
        return tag, who
    for u, x in enumerate(lay.units):
        if x.needs is not None and lay.text[lay.units[x.needs].end - 1] == ":":
            t = lay.units[x.needs]
            tag[x.needs] = True
            m = TURN.match(lay.text[t.start : t.end] + " x")
            who[u] = m.group(3) if m else ""
    for u in np.flatnonzero(tag).tolist():
        who[u] = ""
    return tag, who


def _key(text: str) -> str:
    return " ".join(text.lower().split())


def _base_value(text: str) -> tuple[np.ndarray, list[str]]:
    """A unit's word values without the question, and its words normalised (to match the question's)."""
    words = split_words(text)
    value = word_value(words, None, None, protected(words, ["numbers", "identifiers"], []))
    return value, [normalize(words.word(i)) for i in range(len(words))]


class Hybrid:
    """The training-free hybrid compressor (see the module's docstring): a budget in the caller's
    counter's tokens, or a threshold on the unit scores (in [0, about 2]); several texts can share one
    budget (`compress_joint`)."""

    name = NAME
    capabilities = Capabilities(query=True, threshold=True, joint=True)

    def __init__(self, ctx: Any, settings: HybridSettings | None = None) -> None:
        self.scorer = HybridScorer(Path(ctx.cache_dir), settings)

    def score(self, r: Request, counter: TokenCounter) -> Scored:
        """The request's text laid out and scored for its query."""
        domain = str(r.domain.name) if r.domain is not None and "name" in r.domain else None
        lay = self.scorer.layout(r.text, auto_shape(domain, r.text), counter)
        unit, relevant = self.scorer.scores(lay, r.query)
        guard = protected(lay.words, [], [], r.force_tokens)
        s = Scored(lay, unit, np.zeros(len(lay.words)), guard, relevant)
        budget = None if r.threshold is not None else r.budget
        s.word = self.scorer.word_values(lay, r.query, s.order(), budget)
        return s

    def _one(self, r: Request, counter: TokenCounter) -> str:
        if r.threshold is None and r.budget is None:
            raise CompressError("hybrid needs a token budget or a threshold: give each request one.")
        domain = str(r.domain.name) if r.domain is not None and "name" in r.domain else None
        if r.threshold is None and auto_shape(domain, r.text) == "code":
            cmap = code_map(r.text)
            if cmap is not None and r.n_tokens(counter) > int(r.budget or 0):
                out = self.scorer.compress_code(cmap, r, counter)
                if out is not None:
                    return out
        s = self.score(r, counter)
        # the text's tokens from its units' cached costs: a text seen before is not counted again
        n = r.tokens if r.tokens is not None else int(s.lay.unit_cost.sum())
        if r.threshold is None and r.budget is not None and n <= r.budget:
            return r.text
        return select_text(s, r.budget, r.threshold, counter.count)

    def compress_many(self, requests: Sequence[Request], counter: TokenCounter) -> list[Compressed]:
        """Each text's best units for its query within its budget (or at or above its threshold)."""
        out = []
        for r in requests:
            t0 = time.perf_counter()
            text = self._one(r, counter) if r.text.strip() else r.text
            out.append(Compressed(text, time.perf_counter() - t0))
        return out

    def compress_joint(self, documents: Sequence[str], r: Request, counter: TokenCounter) -> list[str]:
        """The texts as one context (`r.text`, their join) with one budget or threshold."""
        _, spans = join_documents(list(documents))
        return select_documents(self.score(r, counter), spans, r.budget, r.threshold, counter.count)
