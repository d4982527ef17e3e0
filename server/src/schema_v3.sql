-- Version 3: the supervisor's loop (docs/protocol.md, "Review"). Still routing metadata and
-- ciphertext only: a decision's comment, reason or action is in its sealed envelope.

-- Each device's inbox key (shrecip1...): decisions about its records are sealed to it. A
-- supervisor's is also a team recipient (`recipients`).
ALTER TABLE devices ADD COLUMN inbox_key TEXT;

-- A revision replaces the record it revises (its routing header's `revision_of`, same device):
-- a decision on the replaced record is refused.
ALTER TABLE submission_routing ADD COLUMN superseded_by TEXT;

-- The team index a supervisor pulls, by sequence number.
CREATE INDEX submissions_by_team ON submissions (team, seq);

-- Supervisors' decisions, as sent (`body`: header, signature, sealed envelope). `seq` orders
-- the feed: a volunteer's device reads the decisions on its own records (`origin_device`), a
-- supervisor's those of its team.
CREATE TABLE decisions (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    decision_id     TEXT NOT NULL UNIQUE,
    record_id       TEXT NOT NULL REFERENCES submissions (record_id),
    team            TEXT NOT NULL,
    origin_device   TEXT NOT NULL,
    device_id       TEXT NOT NULL REFERENCES devices (device_id),
    kind            TEXT NOT NULL CHECK (kind IN ('approve', 'return', 'escalate', 'act', 'merge')),
    base            TEXT,
    decided_at_ms   INTEGER NOT NULL,
    envelope_sha256 TEXT NOT NULL,
    received_at_ms  INTEGER NOT NULL,
    body            BLOB NOT NULL,
    -- A merge (kind 'merge'): the household code merged away (the decided record's) and the
    -- code kept, from the signed header. Codes are routing metadata, as on every submission.
    merge_household TEXT,
    merge_into      TEXT,
    CHECK ((kind = 'merge') = (merge_household IS NOT NULL AND merge_into IS NOT NULL))
) STRICT;
CREATE INDEX decisions_by_team ON decisions (team, seq);
-- The first merge of a household stands.
CREATE UNIQUE INDEX decisions_merged_once ON decisions (team, merge_household)
    WHERE kind = 'merge';
CREATE INDEX decisions_merged_into ON decisions (team, merge_into) WHERE kind = 'merge';
CREATE INDEX decisions_by_origin ON decisions (origin_device, seq);

-- Each record's current verdict (approve, return or escalate): the first stands; a later one
-- must name it as its base.
CREATE TABLE verdicts (
    record_id   TEXT PRIMARY KEY REFERENCES submissions (record_id),
    decision_id TEXT NOT NULL REFERENCES decisions (decision_id)
) STRICT;
