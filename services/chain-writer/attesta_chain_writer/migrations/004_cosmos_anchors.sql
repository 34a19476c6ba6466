-- Anchoring transactions of the Cosmos adapter, one row per batch. The signed bytes are
-- stored before they are broadcast, so a restart looks the same transaction up (and
-- resends the same bytes) instead of anchoring the batch a second time.
CREATE TABLE cosmos_anchors (
    batch_seq bigint PRIMARY KEY,
    merkle_root text NOT NULL,
    leaf_count integer NOT NULL,
    epoch bigint NOT NULL,
    tx_hash text NOT NULL,
    tx_bytes bytea NOT NULL,
    sequence bigint NOT NULL,
    state text NOT NULL CHECK (state IN ('signed', 'included', 'rejected')),
    height bigint,
    updated_at timestamptz NOT NULL DEFAULT now()
);
