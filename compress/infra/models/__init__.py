"""Base models: the bundled GGUF model, loading a configured base, and `model=auto`."""
