"""Fixtures of the validator unit tests (defined once in validator_records)."""

from validator_records import engine, generations

__all__ = ["engine", "generations"]
