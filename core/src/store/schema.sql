-- SafeHome local store: the current schema, used to create a new database.
-- Upgrades of existing databases run migrations/NNNN_*.sql; a test checks both give the same
-- schema.
-- Columns ending in _enc hold AES-256-GCM ciphertext bound to (table, column, row id).
-- Everything else is non-identifying: ids, codes, states, times, levels, sizes, hashes.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
) STRICT;

CREATE TABLE device (
    id              TEXT PRIMARY KEY,
    signing_key_enc BLOB NOT NULL,
    public_key      BLOB NOT NULL,
    team            TEXT,
    communes        TEXT NOT NULL DEFAULT '[]',
    created_at      INTEGER NOT NULL,
    areas_enc       BLOB,
    areas_rev       INTEGER NOT NULL DEFAULT 0,
    row_mac         BLOB
) STRICT;

-- Public keys that submissions and evidence are sealed to: the organisation's archive key
-- and the team supervisors' keys.
CREATE TABLE recipients (
    public_key TEXT PRIMARY KEY,
    label_enc  BLOB NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('archive', 'supervisor')),
    added_at   INTEGER NOT NULL,
    row_mac    BLOB
) STRICT;

CREATE TABLE profiles (
    id              TEXT PRIMARY KEY,
    name_enc        BLOB NOT NULL,
    role            TEXT NOT NULL CHECK (role IN ('volunteer', 'supervisor', 'health_worker')),
    pin_salt        BLOB NOT NULL,
    pin_iterations  INTEGER NOT NULL,
    pin_hash        BLOB NOT NULL,
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL DEFAULT 0,
    locked          INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    row_mac         BLOB
) STRICT;

CREATE TABLE commune_sequences (
    commune_code TEXT PRIMARY KEY,
    next_seq     INTEGER NOT NULL
) STRICT;

CREATE TABLE households (
    id            TEXT PRIMARY KEY,
    code          TEXT NOT NULL UNIQUE,
    commune_code  TEXT NOT NULL,
    volunteer_id  TEXT NOT NULL REFERENCES profiles(id),
    village_enc   BLOB NOT NULL,
    address_enc   BLOB,
    head_name_enc BLOB NOT NULL,
    members_enc   BLOB,
    location_enc  BLOB,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
) STRICT;
CREATE INDEX households_volunteer ON households(volunteer_id);

-- Visits and incidents: one row per revision of a filling.
CREATE TABLE records (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL CHECK (kind IN ('visit', 'incident')),
    household_id    TEXT REFERENCES households(id),
    child_ref_enc   BLOB,
    form_id         TEXT NOT NULL,
    form_version    TEXT NOT NULL,
    owner_id        TEXT NOT NULL REFERENCES profiles(id),
    state           TEXT NOT NULL CHECK (state IN
                      ('draft', 'finalized', 'queued', 'uploaded', 'acknowledged', 'returned')),
    revision        INTEGER NOT NULL DEFAULT 1,
    revision_of     TEXT REFERENCES records(id),
    draft_enc       BLOB,
    submission_enc  BLOB,
    submission_hash BLOB,
    signature       BLOB,
    risk_level      TEXT,
    due_at          INTEGER,
    return_note_enc BLOB,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    finalized_at    INTEGER,
    acknowledged_at INTEGER,
    purged_at       INTEGER,
    quality_flags_enc BLOB,
    fixes_enc       BLOB,
    draft_rev       INTEGER NOT NULL DEFAULT 0,
    -- Rows of records, outbox, recipients and device are sealed: `row_mac` covers their
    -- security-relevant columns and latest audit entry (store/sealed.rs, docs/storage.md).
    row_mac         BLOB
) STRICT;
CREATE INDEX records_owner ON records(owner_id, state);
CREATE INDEX records_household ON records(household_id);
CREATE INDEX records_queue ON records(state, risk_level, due_at);
CREATE INDEX records_owner_fixes ON records(owner_id, finalized_at, id) WHERE fixes_enc IS NOT NULL;

CREATE TABLE attachments (
    id            TEXT PRIMARY KEY,
    record_id     TEXT NOT NULL REFERENCES records(id),
    field         TEXT NOT NULL,
    envelope      BLOB,
    envelope_len  INTEGER NOT NULL,
    plain_len     INTEGER NOT NULL,
    plain_sha256  BLOB NOT NULL,
    orig_sha256   BLOB NOT NULL,
    created_at    INTEGER NOT NULL,
    purged_at     INTEGER,
    thumbnail_enc BLOB,
    photo_location_enc BLOB
) STRICT;
CREATE INDEX attachments_record ON attachments(record_id);

CREATE TABLE outbox (
    id              TEXT PRIMARY KEY,
    item_kind       TEXT NOT NULL CHECK (item_kind IN ('submission', 'attachment')),
    item_id         TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'uploaded', 'acknowledged', 'parked')),
    payload_sha256  BLOB NOT NULL,
    size_bytes      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    acknowledged_at INTEGER,
    -- The server's error code of a parked item.
    park_code       TEXT,
    -- A submission's upload body (docs/protocol.md), sealed once and kept: every retry sends
    -- the same bytes. Sealed to the recipients; its routing header holds only codes.
    sealed_body     BLOB,
    -- An evidence upload's tus URL (path), to resume at the server's offset.
    upload_url      TEXT,
    -- The server's signed receipt, as received (JSON).
    receipt         TEXT,
    row_mac         BLOB,
    UNIQUE (item_kind, item_id)
) STRICT;
CREATE INDEX outbox_due ON outbox(state, next_attempt_at);
CREATE INDEX outbox_item ON outbox(item_id);

