"""`python -m compress.report RUN_OR_SWEEP_DIR ...`: compare runs (see compress.reporting.cli)."""

from compress.reporting.cli import main

if __name__ == "__main__":
    main()
