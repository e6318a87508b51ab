"""Tests of the algorithms (compress/algorithms/)."""
