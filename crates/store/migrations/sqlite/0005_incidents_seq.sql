-- How far a room's signal transitions have been judged for incidents.
ALTER TABLE rooms ADD COLUMN incidents_seq INTEGER NOT NULL DEFAULT 0;
