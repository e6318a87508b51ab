"""`python -m compress.export RUN_DIR [--merged] [--gguf] [--package DIR]`: export a trained compressor.

`--merged` / `--gguf`: see compress.algorithms.backends.lora_export. `--package DIR`: a self-contained, versioned
compressor package (compress.export.package) that `load_compressor(DIR)`, `compress text DIR` and
the server read; with `--gguf` the GGUF LoRA for llama.cpp goes into the package.
"""

from __future__ import annotations

import sys
from pathlib import Path

from compress.algorithms.backends.lora_export import (
    KINDS,
    build_parser,
    default_cache,
    export_all,
    find_adapter,
)
from compress.export.package import log_artifact, write_package
from compress.infra.console import console
from compress.infra.errors import CompressError


def main(argv: list[str] | None = None) -> int:
    """CLI: export a run's adapter and/or write its package; returns the exit status."""
    parser = build_parser()
    parser.description = (__doc__ or "").split("\n")[0]
    parser.add_argument("--package", type=str, default=None, metavar="DIR", help="write a package to DIR")
    parser.add_argument("--version", default="1.0.0", help="the package's version (default 1.0.0)")
    parser.add_argument("--name", default=None, help="the package's name (default: the run dir's name)")
    parser.add_argument("--force", action="store_true", help="replace a non-empty --package DIR")
    args = parser.parse_args(argv)
    kinds = [k for k in KINDS if getattr(args, k)]
    if args.package is not None:
        # --gguf with --package: the GGUF LoRA goes into the package, not into RUN_DIR/export
        kinds = [k for k in kinds if k != "gguf"]
    elif not kinds:
        parser.error("choose what to export: --merged, --gguf and/or --package DIR")
    cache = default_cache()
    try:
        if kinds:
            adapter = find_adapter(args.run_dir)
            for kind, path in export_all(
                adapter, args.out or args.run_dir / "export", kinds, cache, args.dtype
            ).items():
                print(f"{kind}: {path}")
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
