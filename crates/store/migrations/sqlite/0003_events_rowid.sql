-- Events move from a WITHOUT ROWID table keyed by their hash to an ordinary table with a unique
-- index on the hash. A WITHOUT ROWID table keeps whole rows in its B-tree, ordered by the
-- random hash: an event body of a kilobyte or two overflows its cell, so every insert compared
-- keys by reading overflow pages and rebalanced pages of big rows at random places in the file.
-- Now rows are appended and only the 32-byte hashes are placed at random.
CREATE TABLE events_rowid (
    key          BLOB NOT NULL,
    room_id      TEXT NOT NULL,
    time_ms      INTEGER,
    received_ms  INTEGER NOT NULL,
    kind         TEXT NOT NULL,
    source       TEXT NOT NULL,
    event_id     INTEGER,
    record_id    INTEGER,
    body         TEXT NOT NULL
);
INSERT INTO events_rowid (key, room_id, time_ms, received_ms, kind, source, event_id, record_id, body)
    SELECT key, room_id, time_ms, received_ms, kind, source, event_id, record_id, body FROM events
    ORDER BY received_ms, room_id, time_ms;
DROP TABLE events;
ALTER TABLE events_rowid RENAME TO events;
CREATE UNIQUE INDEX events_key ON events (key);
CREATE INDEX events_room_time ON events (room_id, time_ms);
