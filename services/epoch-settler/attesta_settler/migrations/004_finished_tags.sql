-- The tag of each finished record: a marked inference is a canary only if its executor's
-- tag opens with the revealed canary secret (attesta_common.canary.spoil_tag).
ALTER TABLE inferences ADD COLUMN finished_tag text;
