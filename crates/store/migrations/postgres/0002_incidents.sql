-- Incidents: a room's signal that stayed bad for its watch period, or one root cause across
-- several rooms (scope 'fleet', signal = the rule id). Times in milliseconds, UTC.
CREATE TABLE incidents (
    id           TEXT PRIMARY KEY,
    scope        TEXT NOT NULL,
    room_id      TEXT,
    signal       TEXT NOT NULL,
    severity     TEXT NOT NULL,
    state        TEXT NOT NULL,
    started_ms   BIGINT NOT NULL,
    opened_ms    BIGINT NOT NULL,
    resolved_ms  BIGINT,
    updated_ms   BIGINT NOT NULL,
    reopened     BIGINT NOT NULL,
    parent_id    TEXT,
    rule         TEXT NOT NULL,
    summary      TEXT NOT NULL,
    finding      TEXT,
    ack_ms       BIGINT,
    ack_by       TEXT,
    ack_note     TEXT
);
CREATE INDEX incidents_room ON incidents (room_id, signal, opened_ms);
CREATE INDEX incidents_state ON incidents (state, scope);
CREATE INDEX incidents_parent ON incidents (parent_id);

-- What happened to an incident, in order: opened, reopened, cause, joined, resolved, acknowledged.
CREATE TABLE incident_log (
    seq          BIGSERIAL PRIMARY KEY,
    incident_id  TEXT NOT NULL,
    at_ms        BIGINT NOT NULL,
    what         TEXT NOT NULL,
    detail       TEXT NOT NULL,
    room_id      TEXT
);
CREATE INDEX incident_log_incident ON incident_log (incident_id, seq);
