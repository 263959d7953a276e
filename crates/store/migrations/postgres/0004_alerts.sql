-- Where alerts go, and the alerts themselves (an outbox: written with the incident change that
-- causes them, delivered at least once by whichever server instance takes them first).
CREATE TABLE webhooks (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    name         TEXT NOT NULL,
    -- The URL and the signing secret, sealed with the data folder's key.
    url_sealed   BYTEA NOT NULL,
    secret_sealed BYTEA,
    url_hint     TEXT NOT NULL,
    site         TEXT NOT NULL,
    min_severity TEXT NOT NULL,
    created_ms   BIGINT NOT NULL
);

CREATE TABLE alerts (
    id              TEXT PRIMARY KEY,
    webhook_id      TEXT NOT NULL,
    incident_id     TEXT NOT NULL,
    event           TEXT NOT NULL,
    body            TEXT NOT NULL,
    created_ms      BIGINT NOT NULL,
    state           TEXT NOT NULL,
    attempts        BIGINT NOT NULL,
    next_attempt_ms BIGINT NOT NULL,
    lease_owner     TEXT,
    lease_until_ms  BIGINT,
    last_status     BIGINT,
    last_error      TEXT,
    delivered_ms    BIGINT
);
CREATE INDEX alerts_due ON alerts (state, next_attempt_ms);
CREATE INDEX alerts_incident ON alerts (incident_id);
