-- One index on events where there were two. The pair of (room, key) and (room, time) put each
-- small batch's records on a leaf of each, two pages a commit wrote for a few rows. This one
-- index orders a room's records by time, so it serves the time windows, and it ends with the
-- key, so it keeps a room's keys unique: a key hashes the record's time (or the whole record,
-- time included), so one key never comes with two times, and the triple is unique exactly when
-- the pair was. A record without a time sorts first, at the value the store's queries use for
-- "no time" (crates/store/src/sql.rs, NO_TIME).
CREATE UNIQUE INDEX events_room_time_key ON events (room_id, ifnull(time_ms, -9223372036854775807), key);
DROP INDEX events_room_key;
DROP INDEX events_room_time;
