-- The evidence chain (ADR 0016): each device's public key (hex; the first it sent) and the
-- link its last event left.
ALTER TABLE devices ADD COLUMN public_key TEXT;
ALTER TABLE devices ADD COLUMN chain_head TEXT;

-- Webhooks (ADR 0015): an organisation's receivers, and the outbox of deliveries written in the
-- transaction that stores the event each one carries.
CREATE TABLE webhook_endpoints (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organisations(id),
    url         TEXT NOT NULL,
    secret      TEXT NOT NULL,
    events_json TEXT NOT NULL,
    -- Only jobs of this ordering party (NULL: every job of the organisation).
    ordering_party TEXT,
    created_at  TEXT NOT NULL
);
CREATE INDEX webhook_endpoints_org ON webhook_endpoints(org_id);

CREATE TABLE webhook_deliveries (
    id              TEXT PRIMARY KEY,
    endpoint_id     TEXT NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    org_id          TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    job_id          TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    -- NULL once delivered or given up.
    next_attempt_at TEXT,
    lease_until     TEXT,
    -- Who holds the lease: only that sender may record the attempt.
    lease_token     TEXT,
    delivered_at    TEXT,
    failed_at       TEXT,
    last_status     INTEGER,
    last_error      TEXT,
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(next_attempt_at)
    WHERE next_attempt_at IS NOT NULL;
CREATE INDEX webhook_deliveries_org ON webhook_deliveries(org_id, created_at);
