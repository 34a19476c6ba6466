-- Client accounts (API keys, hashed at rest), escrow reservations and participant payouts.
-- Written by the gateway (keys, reservations, charges) and the settler (refunds, rewards).
CREATE TABLE accounts (
    id text PRIMARY KEY,
    name text NOT NULL,
    key_hash text NOT NULL UNIQUE,
    balance bigint NOT NULL CHECK (balance >= 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    disabled boolean NOT NULL DEFAULT false
);

CREATE TABLE reservations (
    inference_id text PRIMARY KEY,
    account_id text NOT NULL REFERENCES accounts (id),
    reserved bigint NOT NULL,
    charged bigint,
    state text NOT NULL CHECK (state IN ('held', 'charged', 'released', 'refunded')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reservations_held ON reservations (created_at) WHERE state = 'held';

CREATE TABLE participant_balances (
    address text PRIMARY KEY,
    balance bigint NOT NULL DEFAULT 0
);
