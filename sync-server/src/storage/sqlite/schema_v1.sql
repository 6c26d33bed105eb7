-- Schema version 1 of the sync server. Times are RFC 3339 UTC strings with milliseconds, so they
-- sort as text; ids are hyphenated UUID text.
CREATE TABLE organisations (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    policy_json TEXT NOT NULL,
    checklist_json TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE dispatchers (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organisations(id),
    email TEXT NOT NULL UNIQUE COLLATE NOCASE,
    name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    dispatcher_id TEXT NOT NULL REFERENCES dispatchers(id),
    expires_at TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE technicians (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organisations(id),
    name TEXT NOT NULL,
    phone TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX technicians_org ON technicians(org_id);
CREATE TABLE enrolment_codes (
    code_hash TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organisations(id),
    technician_id TEXT NOT NULL REFERENCES technicians(id),
    expires_at TEXT NOT NULL,
    used_at TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE devices (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organisations(id),
    technician_id TEXT NOT NULL REFERENCES technicians(id),
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    enrolled_at TEXT NOT NULL,
    revoked_at TEXT,
    last_seen_at TEXT
);
CREATE INDEX devices_org ON devices(org_id);
CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organisations(id),
    status TEXT NOT NULL,
    technician_id TEXT,
    view_json TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX jobs_org ON jobs(org_id, status);
-- Every technician a job was ever assigned to: who may still see (not write) it.
CREATE TABLE job_technicians (
    job_id TEXT NOT NULL REFERENCES jobs(id),
    technician_id TEXT NOT NULL,
    PRIMARY KEY (job_id, technician_id)
);
CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    job_id TEXT NOT NULL REFERENCES jobs(id),
    org_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    event_json TEXT NOT NULL,
    server_received_at TEXT NOT NULL,
    corrected_at TEXT NOT NULL,
    flags_json TEXT NOT NULL
);
CREATE INDEX events_job ON events(job_id, seq);
-- A technician's pull feed: positions are the cursor.
CREATE TABLE feed (
    pos INTEGER PRIMARY KEY AUTOINCREMENT,
    technician_id TEXT NOT NULL,
    event_seq INTEGER NOT NULL REFERENCES events(seq)
);
CREATE INDEX feed_technician ON feed(technician_id, pos);
CREATE TABLE rejections (
    event_id TEXT PRIMARY KEY,
    job_id TEXT NOT NULL,
    org_id TEXT NOT NULL,
    technician_id TEXT,
    rule TEXT NOT NULL,
    message TEXT NOT NULL,
    event_json TEXT NOT NULL,
    received_at TEXT NOT NULL
);
CREATE INDEX rejections_job ON rejections(org_id, job_id);
CREATE TABLE photos (
    photo_id TEXT PRIMARY KEY,
    job_id TEXT NOT NULL REFERENCES jobs(id),
    org_id TEXT NOT NULL,
    category TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    event_id TEXT NOT NULL,
    blob_path TEXT,
    content_type TEXT,
    uploaded_at TEXT
);
CREATE INDEX photos_job ON photos(job_id);
CREATE TABLE uploads (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL,
    technician_id TEXT NOT NULL,
    photo_id TEXT NOT NULL,
    job_id TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    length INTEGER NOT NULL,
    offset_bytes INTEGER NOT NULL,
    content_type TEXT,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    completed_at TEXT
);
