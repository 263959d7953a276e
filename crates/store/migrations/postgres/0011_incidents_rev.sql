-- Bumped by every write of a room's incidents: an evaluation writes only when the room's
-- incidents are still as it read them, so two evaluations of one room never interleave.
ALTER TABLE rooms ADD COLUMN incidents_rev BIGINT NOT NULL DEFAULT 0;
