-- The chain id is part of every signed block header (and so of its hash); a proof is
-- rebuilt from this row alone, so the row must carry it. No block exists before this
-- migration: the chain-writer, the only writer of ledger_blocks, ships with it.
ALTER TABLE ledger_blocks ADD COLUMN chain_id text NOT NULL;
