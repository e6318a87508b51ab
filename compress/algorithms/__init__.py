"""The algorithms: what compresses, teaches, scores and grades, with no knowledge of the commands above.

- `kinds/`: one module per trained compressor kind (the record the rest of the product asks);
- `compressors/`: the Compressor protocol, the budget rules, the baselines and the parts kinds share
  (unit selection, the encoder, the LoRA LM's prompt and engines);
- `backends/`: where the generative kind's LoRA trains (torch, MLX, Unsloth, Tinker) and its exports;
- `teachers/`: who writes the compressed side of a pair, and the labels that follow answers;
- `metrics/`: equivalence, facts, gates, gold tasks, statistics;
- `text/`: no model: words, units, fact patterns, cloze facts;
- `data/`: corpora every machine has, users' files, domain routing.

They import `compress.infra` and each other (the layers only point down), never the product surface.
"""
