-- The server's database, version 1 (db.rs runs it, then schema_v2.sql, on a fresh database). It holds routing metadata and ciphertext only: the
-- submission bodies carry their envelopes sealed to the team's recipients.

-- A team: its communes and, through `recipients`, the keys its submissions are sealed to.
CREATE TABLE teams (
    team          TEXT PRIMARY KEY,
    communes      TEXT NOT NULL,       -- JSON array of commune codes
    created_at_ms INTEGER NOT NULL
) STRICT;

-- The archive's key (added with the team) and each supervisor's (added when they enroll).
CREATE TABLE recipients (
    team          TEXT NOT NULL REFERENCES teams (team),
    public_key    TEXT NOT NULL,       -- shrecip1...
    kind          TEXT NOT NULL CHECK (kind IN ('archive', 'supervisor')),
    label         TEXT NOT NULL,
    device_id     TEXT,                -- the supervisor's device; NULL for the archive
    added_at_ms   INTEGER NOT NULL,
    PRIMARY KEY (team, public_key)
) STRICT;

-- One-time enrollment codes, by the SHA-256 of their normalized text (never the code itself).
CREATE TABLE enrollment_codes (
    code_sha256    TEXT PRIMARY KEY,
    team           TEXT NOT NULL REFERENCES teams (team),
    role           TEXT NOT NULL,
    created_at_ms  INTEGER NOT NULL,
    expires_at_ms  INTEGER NOT NULL,
    used_by_device TEXT,
    used_at_ms     INTEGER
) STRICT;

CREATE TABLE devices (
    device_id          TEXT PRIMARY KEY,
    public_key         TEXT NOT NULL,  -- shdevice1...
    team               TEXT NOT NULL REFERENCES teams (team),
    role               TEXT NOT NULL,
    enrolled_at_ms     INTEGER NOT NULL,
    revoked_at_ms      INTEGER,
    app_version        TEXT,
    last_checkin_ms    INTEGER,
    audit_length       INTEGER,
    audit_head         TEXT,
    regression_at_ms   INTEGER,        -- a check-in showed a shorter or different audit chain
    last_clock_skew_ms INTEGER,        -- SafeHome-Time minus the server's time, last seen
    pending            INTEGER,
    parked             INTEGER
) STRICT;

-- Request nonces are kept in the server's memory (src/nonces.rs), not here.

-- Submissions: `seq` is the receipt's sequence number; `body` the bytes as received.
CREATE TABLE submissions (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    record_id       TEXT NOT NULL UNIQUE,
    device_id       TEXT NOT NULL REFERENCES devices (device_id),
    team            TEXT NOT NULL,
    envelope_sha256 TEXT NOT NULL,
    received_at_ms  INTEGER NOT NULL,
    routing         TEXT NOT NULL,     -- the routing header's canonical JSON, as signed
    body            BLOB NOT NULL
) STRICT;

-- The evidence files each submission lists.
CREATE TABLE submission_evidence (
    record_id   TEXT NOT NULL REFERENCES submissions (record_id),
    position    INTEGER NOT NULL,
    evidence_id TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    len         INTEGER NOT NULL,
    PRIMARY KEY (record_id, position)
) STRICT;
CREATE INDEX submission_evidence_by_sha ON submission_evidence (sha256);

-- Complete evidence files, stored content-addressed under blobs/<first two hex>/<sha256>.
CREATE TABLE blobs (
    sha256       TEXT PRIMARY KEY,
    len          INTEGER NOT NULL,
    device_id    TEXT NOT NULL,
    stored_at_ms INTEGER NOT NULL
) STRICT;

-- tus uploads; the bytes of an open one are in uploads/<upload_id>.part up to `upload_offset`.
CREATE TABLE uploads (
    upload_id     TEXT PRIMARY KEY,
    device_id     TEXT NOT NULL REFERENCES devices (device_id),
    record_id     TEXT NOT NULL,
    evidence_id   TEXT NOT NULL,
    sha256        TEXT NOT NULL,
    upload_length INTEGER NOT NULL,
    upload_offset INTEGER NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('open', 'complete', 'terminated', 'failed', 'expired')),
    created_at_ms INTEGER NOT NULL,
    expires_at_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX uploads_open_by_expiry ON uploads (expires_at_ms) WHERE state = 'open';
