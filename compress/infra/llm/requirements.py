"""What calling a LiteLLM model string needs on this machine: its key, a bundled model, an endpoint's key."""

from __future__ import annotations

import os
from typing import Any

from compress.infra.models.bundled import LOCAL_MODELS
from compress.infra.secrets import PROVIDER_KEYS


def model_needs(model: str, stage: str, role: str, endpoints: Any = None) -> list[str]:
    """What `model` lacks here to be called by `stage` as `role` (empty when it can be called)."""
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
