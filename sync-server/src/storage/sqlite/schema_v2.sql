-- The SHA-256 state over an upload's committed bytes, advanced with its offset, so the last
-- byte is verified without reading the whole file again.
ALTER TABLE uploads ADD COLUMN hash_state BLOB;
