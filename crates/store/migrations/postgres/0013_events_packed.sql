-- Event bodies are stored packed (deflated against a dictionary of typical records; see
-- crates/store/src/pack.rs) in `body_packed`, and new rows leave `body` empty. Rows stored
-- before keep their JSON in `body` with no packed copy, and are read as they are.
ALTER TABLE events ADD COLUMN body_packed BYTEA;
