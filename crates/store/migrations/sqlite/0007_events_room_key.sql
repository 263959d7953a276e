-- The unique index that counts a record once leads with the room. Keys are hashes, so an index
-- on the key alone put a batch's records on as many leaf pages as it has records, and a commit
-- wrote every one of those pages to the WAL (about 6 MB for 500 heartbeats). A batch holds one
-- room's records, which now land on the few pages of that room. The key hashes the room in, so
-- the pair is unique exactly when the key is.
DROP INDEX events_key;
CREATE UNIQUE INDEX events_room_key ON events (room_id, key);
