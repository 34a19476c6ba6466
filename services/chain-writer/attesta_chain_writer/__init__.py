"""The chain-writer: every record into exactly one anchored Merkle batch."""
