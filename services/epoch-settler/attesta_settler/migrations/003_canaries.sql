-- Canary secrets gateways commit to during an epoch and reveal after its cutoff
-- (CanaryCommitted, CanaryRevealed); the first of each per (gateway, epoch) counts.
CREATE TABLE canary_commits (
    gateway text NOT NULL,
    epoch bigint NOT NULL,
    secret_hash text NOT NULL,
    seq bigint NOT NULL,
    PRIMARY KEY (gateway, epoch)
);

CREATE TABLE canary_reveals (
    gateway text NOT NULL,
    epoch bigint NOT NULL,
    secret text NOT NULL,
    record_hash text NOT NULL UNIQUE,
    seq bigint NOT NULL,
    PRIMARY KEY (gateway, epoch)
);
