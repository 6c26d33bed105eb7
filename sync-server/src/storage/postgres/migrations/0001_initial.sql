-- PostgreSQL schema 1: the same tables as SQLite's schema_v1.sql (plus the tus PATCH lease,
-- which SQLite keeps in memory), with native uuid and timestamptz. JSON stays text: SQL never looks inside it, the
-- domain types parse it.
CREATE TABLE organisations (
    id uuid PRIMARY KEY,
    name text NOT NULL UNIQUE,
    policy_json text NOT NULL,
    checklist_json text NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE TABLE dispatchers (
    id uuid PRIMARY KEY,
    org_id uuid NOT NULL REFERENCES organisations(id),
    email text NOT NULL,
    name text NOT NULL,
    password_hash text NOT NULL,
    created_at timestamptz NOT NULL
);
-- SQLite compares emails with COLLATE NOCASE; here the lookups use lower(email).
CREATE UNIQUE INDEX dispatchers_email ON dispatchers (lower(email));
CREATE TABLE sessions (
    token_hash text PRIMARY KEY,
    dispatcher_id uuid NOT NULL REFERENCES dispatchers(id),
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE TABLE technicians (
    id uuid PRIMARY KEY,
    org_id uuid NOT NULL REFERENCES organisations(id),
    name text NOT NULL,
    phone text NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX technicians_org ON technicians(org_id);
CREATE TABLE enrolment_codes (
    code_hash text PRIMARY KEY,
    org_id uuid NOT NULL REFERENCES organisations(id),
    technician_id uuid NOT NULL REFERENCES technicians(id),
    expires_at timestamptz NOT NULL,
    used_at timestamptz,
    created_at timestamptz NOT NULL
);
CREATE TABLE devices (
    id uuid PRIMARY KEY,
    org_id uuid NOT NULL REFERENCES organisations(id),
    technician_id uuid NOT NULL REFERENCES technicians(id),
    name text NOT NULL,
    token_hash text NOT NULL UNIQUE,
    enrolled_at timestamptz NOT NULL,
    revoked_at timestamptz,
    last_seen_at timestamptz
);
CREATE INDEX devices_org ON devices(org_id);
CREATE TABLE jobs (
    id uuid PRIMARY KEY,
    org_id uuid NOT NULL REFERENCES organisations(id),
    status text NOT NULL,
    technician_id uuid,
    view_json text NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX jobs_org ON jobs(org_id, status);
CREATE TABLE job_technicians (
    job_id uuid NOT NULL REFERENCES jobs(id),
    technician_id uuid NOT NULL,
    PRIMARY KEY (job_id, technician_id)
);
-- The unique id is what makes a retried or doubly-delivered event land once, whichever
-- process receives it.
CREATE TABLE events (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id uuid NOT NULL UNIQUE,
    job_id uuid NOT NULL REFERENCES jobs(id),
    org_id uuid NOT NULL,
    kind text NOT NULL,
    event_json text NOT NULL,
    server_received_at timestamptz NOT NULL,
    corrected_at timestamptz NOT NULL,
    flags_json text NOT NULL
);
CREATE INDEX events_job ON events(job_id, seq);
-- Positions come from one sequence but are drawn under a per-technician lock (postgres.rs), so
-- within one technician's feed they grow in commit order and a cursor never skips a row.
CREATE TABLE feed (
    pos bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    technician_id uuid NOT NULL,
    event_seq bigint NOT NULL REFERENCES events(seq)
);
CREATE INDEX feed_technician ON feed(technician_id, pos);
CREATE TABLE rejections (
    event_id uuid PRIMARY KEY,
    job_id uuid NOT NULL,
    org_id uuid NOT NULL,
    technician_id uuid,
    rule text NOT NULL,
    message text NOT NULL,
    event_json text NOT NULL,
    received_at timestamptz NOT NULL
);
CREATE INDEX rejections_job ON rejections(org_id, job_id);
CREATE TABLE photos (
    photo_id uuid PRIMARY KEY,
    job_id uuid NOT NULL REFERENCES jobs(id),
    org_id uuid NOT NULL,
    category text NOT NULL,
    sha256 text NOT NULL,
    event_id uuid NOT NULL,
    blob_path text,
    content_type text,
    uploaded_at timestamptz,
    created_seq bigint GENERATED ALWAYS AS IDENTITY
);
CREATE INDEX photos_job ON photos(job_id);
CREATE TABLE uploads (
    id uuid PRIMARY KEY,
    org_id uuid NOT NULL,
    technician_id uuid NOT NULL,
    photo_id uuid NOT NULL,
    job_id uuid NOT NULL,
    sha256 text NOT NULL,
    length bigint NOT NULL,
    offset_bytes bigint NOT NULL,
    content_type text,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    completed_at timestamptz,
    -- Who may PATCH right now (any process), and until when if it dies holding it.
    lease_token uuid,
    lease_until timestamptz
);
