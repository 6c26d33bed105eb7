-- Evidence bundles (ADR 0017): a device's events, stored and refused, by its own sequence, to
-- show the stretch of its chain around a job. The device and its sequence are kept as columns,
-- written with each event (from the stored JSON for rows from before). A refused event that
-- named another device than the one that sent it (`wrong_device`) is in no device's chain:
-- its device stays empty.
ALTER TABLE events ADD COLUMN device_id TEXT;
ALTER TABLE events ADD COLUMN device_seq INTEGER;
UPDATE events SET device_id = json_extract(event_json, '$.actor.device_id'),
                  device_seq = json_extract(event_json, '$.device_seq');
CREATE INDEX events_device_seq ON events(device_id, device_seq) WHERE device_id IS NOT NULL;
ALTER TABLE rejections ADD COLUMN device_id TEXT;
ALTER TABLE rejections ADD COLUMN device_seq INTEGER;
UPDATE rejections SET device_id = json_extract(event_json, '$.actor.device_id'),
                      device_seq = json_extract(event_json, '$.device_seq')
 WHERE rule <> 'wrong_device';
CREATE INDEX rejections_device_seq ON rejections(device_id, device_seq)
 WHERE device_id IS NOT NULL;
