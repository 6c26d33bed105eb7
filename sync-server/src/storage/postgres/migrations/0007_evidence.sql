-- Evidence bundles (ADR 0017): a device's events, stored and refused, by its own sequence, to
-- show the stretch of its chain around a job. The device and its sequence are kept as columns,
-- written with each event. Rows from before are filled from the stored JSON, except those
-- holding the escape `\u0000`, which PostgreSQL's JSON functions cannot read (so nothing else
-- reads stored events with them; a row whose text holds a typed backslash followed by "u0000"
-- is taken for one and stays out of chains too). A refused event that named another device than the one that
-- sent it (`wrong_device`) is in no device's chain: its device stays empty.
ALTER TABLE events ADD COLUMN device_id uuid, ADD COLUMN device_seq bigint;
UPDATE events SET device_id = (event_json::json #>> '{actor,device_id}')::uuid,
                  device_seq = (event_json::json ->> 'device_seq')::bigint
 WHERE strpos(event_json, E'\\u0000') = 0;
CREATE INDEX events_device_seq ON events (device_id, device_seq) WHERE device_id IS NOT NULL;
ALTER TABLE rejections ADD COLUMN device_id uuid, ADD COLUMN device_seq bigint;
UPDATE rejections SET device_id = (event_json::json #>> '{actor,device_id}')::uuid,
                      device_seq = (event_json::json ->> 'device_seq')::bigint
 WHERE strpos(event_json, E'\\u0000') = 0 AND rule <> 'wrong_device';
CREATE INDEX rejections_device_seq ON rejections (device_id, device_seq)
 WHERE device_id IS NOT NULL;
