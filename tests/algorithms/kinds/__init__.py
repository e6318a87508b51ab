"""Tests of the compressor kinds (compress/algorithms/kinds/)."""
