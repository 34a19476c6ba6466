-- When the BatchAnchored announcement of a batch was stored by JetStream. A crash between
-- anchoring and announcing must not lose the announcement: batches still sealed, or
-- anchored but unannounced, are finished at the next start.
ALTER TABLE ledger_batches ADD COLUMN announced_at timestamptz;
UPDATE ledger_batches SET announced_at = anchored_at WHERE state = 'anchored';
CREATE INDEX ledger_batches_unfinished ON ledger_batches (batch_seq)
    WHERE state = 'sealed' OR announced_at IS NULL;
