-- Idempotency keys of desk requests (issue 11): a retried request with the same key gets the
-- first answer back instead of making a second job. 'pending' while the first runs.
CREATE TABLE idempotency_keys (
    org_id      TEXT NOT NULL,
    key         TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('pending', 'done')),
    status      INTEGER,
    headers     TEXT,
    body        BLOB,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (org_id, key)
);
CREATE INDEX idempotency_by_age ON idempotency_keys(created_at);
