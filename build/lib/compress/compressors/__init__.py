"""Compressors: what shortens a text at inference, trained or not.

- `base`: the one interface (`Compressor.compress_many(requests)`), its `Request` and `Compressed`;
- `generative`: a LoRA-tuned LM that rewrites the text (its prompt, metadata and PEFT loading);
- `baselines`: identity, truncation by tokens and the extractive self-information method, by name;
- `trained`: loads what the train stage wrote, through the backend that wrote it;
- `export`: a trained adapter merged into its base, or as a GGUF LoRA for llama.cpp.
"""
