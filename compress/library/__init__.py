"""The product surface above the compressor algorithms: load a trained run, a package or a baseline
(`load`), what the train stage wrote (`trained`), versioned packages (`package`), adapter export
(`export`) and the `compress text` command (`cli`)."""
