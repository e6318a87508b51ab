"""Latency and the break-even input length of a compressor against a target model.

Compressing costs compressor time (and, on rented hardware, money) before the target model sees the
text; it saves the target model's prefill time and input price on the tokens it removes. Both sides
grow with the input length, so there is an input length past which compression pays, or none.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from compress.infra.llm.costs import price_per_token
from compress.infra.schemas import BreakEven


def fit_latency(input_tokens: list[int], seconds: list[float]) -> tuple[float, float]:
    """Least-squares fixed seconds and seconds per token (both clipped at 0); proportional fit
    when the inputs do not vary enough to fit a line."""
    x, y = np.asarray(input_tokens, float), np.asarray(seconds, float)
    if len(x) >= 3 and float(np.ptp(x)) > 0:
        slope, fixed = np.polyfit(x, y, 1)
        if slope >= 0 and fixed >= 0:
            return float(fixed), float(slope)
    return 0.0, float(y.sum() / max(1.0, x.sum()))


def _crossing(fixed: float, per_token_cost: float, per_token_saving: float) -> float | None:
    """Input length where per_token_saving × L = fixed + per_token_cost × L, or None when never."""
    margin = per_token_saving - per_token_cost
    if margin <= 0:
        return None
    return fixed / margin


def break_even(
    target: Any, input_tokens: list[int], seconds: list[float], reduction: float, prices: Any = None
) -> BreakEven:
    """The compressor's break-even input length in time and in money against `target`
    (`model`, `prefill_tokens_per_s`, `usd_per_mtok` or null for LiteLLM's price, `compressor_usd_per_hour`)."""
    fixed, per_token = fit_latency(input_tokens, seconds)
    if target.get("usd_per_mtok") is not None:
        usd_per_token = float(target.usd_per_mtok) / 1e6
    else:
        known = price_per_token(str(target.model), prices)
        usd_per_token = known[0] if known else 0.0
    prefill = float(target.prefill_tokens_per_s)
    usd_per_s = float(target.compressor_usd_per_hour) / 3600
    saved_s_per_token = reduction / prefill
    saved_usd_per_token = reduction * usd_per_token
    return BreakEven(
        target_model=str(target.model),
        prefill_tokens_per_s=prefill,
        usd_per_mtok_input=usd_per_token * 1e6,
        compressor_usd_per_hour=float(target.compressor_usd_per_hour),
        reduction=reduction,
        compressor_fixed_s=fixed,
        compressor_s_per_1k=per_token * 1000,
        target_s_saved_per_1k=saved_s_per_token * 1000,
        break_even_tokens_time=_crossing(fixed, per_token, saved_s_per_token),
        usd_saved_per_1k=(saved_usd_per_token - per_token * usd_per_s) * 1000,
        break_even_tokens_money=_crossing(fixed * usd_per_s, per_token * usd_per_s, saved_usd_per_token),
    )
