"""The compressor as a service: an HTTP API and an OpenAI-compatible proxy (FastAPI + uvicorn).

- `config`: the server's settings (command line) and the proxy config file (`--config proxy.yaml`);
- `host`: the compressor, loaded in the background in a worker process (or thread), fail-open;
- `http`: reading a request body within its limits, and the JSON errors every route answers with;
- `metrics`: the Prometheus counters and histograms behind `GET /metrics`;
- `proxy`: `POST /v1/chat/completions`: which messages to compress (tool results for their calls),
  and the call through LiteLLM;
- `schemas`: the bodies of `POST /v1/compress` and `POST /v1/expand` (a marker's dropped lines);
- `app`: the FastAPI application (routes, auth, readiness);
- `cli`: `compress serve PACKAGE ...` / `python -m compress.serve PACKAGE ...`.
"""
