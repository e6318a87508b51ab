"""Versioned compressor packages: a self-contained dir that `load_compressor` and the server read.

    python -m compress.export RUN_DIR --package DIR [--version 1.2.0] [--name NAME] [--gguf] [--force]

A package holds `manifest.json` (`PackageManifest`: format version, package version, kind, base model,
the weight files with their sizes and SHA-256, the tokenizer that counts, the evaluate summary's
headline metrics, the run's stage fingerprints and config, each domain's settings, when it was made),
`adapter/` (every file the train stage wrote beside the adapter, plus the GGUF LoRA when exported) and
`summary.json` (the run's whole evaluate summary, when it has one). Nothing in it points back at the
run dir. The run's logger config decides the W&B artifact: uploaded when online, skipped otherwise.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from pydantic import BaseModel, Field, ValidationError

from compress import __version__
from compress.algorithms.compressors.base import find_adapter, read_meta
from compress.algorithms.data.domains import domain_table
from compress.algorithms.kinds import kind_of_meta
from compress.infra.errors import CompressError
from compress.infra.schemas import EvalSummary, StageRecord
from compress.infra.secrets import scrub

MANIFEST = "manifest.json"
FORMAT_VERSION = 1
ADAPTER_DIR = "adapter"
# the figures of the trained compressor's row a manifest carries (the rest stay in summary.json)
HEADLINE = (
    "n",
    "token_reduction",
    "achieved_rate",
    "equivalence_min",
    "equivalence_mean",
    "pass_rate",
    "fact_recall",
    "cloze_accuracy",
    "latency_p50_s",
    "latency_p95_s",
    "worst_model",
)
DEFAULT_TARGET = "local/gemma3-270m"


class WeightFile(BaseModel):
    """One file of the package's weights, as it must be found on load."""

    path: str  # relative to the package dir
    bytes: int
    sha256: str


class TokenizerInfo(BaseModel):
    """Whose tokenizer counts: the LiteLLM model string, and the tokenizer name the run's tables give."""

    model: str
    name: str | None = None


class PackageManifest(BaseModel):
    """What a package is and what it was measured at (`manifest.json`)."""

    format_version: int
    name: str
    version: str
    kind: str  # selector | generative | classifier | ...: what compressor.json says
    created: str
    compress_version: str
    base_model: dict[str, Any]
    adapter_dir: str = ADAPTER_DIR
    weights: list[WeightFile]
    tokenizer: TokenizerInfo
    metrics: dict[str, Any] = Field(default_factory=dict)
    fingerprints: dict[str, str] = Field(default_factory=dict)
    config: dict[str, Any] = Field(default_factory=dict)
    domains: dict[str, dict[str, Any]] = Field(default_factory=dict)
    source_run: str = ""


def run_config(run_dir: Path) -> DictConfig | None:
    """The config a run was made with (Hydra's `.hydra/config.yaml`, unresolved), None for a bare adapter dir."""
    path = run_dir / ".hydra" / "config.yaml"
    if not path.is_file():
        return None
    cfg = OmegaConf.load(path)
    assert isinstance(cfg, DictConfig)
    return cfg


def target_model_of(cfg: DictConfig | None) -> str:
    """The model whose tokenizer counted a run's tokens: `tokens.model`, else its first validator."""
    if cfg is None:
        return DEFAULT_TARGET
    tokens = OmegaConf.select(cfg, "tokens.model")
    models = OmegaConf.select(cfg, "validation.models") or []
    return str(tokens or (models[0] if len(models) else DEFAULT_TARGET))


def run_dir_of(adapter: Path) -> Path:
    """The run dir an adapter dir belongs to (RUN/train/adapter), else the adapter dir itself."""
    return adapter.parent.parent if adapter.parent.name == "train" else adapter


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def headline_metrics(run_dir: Path) -> dict[str, Any]:
    """The trained compressor's headline figures from the run's evaluate/summary.json ({} without one)."""
    path = run_dir / "evaluate" / "summary.json"
    if not path.is_file():
        return {}
    summary = EvalSummary.model_validate_json(path.read_text())
    row = next((m for m in summary.methods if m.method == "trained"), None)
    out: dict[str, Any] = {"tokenizer": summary.tokenizer, "validator_models": summary.validator_models}
    if row is not None:
        out |= {k: getattr(row, k) for k in HEADLINE}
    out["vs_baselines"] = [
        {"baseline": c.baseline, "metric": c.metric, "diff": c.diff, "ci_low": c.ci_low, "ci_high": c.ci_high}
        for c in summary.headline
        if c.method == "trained" and c.rate is None
    ]
    return out


def fingerprints(run_dir: Path) -> dict[str, str]:
    """Each finished stage's content fingerprint (its `_DONE.json`)."""
    out = {}
    for done in sorted(run_dir.glob("*/_DONE.json")):
        rec = StageRecord.model_validate_json(done.read_text())
        out[rec.stage] = rec.fingerprint
    return out


