-- Recurring maintenance windows, in each room's local time: alerts wait, history records.
CREATE TABLE windows (
    id          TEXT PRIMARY KEY,
    room_id     TEXT NOT NULL,
    site        TEXT NOT NULL,
    days        TEXT NOT NULL,
    start_min   BIGINT NOT NULL,
    end_min     BIGINT NOT NULL,
    reason      TEXT NOT NULL,
    created_ms  BIGINT NOT NULL
);
