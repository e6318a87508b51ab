"""`python -m compress.serve PACKAGE ...`: the same as `compress serve PACKAGE ...`."""

from __future__ import annotations

import sys

from compress.serve.command import main

if __name__ == "__main__":
    sys.exit(main())
