"""Hydra plugins of this project: a Ray launcher and an Optuna sweeper whose study resumes.

Hydra finds them through the `hydra_plugins` namespace package (installed with the project)."""
