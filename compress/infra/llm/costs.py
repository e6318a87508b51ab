"""Prices per token: configured ones first, then LiteLLM's table; the bundled local model is free."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from compress.infra.llm.retry import litellm_module


def price_per_token(model: str, prices: Mapping[str, Any] | None = None) -> tuple[float, float] | None:
    """(input, output) USD per token, or None when nobody knows the price."""
    if model.startswith("local/"):
        return 0.0, 0.0
    if prices and model in prices:
        p = prices[model]
        return float(p["input_per_mtok"]) / 1e6, float(p["output_per_mtok"]) / 1e6
    try:
        info = litellm_module().get_model_info(model)
    except Exception:
        return None
    inp, out = info.get("input_cost_per_token"), info.get("output_cost_per_token")
    if inp is None or out is None:
        return None
    return float(inp), float(out)


def cost_usd(price: tuple[float, float] | None, prompt_tokens: int, completion_tokens: int) -> float:
    """The cost of a call at a price (0 when unpriced)."""
    if price is None:
        return 0.0
    return price[0] * prompt_tokens + price[1] * completion_tokens
