-- Dashboard sessions: a browser signed in with a token. The cookie holds the id and a secret;
-- only the secret's SHA-256 is kept. The CSRF value is the one the session's forms carry.
CREATE TABLE sessions (
    id          TEXT PRIMARY KEY,
    hash        BYTEA NOT NULL,
    token_id    TEXT NOT NULL,
    csrf        TEXT NOT NULL,
    created_ms  BIGINT NOT NULL,
    expires_ms  BIGINT NOT NULL
);
CREATE INDEX sessions_token ON sessions (token_id);
