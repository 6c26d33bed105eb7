-- The Upload-Metadata header as the client sent it at creation: tus's creation extension says
-- HEAD MUST return it. Bounded by the server (tus::METADATA_MAX_BYTES) before it is stored.
ALTER TABLE uploads ADD COLUMN metadata TEXT;
