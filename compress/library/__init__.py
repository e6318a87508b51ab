"""The compressor as a library: load a trained run, a package or a baseline and compress (`load`:
`load_compressor`, `LoadedCompressor`, `CompressResult`), and the `compress text` command (`command`)."""
