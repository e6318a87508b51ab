"""The infrastructure every layer above stands on: no compression algorithm here.

- `llm/`: LiteLLM calls (cache, retries, costs, the local provider), token counting;
- `models/`: the bundled GGUF model, loading base models, engines;
- `training/`: what every trainer shares (device, the step loop, the train config's types);
- `tracking`: W&B runs per stage; `errors`, `secrets`, `console`, `schemas` (datasets' features and
  summaries), `config_schema` (the typed config nodes' base).
"""
