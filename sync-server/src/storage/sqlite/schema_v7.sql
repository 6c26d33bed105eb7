-- Evidence bundles (ADR 0017): a device's events, stored and refused, by its own sequence, to
-- show the stretch of its chain around a job. Read from the stored JSON, so nothing that
-- writes events changes.
CREATE INDEX events_device_seq ON events(
    json_extract(event_json, '$.actor.device_id'), json_extract(event_json, '$.device_seq'));
CREATE INDEX rejections_device_seq ON rejections(
    json_extract(event_json, '$.actor.device_id'), json_extract(event_json, '$.device_seq'));
