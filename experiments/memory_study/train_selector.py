"""Train the selector as the default run's train stage does, with or without labels from generated
long histories (`compressor.labels.memory`), for the study to compare.

    HF_HUB_OFFLINE=1 .venv/bin/python experiments/memory_study/train_selector.py --memory 500 \
        --out outputs/memory_study/selector_mem500

The evaluation's texts are not excluded here (the study's tasks are generated histories and haystacks
from seeds the labels never draw: `compress.algorithms.teachers.memory_labels.LABEL_SEED`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from compress.algorithms.kinds.selector import train_selector  # noqa: E402


def main() -> None:
    """Train and save one selector."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--memory", type=int, default=500)
    ap.add_argument("--first-pass", default="hybrid")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    node = OmegaConf.load(ROOT / "conf" / "compressor" / "selector.yaml")
    assert isinstance(node, DictConfig)
    node.pop("defaults")
    cfg = OmegaConf.create({"seed": 0, "compressor": node})
    OmegaConf.update(cfg, "compressor.labels.memory", args.memory)
    OmegaConf.update(cfg, "compressor.first_pass", args.first_pass)
    args.out.mkdir(parents=True, exist_ok=True)
    result = train_selector(cfg, [], args.out, lambda m, step=None: None)
    print({k: v for k, v in result.items() if not isinstance(v, list)})


if __name__ == "__main__":
    main()