def write_package(
    run: Path,
    out: Path,
    cache_dir: Path,
    *,
    version: str = "1.0.0",
    name: str | None = None,
    gguf: bool = False,
    force: bool = False,
) -> PackageManifest:
    """Write the package of a run (or adapter) dir `run` to `out`; refuses a non-empty `out` unless `force`.

    `gguf`: export the GGUF LoRA for llama.cpp first (one already beside the adapter is always copied)."""
    adapter = find_adapter(run)
    meta = read_meta(adapter)
    kind = kind_of_meta(meta)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not force:
        raise CompressError(f"--package {out}: not empty. Choose a new dir, or pass --force to replace it.")
    if out.resolve() == adapter.resolve() or out.resolve() in adapter.resolve().parents:
        # --force would delete the run it packages
        raise CompressError(f"--package {out}: holds the adapter {adapter}; write the package elsewhere.")
    # the kind checks what its package needs and writes what it carries (the GGUF LoRA with gguf)
    kind.prepare_package(adapter, meta, cache_dir, gguf)
    run_dir = run_dir_of(adapter)
    cfg = run_config(run_dir)
    tmp = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / ADAPTER_DIR).mkdir(parents=True)
    weights = []
    for src in sorted(
        p for p in adapter.rglob("*") if p.is_file() and not p.name.endswith((".lock", ".tmp"))
    ):
        rel = src.relative_to(adapter)
        dst = tmp / ADAPTER_DIR / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)  # keeps mtimes: a copied GGUF LoRA stays fresher than the weights it came from
        weights.append(WeightFile(path=f"{ADAPTER_DIR}/{rel}", bytes=dst.stat().st_size, sha256=_sha256(dst)))
    summary = run_dir / "evaluate" / "summary.json"
    if summary.is_file():
        shutil.copy2(summary, tmp / "summary.json")
    metrics = headline_metrics(run_dir)
    where = str(run_dir / ".hydra" / "config.yaml")
    domains = domain_table(cfg.domain if cfg is not None else None, where)
    manifest = PackageManifest(
        format_version=FORMAT_VERSION,
        name=name or run_dir.name,
        version=version,
        kind=kind.name,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        compress_version=__version__,
        base_model=dict(meta.get("model") or {}),
        weights=weights,
        tokenizer=TokenizerInfo(model=target_model_of(cfg), name=metrics.get("tokenizer")),
        metrics=metrics,
        fingerprints=fingerprints(run_dir),
        config=scrub(OmegaConf.to_container(cfg, resolve=False)) if cfg is not None else {},
        domains={k: scrub(OmegaConf.to_container(v, resolve=True)) for k, v in domains.items()},
        source_run=str(run_dir.resolve()),
    )
    (tmp / MANIFEST).write_text(manifest.model_dump_json(indent=2))
    if out.exists():
        shutil.rmtree(out) if out.is_dir() else out.unlink()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp.rename(out)
    return manifest


def read_manifest(pkg: Path, verify: bool = True) -> PackageManifest:
    """A package's manifest, checked: a format this code reads, and every weight file present and intact
    (`verify`: sizes and SHA-256)."""
    path = pkg / MANIFEST
    try:
        raw = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise CompressError(
            f"{path}: not a readable package manifest ({exc}). Re-export the package."
        ) from exc
    fmt = raw.get("format_version") if isinstance(raw, dict) else None
    if not isinstance(fmt, int) or fmt > FORMAT_VERSION:
        raise CompressError(
            f"{path}: package format {fmt!r}; this compress {__version__} reads format {FORMAT_VERSION} "
            "and older. Upgrade compress or re-export the package with this version."
        )
    try:
        manifest = PackageManifest.model_validate(raw)
    except ValidationError as exc:
        raise CompressError(f"{path}: not a valid package manifest: {exc}") from exc
    if verify:
        for w in manifest.weights:
            f = pkg / w.path
            if not f.is_file():
                raise CompressError(f"package {pkg}: {w.path} is missing. Copy the whole package dir.")
            if f.stat().st_size != w.bytes or _sha256(f) != w.sha256:
                raise CompressError(
                    f"package {pkg}: {w.path} does not match its manifest (size or SHA-256): the copy is "
                    "damaged or was edited. Copy or export the package again."
                )
    return manifest


def log_artifact(run: Path, pkg: Path, manifest: PackageManifest) -> str:
    """Upload the package as a W&B artifact when the run logged online; otherwise say why not."""
    cfg = run_config(run_dir_of(find_adapter(run)))
    logger = OmegaConf.select(cfg, "logger") if cfg is not None else None
    if logger is None or str(logger.get("kind")) != "wandb" or str(logger.get("mode")) != "online":
        mode = "no logger config" if logger is None else f"logger {logger.get('kind')}/{logger.get('mode')}"
        return f"W&B artifact skipped ({mode}; a run logged with logger=wandb_online uploads its packages)."
    import wandb

    run_obj = wandb.init(
        project=str(logger.project),
        entity=logger.get("entity") or None,
        job_type="package",
        name=f"{manifest.name}/package",
        config=scrub(manifest.config),
        settings=wandb.Settings(console="off", x_disable_stats=True, silent=True),
    )
    art_name = "".join(c if c.isalnum() or c in "-_." else "-" for c in manifest.name)
    art = wandb.Artifact(
        name=art_name,
        type="compressor",
        metadata=scrub(manifest.model_dump(exclude={"config", "weights"})),
    )
    art.add_dir(str(pkg))
    run_obj.log_artifact(art, aliases=[f"version-{manifest.version}", "latest"])
    run_obj.finish()
    return f"W&B artifact {art_name}:{manifest.version} logged to {logger.project}."
