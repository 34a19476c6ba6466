-- Records waiting for a batch, sealed batches, leaf positions and local-ledger blocks.
CREATE TABLE ledger_pending (
    record_hash text PRIMARY KEY,
    kind text NOT NULL,
    stream_seq bigint NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ledger_batches (
    batch_seq bigint PRIMARY KEY,
    merkle_root text NOT NULL,
    leaf_count integer NOT NULL,
    state text NOT NULL CHECK (state IN ('sealed', 'anchored')),
    sealed_at timestamptz NOT NULL DEFAULT now(),
    anchored_at timestamptz,
    anchor_kind text,
    anchor_ref text,
    anchor_height bigint
);

CREATE TABLE ledger_leaves (
    record_hash text PRIMARY KEY,
    batch_seq bigint NOT NULL REFERENCES ledger_batches (batch_seq),
    leaf_index integer NOT NULL,
    kind text NOT NULL,
    UNIQUE (batch_seq, leaf_index)
);

CREATE TABLE ledger_blocks (
    height bigint PRIMARY KEY,
    batch_seq bigint NOT NULL UNIQUE REFERENCES ledger_batches (batch_seq),
    merkle_root text NOT NULL,
    leaf_count integer NOT NULL,
    prev_hash text NOT NULL,
    block_hash text NOT NULL UNIQUE,
    created_at_ms bigint NOT NULL,
    signer text NOT NULL,
    public_key text NOT NULL,
    signature text NOT NULL
);
