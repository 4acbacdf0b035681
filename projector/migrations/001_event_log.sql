-- The durable, append-only archive of every stream entry (see events/archive.py).
CREATE TABLE IF NOT EXISTS event_log (
    topic text NOT NULL,
    ms bigint NOT NULL,
    seq bigint NOT NULL,
    type text NOT NULL,
    version integer NOT NULL,
    data json NOT NULL,
    archived_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, ms, seq)
);

CREATE OR REPLACE FUNCTION event_log_is_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'event_log is append-only';
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS event_log_append_only ON event_log;
CREATE TRIGGER event_log_append_only BEFORE UPDATE OR DELETE ON event_log
    FOR EACH ROW EXECUTE FUNCTION event_log_is_append_only();
