"""Compressors: what shortens a text at inference, and the parts the kinds share.

- `base`: the one interface (`Compressor.compress_many(requests, counter)`), its `Request` (a budget
  in the counter's tokens), `Compressed` and `Capabilities`, the budget rules every caller shares,
  and `compressor.json`, the file every trained compressor saves beside its weights;
- `baselines`: identity, truncation by tokens, tail, random words, the extractive self-information
  method and bm25, by name;
- `coarse`: coarse-to-fine selection of units by relevance (the selector kind and bm25);
- `encoder`: the encoder the selector and classifier kinds run on;
- `generative`: the LoRA LM's prompt and its transformers and llama.cpp engines (the generative kind's
  backends build examples with the same prompt).

The trained kinds themselves are `compress.algorithms.kinds`; loading, packages and the CLI sit on
the product surface (`compress.library`, `compress.export`).
"""
