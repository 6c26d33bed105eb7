-- Idempotency keys of desk requests (issue 11): a retried request with the same key gets the
-- first answer back instead of making a second job. 'pending' while the first runs.
CREATE TABLE idempotency_keys (
    org_id      uuid NOT NULL,
    key         text NOT NULL,
    fingerprint text NOT NULL,
    state       text NOT NULL CHECK (state IN ('pending', 'done')),
    status      integer,
    headers     text,
    body        bytea,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (org_id, key)
);
CREATE INDEX idempotency_by_age ON idempotency_keys(created_at);
