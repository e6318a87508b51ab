"""Compressors: what shortens a text at inference, trained or not.

- `base`: the one interface (`Compressor.compress_many(requests)`), its `Request` and `Compressed`,
  and the budget rules every caller shares;
- `generative`: a LoRA-tuned LM that rewrites the text (its prompt, metadata and PEFT loading);
- `classifier`: a keep/drop token classifier on an encoder (LLMLingua-2 style);
- `baselines`: identity, truncation by tokens, tail, random words and the extractive
  self-information method, by name.

Loading what the train stage wrote, packages and the CLI sit above these, in `compress.library`.
"""
