-- The evidence chain (ADR 0016): each device's public key (hex; the first it sent) and the
-- link its last event left.
ALTER TABLE devices ADD COLUMN public_key text;
ALTER TABLE devices ADD COLUMN chain_head text;

-- Webhooks (ADR 0015): an organisation's receivers, and the outbox of deliveries written in the
-- transaction that stores the event each one carries.
CREATE TABLE webhook_endpoints (
    id uuid PRIMARY KEY,
    org_id uuid NOT NULL REFERENCES organisations(id),
    url text NOT NULL,
    secret text NOT NULL,
    events_json text NOT NULL,
    -- Only jobs of this ordering party (NULL: every job of the organisation).
    ordering_party text,
    created_at timestamptz NOT NULL
);
CREATE INDEX webhook_endpoints_org ON webhook_endpoints(org_id);

CREATE TABLE webhook_deliveries (
    id uuid PRIMARY KEY,
    endpoint_id uuid NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    org_id uuid NOT NULL,
    event_id uuid NOT NULL,
    job_id uuid NOT NULL,
    event_type text NOT NULL,
    created_at timestamptz NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    -- NULL once delivered or given up.
    next_attempt_at timestamptz,
    lease_until timestamptz,
    -- Who holds the lease: only that sender may record the attempt.
    lease_token uuid,
    delivered_at timestamptz,
    failed_at timestamptz,
    last_status integer,
    last_error text,
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(next_attempt_at)
    WHERE next_attempt_at IS NOT NULL;
CREATE INDEX webhook_deliveries_org ON webhook_deliveries(org_id, created_at);
