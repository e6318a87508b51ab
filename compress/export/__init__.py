"""Exporting a trained compressor: versioned packages (`package`) and the command
`python -m compress.export RUN_DIR [--merged] [--gguf] [--package DIR]` (`__main__`)."""
