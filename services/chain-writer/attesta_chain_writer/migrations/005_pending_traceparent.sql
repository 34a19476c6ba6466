-- The W3C traceparent a record was published with, so the batch that anchors it can link
-- back to the record's trace.
ALTER TABLE ledger_pending ADD COLUMN traceparent text;
