"""Tests of the infrastructure (compress/infra/)."""
