"""`python -m compress.export RUN_DIR [--merged] [--gguf]`: export a trained compressor (see compress.compressors.export)."""

import sys

from compress.compressors.export import main

if __name__ == "__main__":
    sys.exit(main())
