"""Domain prompts live in files under conf/prompts and can be overridden by config."""

from __future__ import annotations

from typing import Any

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from compress import read_prompt
from tests.conftest import ROOT


def _domain(overrides: list[str]) -> dict[str, Any]:
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides)
    return OmegaConf.to_container(cfg.domain, resolve=True)  # type: ignore[return-value]


@pytest.mark.parametrize("domain", ["nl", "code", "memory", "mixed"])
def test_each_domain_reads_its_prompt_file(domain: str) -> None:
    assert (
        _domain([f"domain={domain}"])["instruction"]
        == (ROOT / "conf" / "prompts" / f"{domain}.md").read_text().strip()
    )


def test_prompt_override_and_missing_file() -> None:
    assert _domain(["domain=code", "domain.instruction=Shorten it."])["instruction"] == "Shorten it."
    with pytest.raises(FileNotFoundError, match=r"conf/prompts/nope\.md"):
        read_prompt("nope")


def test_mixed_domain_composes_every_part() -> None:
    mixed = _domain(["domain=mixed", "data=stdlib_mixed"])
    assert set(mixed["parts"]) == {"nl", "code", "memory"}
