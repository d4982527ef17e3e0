-- Version 10: the supervisor's loop (docs/storage.md, "Review"; docs/protocol.md, "Review").

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
