-- The fleet schema, SQLite flavour. Times are milliseconds since the Unix epoch, UTC.
CREATE TABLE tokens (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    role        TEXT NOT NULL,
    room_id     TEXT,
    hash        BLOB NOT NULL,
    created_ms  INTEGER NOT NULL,
    revoked_ms  INTEGER
);

CREATE TABLE audit (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms    INTEGER NOT NULL,
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
    first_heard_ms  INTEGER NOT NULL,
    last_heard_ms   INTEGER NOT NULL,
    last_heartbeat_ms INTEGER,
    last_event_ms   INTEGER,
    retired         INTEGER NOT NULL,
    merged_into     TEXT,
    diagnosis       TEXT,
    diagnosis_ms    INTEGER,
    dirty           INTEGER NOT NULL
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
    since_ms    INTEGER NOT NULL,
    updated_ms  INTEGER NOT NULL,
    PRIMARY KEY (room_id, signal)
);

CREATE TABLE transitions (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    room_id     TEXT NOT NULL,
    signal      TEXT NOT NULL,
    from_state  TEXT NOT NULL,
    to_state    TEXT NOT NULL,
    status      TEXT NOT NULL,
    at_ms       INTEGER NOT NULL
);
CREATE INDEX transitions_room ON transitions (room_id, at_ms);

CREATE TABLE events (
    key          BLOB PRIMARY KEY,
    room_id      TEXT NOT NULL,
    time_ms      INTEGER,
    received_ms  INTEGER NOT NULL,
    kind         TEXT NOT NULL,
    source       TEXT NOT NULL,
    event_id     INTEGER,
    record_id    INTEGER,
    body         TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX events_room_time ON events (room_id, time_ms);

CREATE TABLE reports (
    id           TEXT PRIMARY KEY,
    room_id      TEXT,
    name         TEXT NOT NULL,
    status       TEXT NOT NULL,
    size         INTEGER NOT NULL,
    created_ms   INTEGER NOT NULL,
    finished_ms  INTEGER,
    file         TEXT,
    report       TEXT,
    error        TEXT
);
CREATE INDEX reports_room ON reports (room_id, created_ms);

CREATE TABLE secrets (
    name        TEXT PRIMARY KEY,
    sealed      BLOB NOT NULL,
    created_ms  INTEGER NOT NULL
);
