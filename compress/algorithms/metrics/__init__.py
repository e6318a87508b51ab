"""Metrics: equivalence per domain, atomic facts, the validation gates (probes, facts, judge),
calibration, gold-answer tasks, statistics and break-even. Plain functions; `hf/` holds the same
metrics as local Hugging Face `evaluate` modules."""
