-- Schema version 2: the one-PATCH-at-a-time guard of a tus upload lives in the database, so it
-- holds across processes (it was a lock map in process memory).
ALTER TABLE uploads ADD COLUMN lease_token TEXT;
ALTER TABLE uploads ADD COLUMN lease_until TEXT;
