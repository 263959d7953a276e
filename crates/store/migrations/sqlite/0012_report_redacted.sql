-- An uploaded bundle's report redacted at scan time, with the names learned while reading (a
-- display name or room alias is replaced wherever the report quotes it), for sharing.
ALTER TABLE reports ADD COLUMN report_redacted TEXT;
