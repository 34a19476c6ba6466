"""The Cosmos adapter of the `ChainAnchor` port: one self-transfer per batch, its memo
carrying the batch root (see `memo`), signed offline and broadcast through cosmpy.
"""
