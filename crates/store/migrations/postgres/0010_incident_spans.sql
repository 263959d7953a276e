-- The history reads the times of every room incident, and of the reopened and resolved entries
-- of those that reopened, from these indexes alone: the incidents' rows hold the root cause's
-- finding (often 10 KB each), which it does not need.
CREATE INDEX incidents_spans ON incidents (scope, resolved_ms, room_id, id, signal, severity, started_ms, reopened);
CREATE INDEX incident_log_spans ON incident_log (incident_id, what, at_ms);
