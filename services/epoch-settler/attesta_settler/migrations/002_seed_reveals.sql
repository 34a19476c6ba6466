-- Seeds validators reveal after an epoch (ValidatorSeedRevealed); the settler re-derives
-- from them the checks each validator owed. The first reveal per (validator, epoch) counts.
CREATE TABLE seed_reveals (
    validator text NOT NULL,
    epoch bigint NOT NULL,
    seed text NOT NULL,
    seq bigint NOT NULL,
    PRIMARY KEY (validator, epoch)
);
