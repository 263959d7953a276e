-- The fleet schema, PostgreSQL flavour. Times are milliseconds since the Unix epoch, UTC.
CREATE TABLE tokens (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    role        TEXT NOT NULL,
    room_id     TEXT,
    hash        BYTEA NOT NULL,
    created_ms  BIGINT NOT NULL,
    revoked_ms  BIGINT
);

CREATE TABLE audit (
    seq      BIGSERIAL PRIMARY KEY,
    at_ms    BIGINT NOT NULL,
    actor    TEXT NOT NULL,
    action   TEXT NOT NULL,
    target   TEXT NOT NULL,
    detail   TEXT NOT NULL
);

CREATE TABLE rooms (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    computer        TEXT NOT NULL,
    alias           TEXT NOT NULL,
    display_name    TEXT NOT NULL,
    site            TEXT NOT NULL,
    tags            TEXT NOT NULL,
    model           TEXT NOT NULL,
    peripherals     TEXT NOT NULL,
    app_version     TEXT NOT NULL,
    os_version      TEXT NOT NULL,
    ipv4            TEXT NOT NULL,
    timezone        TEXT NOT NULL,
    first_heard_ms  BIGINT NOT NULL,
    last_heard_ms   BIGINT NOT NULL,
    last_heartbeat_ms BIGINT,
    last_event_ms   BIGINT,
    retired         BIGINT NOT NULL,
    merged_into     TEXT,
    diagnosis       TEXT,
    diagnosis_ms    BIGINT,
    dirty           BIGINT NOT NULL
);

CREATE TABLE room_names (
    kind     TEXT NOT NULL,
    value    TEXT NOT NULL,
    room_id  TEXT NOT NULL,
    PRIMARY KEY (kind, value)
);

CREATE TABLE signals (
    room_id     TEXT NOT NULL,
    signal      TEXT NOT NULL,
    state       TEXT NOT NULL,
    status      TEXT NOT NULL,
    since_ms    BIGINT NOT NULL,
    updated_ms  BIGINT NOT NULL,
    PRIMARY KEY (room_id, signal)
);

CREATE TABLE transitions (
    seq         BIGSERIAL PRIMARY KEY,
    room_id     TEXT NOT NULL,
    signal      TEXT NOT NULL,
    from_state  TEXT NOT NULL,
    to_state    TEXT NOT NULL,
    status      TEXT NOT NULL,
    at_ms       BIGINT NOT NULL
);
CREATE INDEX transitions_room ON transitions (room_id, at_ms);

CREATE TABLE events (
    key          BYTEA PRIMARY KEY,
    room_id      TEXT NOT NULL,
    time_ms      BIGINT,
    received_ms  BIGINT NOT NULL,
    kind         TEXT NOT NULL,
    source       TEXT NOT NULL,
    event_id     BIGINT,
    record_id    BIGINT,
    body         TEXT NOT NULL
);
CREATE INDEX events_room_time ON events (room_id, time_ms);

CREATE TABLE reports (
    id           TEXT PRIMARY KEY,
    room_id      TEXT,
    name         TEXT NOT NULL,
    status       TEXT NOT NULL,
    size         BIGINT NOT NULL,
    created_ms   BIGINT NOT NULL,
    finished_ms  BIGINT,
    file         TEXT,
    report       TEXT,
    error        TEXT
);
CREATE INDEX reports_room ON reports (room_id, created_ms);

CREATE TABLE secrets (
    name        TEXT PRIMARY KEY,
    sealed      BYTEA NOT NULL,
    created_ms  BIGINT NOT NULL
);
