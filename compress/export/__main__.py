"""`python -m compress.export RUN_DIR [--merged] [--gguf] [--package DIR]`: export a trained compressor.

`--merged` / `--gguf` (the generative kind's exports, `compress.algorithms.backends.lora_export`): the
LoRA adapter folded into its base model (RUN_DIR/export/merged), or as a GGUF LoRA for llama.cpp
(RUN_DIR/export/adapter.gguf). `--package DIR`: a self-contained, versioned compressor package of any
kind (`compress.export.package`) that `load_compressor(DIR)`, `compress text DIR` and the server read;
with `--gguf` the GGUF LoRA for llama.cpp goes into the package.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from compress.algorithms.compressors.base import find_adapter, read_meta
from compress.algorithms.kinds import kind_of_meta
from compress.export.package import log_artifact, write_package
from compress.infra.console import console
from compress.infra.errors import CompressError
from compress.infra.models.bundled import default_cache

EXPORTS = ("merged", "gguf")


def build_parser() -> argparse.ArgumentParser:
    """The export command's arguments."""
    parser = argparse.ArgumentParser(
        prog="python -m compress.export", description=(__doc__ or "").split("\n")[0]
    )
    parser.add_argument("run_dir", type=Path, help="a run dir (with train/adapter) or an adapter dir")
    parser.add_argument("--merged", action="store_true", help="merge the LoRA adapter into its base model")
    parser.add_argument("--gguf", action="store_true", help="write a GGUF LoRA adapter for llama.cpp")
    parser.add_argument("--out", type=Path, default=None, help="output dir (default RUN_DIR/export)")
    parser.add_argument(
        "--dtype",
        choices=["bfloat16", "float16", "float32"],
        default=None,
        help="merged weights of a Hub model (default bfloat16; the bundled model is always float32)",
    )
    parser.add_argument("--package", type=str, default=None, metavar="DIR", help="write a package to DIR")
    parser.add_argument("--version", default="1.0.0", help="the package's version (default 1.0.0)")
    parser.add_argument("--name", default=None, help="the package's name (default: the run dir's name)")
    parser.add_argument("--force", action="store_true", help="replace a non-empty --package DIR")
    return parser


def main(argv: list[str] | None = None) -> int:
    """CLI: export a run's adapter and/or write its package; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    exports = [k for k in EXPORTS if getattr(args, k)]
    if args.package is not None:
        # --gguf with --package: the GGUF LoRA goes into the package, not into RUN_DIR/export
        exports = [k for k in exports if k != "gguf"]
    elif not exports:
        parser.error("choose what to export: --merged, --gguf and/or --package DIR")
    cache = default_cache()
    try:
        if exports:
            adapter = find_adapter(args.run_dir)
            kind = kind_of_meta(read_meta(adapter))
            out = args.out or args.run_dir / "export"
            for name, path in kind.export(adapter, out, exports, cache, args.dtype).items():
                print(f"{name}: {path}")
        if args.package is not None:
            pkg = Path(args.package)
            manifest = write_package(
                args.run_dir,
                pkg,
                cache,
                version=args.version,
                name=args.name,
                gguf=args.gguf,
                force=args.force,
            )
            print(f"package: {pkg}")
            console.print(
                f"[green]package {manifest.name} {manifest.version}[/] ({manifest.kind}, "
                f"{len(manifest.weights)} files, {sum(w.bytes for w in manifest.weights) / 1e6:.1f} MB)",
                highlight=False,
            )
            console.print(log_artifact(args.run_dir, pkg, manifest), highlight=False)
    except CompressError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
