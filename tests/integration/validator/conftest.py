"""Fixtures of the validator integration tests, shared with the unit tests' helpers."""

import sys
from pathlib import Path

# The record-building helpers and the session's engine live with the unit tests; the test
# folders are not packages, so that folder is put on the path.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "unit" / "validator"))

from validator_records import engine, generations

__all__ = ["engine", "generations"]
