-- A room, or one signal of it, kept quiet until a time: incidents are still recorded, marked,
-- but not alerted.
CREATE TABLE suppressions (
    id          TEXT PRIMARY KEY,
    room_id     TEXT NOT NULL,
    signal      TEXT NOT NULL,
    reason      TEXT NOT NULL,
    from_ms     INTEGER NOT NULL,
    until_ms    INTEGER NOT NULL,
    created_by  TEXT NOT NULL,
    lifted_ms   INTEGER
);
CREATE INDEX suppressions_room ON suppressions (room_id, until_ms);
