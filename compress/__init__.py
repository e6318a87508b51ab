"""compress: semantic compression of LLM inputs, as an experiment-tracking research framework."""

__version__ = "0.1.0"
