-- Read models of the record stream. Every row keeps the stream sequence of the record
-- that wrote it, so a settlement can be recomputed from exactly the rows it saw.
CREATE TABLE projection_positions (
    consumer text PRIMARY KEY,
    stream_seq bigint NOT NULL
);

CREATE TABLE inferences (
    inference_id text PRIMARY KEY,
    epoch bigint NOT NULL,
    endpoint text NOT NULL,
    model text NOT NULL,
    account text NOT NULL,
    executor text NOT NULL,
    gateway text NOT NULL,
    reserved bigint NOT NULL,
    requested_at_ms bigint NOT NULL,
    deadline_ms bigint NOT NULL,
    request_hash text NOT NULL,
    request_seq bigint NOT NULL,
    status text NOT NULL CHECK (status IN ('requested', 'finished', 'failed')),
    finished_hash text,
    finished_seq bigint,
    finish_reason text,
    prompt_tokens integer,
    completion_tokens integer,
    cost bigint,
    receipt jsonb,
    failure_code text,
    failure_message text
);
CREATE INDEX inferences_epoch ON inferences (epoch);

CREATE TABLE verdicts (
    record_hash text PRIMARY KEY,
    inference_id text NOT NULL,
    epoch bigint NOT NULL,
    executor text NOT NULL,
    validator text NOT NULL,
    passed boolean NOT NULL,
    checks jsonb NOT NULL,
    reasons jsonb NOT NULL,
    seq bigint NOT NULL,
    UNIQUE (inference_id, validator)
);
CREATE INDEX verdicts_epoch ON verdicts (epoch);

CREATE TABLE seed_commits (
    validator text NOT NULL,
    epoch bigint NOT NULL,
    seed_hash text NOT NULL,
    seq bigint NOT NULL,
    PRIMARY KEY (validator, epoch)
);

CREATE TABLE epoch_settlements (
    epoch bigint PRIMARY KEY,
    settlement_hash text NOT NULL UNIQUE,
    cutoff_seq bigint NOT NULL,
    record jsonb NOT NULL,
    seq bigint NOT NULL
);

CREATE TABLE participant_state (
    address text PRIMARY KEY,
    reputation integer NOT NULL DEFAULT 0,
    status text NOT NULL DEFAULT 'active',
    last_epoch bigint
);
