"""Data: the corpora (the standard library, user files), domain routing, seed amplification."""
