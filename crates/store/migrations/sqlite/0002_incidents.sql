-- Incidents: a room's signal that stayed bad for its watch period, or one root cause across
-- several rooms (scope 'fleet', signal = the rule id). Times in milliseconds, UTC.
CREATE TABLE incidents (
    id           TEXT PRIMARY KEY,
    scope        TEXT NOT NULL,
    room_id      TEXT,
    signal       TEXT NOT NULL,
    severity     TEXT NOT NULL,
    state        TEXT NOT NULL,
    started_ms   INTEGER NOT NULL,
    opened_ms    INTEGER NOT NULL,
    resolved_ms  INTEGER,
    updated_ms   INTEGER NOT NULL,
    reopened     INTEGER NOT NULL,
    parent_id    TEXT,
    rule         TEXT NOT NULL,
    summary      TEXT NOT NULL,
    finding      TEXT,
    ack_ms       INTEGER,
    ack_by       TEXT,
    ack_note     TEXT
);
CREATE INDEX incidents_room ON incidents (room_id, signal, opened_ms);
CREATE INDEX incidents_state ON incidents (state, scope);
CREATE INDEX incidents_parent ON incidents (parent_id);

-- What happened to an incident, in order: opened, reopened, cause, joined, resolved, acknowledged.
CREATE TABLE incident_log (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id  TEXT NOT NULL,
    at_ms        INTEGER NOT NULL,
    what         TEXT NOT NULL,
    detail       TEXT NOT NULL,
    room_id      TEXT
);
CREATE INDEX incident_log_incident ON incident_log (incident_id, seq);