-- The device's link to its server (one row): base URL, pinned server key, the signed team
-- configuration as received, the clock offset, the last sync and checkin. MACed (row key)
-- over every field and the latest `sync` audit entry's number: see docs/storage.md.
CREATE TABLE sync_state (
    device_id       TEXT PRIMARY KEY,
    base_url        TEXT,
    server_key      TEXT,
    config          TEXT,
    clock_offset_ms INTEGER NOT NULL DEFAULT 0,
    last_sync_at    INTEGER,
    last_sync       TEXT,
    last_checkin    TEXT,
    regression      INTEGER NOT NULL DEFAULT 0,
    row_mac         BLOB NOT NULL
) STRICT;

CREATE TABLE audit (
    seq       INTEGER PRIMARY KEY,
    at        INTEGER NOT NULL,
    actor     TEXT,
    action    TEXT NOT NULL,
    entity    TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    prev_hash BLOB NOT NULL,
    hash      BLOB NOT NULL
) STRICT;
CREATE INDEX audit_entity ON audit(entity, entity_id, seq);
CREATE INDEX audit_entity_id ON audit(entity_id, seq);
CREATE TABLE record_events (
    record_id TEXT NOT NULL REFERENCES records(id) ON DELETE CASCADE,
    seq       INTEGER NOT NULL,
    at        INTEGER NOT NULL,
    path      TEXT NOT NULL,
    kind      TEXT NOT NULL,
    PRIMARY KEY (record_id, seq)
) STRICT, WITHOUT ROWID;

-- The supervisor's loop (docs/storage.md, "Review").
-- The device's inbox: a recipient identity (X25519) that decisions about its records are sealed
-- to and, on a supervisor's device, the team's submissions. One row; the secret is encrypted
-- under the column key, bound to the row.
CREATE TABLE inbox (
    id         TEXT PRIMARY KEY,
    public_key TEXT NOT NULL,
    secret_enc BLOB NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

-- Records pulled from the team's server (a supervisor's device). A row starts `listed` from the
-- team index (unverified routing columns, for ordering the pull), becomes `valid` once its body
-- is fetched, opened and verified (the routing columns then come from the verified header and
-- the volunteer's signed submission is kept re-encrypted under this device's column key), or
-- `quarantined` with its reason (never shown as valid).
CREATE TABLE received (
    record_id         TEXT PRIMARY KEY,
    seq               INTEGER NOT NULL,
    device_id         TEXT NOT NULL,
    kind              TEXT NOT NULL,
    form_id           TEXT,
    form_version      TEXT,
    household_code    TEXT,
    commune           TEXT,
    risk_level        TEXT,
    due_at            INTEGER,
    finalized_at      INTEGER NOT NULL,
    received_at       INTEGER NOT NULL,
    revision          INTEGER NOT NULL DEFAULT 1,
    revision_of       TEXT,
    envelope_sha256   TEXT,
    body_len          INTEGER NOT NULL,
    evidence_len      INTEGER NOT NULL,
    state             TEXT NOT NULL CHECK (state IN ('listed', 'valid', 'quarantined')),
    quarantine_reason TEXT,
    submission_enc    BLOB,
    evidence          TEXT NOT NULL DEFAULT '[]',
    pulled_at         INTEGER NOT NULL,
    row_mac           BLOB
) STRICT;
CREATE INDEX received_pull ON received (state, risk_level, finalized_at);
CREATE INDEX received_household ON received (household_code);
-- A record replaced by a pulled revision leaves the queue: found by the revision's link.
CREATE INDEX received_revision ON received (revision_of) WHERE revision_of IS NOT NULL;

-- Evidence files of received records, fetched on demand: sealed envelopes (ciphertext to the
-- team's recipients), by their SHA-256, checked on arrival.
CREATE TABLE received_evidence (
    sha256     TEXT PRIMARY KEY,
    record_id  TEXT NOT NULL,
    envelope   BLOB NOT NULL,
    fetched_at INTEGER NOT NULL
) STRICT;

-- Evidence the user asked to see, fetched at the next sync whatever the budget.
CREATE TABLE evidence_wanted (
    sha256    TEXT PRIMARY KEY,
    record_id TEXT NOT NULL,
    asked_at  INTEGER NOT NULL
) STRICT;

-- Supervisors' decisions: made here (`pending` until the server's receipt, then `sent`;
-- `conflict` or `refused` with the server's answer in `detail`) or received from the feed
-- (`received`; `rejected` with its reason when it does not verify). `content_enc` is the
-- decision's content (note, comments per question); `body` the signed, sealed bytes as sent.
CREATE TABLE decisions (
    id          TEXT PRIMARY KEY,
    record_id   TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('approve', 'return', 'escalate', 'act', 'merge')),
    device_id   TEXT NOT NULL,
    base        TEXT,
    decided_at  INTEGER NOT NULL,
    action_at   INTEGER,
    content_enc BLOB,
    body        BLOB,
    state       TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'conflict', 'refused', 'received', 'rejected')),
    server_seq  INTEGER,
    detail      TEXT,
    created_at  INTEGER NOT NULL,
    row_mac     BLOB,
    -- A merge (kind 'merge'): the household code merged away and the code kept. A household's
    -- merge is not a column of `households`: it is the merge decision naming its code.
    merge_household TEXT,
    merge_into      TEXT
) STRICT;
CREATE INDEX decisions_record ON decisions (record_id, server_seq);
CREATE INDEX decisions_pending ON decisions (state) WHERE state = 'pending';
CREATE INDEX decisions_merges ON decisions (merge_household) WHERE kind = 'merge';

-- Where each download left off (the team index, the decision feed), by the server's sequence.
CREATE TABLE sync_cursors (
    name    TEXT PRIMARY KEY,
    after   INTEGER NOT NULL,
    row_mac BLOB
) STRICT;
