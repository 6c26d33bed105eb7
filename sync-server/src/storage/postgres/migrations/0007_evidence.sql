-- Evidence bundles (ADR 0017): a device's events, stored and refused, by its own sequence, to
-- show the stretch of its chain around a job. Read from the stored JSON (always written by the
-- server from a parsed event, so `device_seq` is an integer or absent), so nothing that writes
-- events changes.
CREATE INDEX events_device_seq ON events (
    ((event_json::jsonb) #>> '{actor,device_id}'), (((event_json::jsonb) ->> 'device_seq')::bigint));
CREATE INDEX rejections_device_seq ON rejections (
    ((event_json::jsonb) #>> '{actor,device_id}'), (((event_json::jsonb) ->> 'device_seq')::bigint));
