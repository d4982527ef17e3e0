-- Version 2: the oversight console (docs/console.md). Still routing metadata only: no page the
-- console serves, and no table below, holds an answer, a name or a position.

-- Each submission's routing header in columns, for the console's counts and lists. Written with
-- the submission (submission_store::insert); the migration from version 1 fills it from
-- `submissions.routing`.
CREATE TABLE submission_routing (
    record_id       TEXT PRIMARY KEY REFERENCES submissions (record_id),
    team            TEXT NOT NULL,
    device_id       TEXT NOT NULL,
    commune         TEXT,
    household_code  TEXT,
    kind            TEXT NOT NULL,
    risk_level      TEXT,
    due_at_ms       INTEGER,
    finalized_at_ms INTEGER NOT NULL,
    received_at_ms  INTEGER NOT NULL
) STRICT;
-- Submissions by risk level over time, per commune (a covering index).
CREATE INDEX submission_routing_by_commune
    ON submission_routing (commune, finalized_at_ms, risk_level);
-- The urgent clock.
CREATE INDEX submission_routing_urgent
    ON submission_routing (due_at_ms, commune) WHERE risk_level = 'urgent';

-- What the overview counts, kept with each insert so that a page reads a few thousand rows
-- rather than every submission: submissions per commune, month (Vietnam's time, UTC+7, of
-- `finalized_at_ms`) and risk level ('none' for a record without one)...
CREATE TABLE routing_monthly (
    commune     TEXT NOT NULL,
    month       TEXT NOT NULL,             -- YYYY-MM
    risk_level  TEXT NOT NULL,
    submissions INTEGER NOT NULL,
    PRIMARY KEY (commune, month, risk_level)
) STRICT, WITHOUT ROWID;
-- ...and the households screened: each household code of a visit, once per commune.
CREATE TABLE screened_households (
    commune        TEXT NOT NULL,
    household_code TEXT NOT NULL,
    PRIMARY KEY (commune, household_code)
) STRICT, WITHOUT ROWID;

-- A supervisor's recorded action on a case: routing only (when, by which device, what kind of
-- action), never its content. Filled by the decisions of issue #18; the console only reads it.
CREATE TABLE case_actions (
    record_id      TEXT PRIMARY KEY,
    action         TEXT NOT NULL,
    action_at_ms   INTEGER NOT NULL,
    device_id      TEXT,
    recorded_at_ms INTEGER NOT NULL
) STRICT;

-- The province's communes: names, registered households (the coverage denominator, given by the
-- operator) and boundaries (from the assigned-areas GeoJSON: `safehome-server areas import`).
CREATE TABLE communes (
    commune               TEXT PRIMARY KEY,
    name                  TEXT NOT NULL,
    registered_households INTEGER,
    geometry              TEXT             -- JSON: polygons, each rings of [lon, lat]; or NULL
) STRICT;

-- Console users: an admin (every commune), a district officer (several) or a commune officer
-- (one). Passwords as argon2id PHC strings.
CREATE TABLE console_users (
    username        TEXT PRIMARY KEY,
    role            TEXT NOT NULL CHECK (role IN ('admin', 'district', 'commune')),
    communes        TEXT NOT NULL,         -- JSON array of commune codes; [] for an admin
    password_hash   TEXT NOT NULL,
    created_at_ms   INTEGER NOT NULL,
    failed_logins   INTEGER NOT NULL DEFAULT 0,
    locked_until_ms INTEGER,
    disabled_at_ms  INTEGER
) STRICT;

-- Console sessions, by the SHA-256 of the cookie's token (never the token itself).
CREATE TABLE console_sessions (
    token_sha256  TEXT PRIMARY KEY,
    username      TEXT NOT NULL REFERENCES console_users (username),
    csrf_token    TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    last_seen_ms  INTEGER NOT NULL,
    expires_at_ms INTEGER NOT NULL
) STRICT;

-- Every console action: logins (failed ones too), refusals, codes, revocations, alert attempts.
CREATE TABLE console_audit (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms   INTEGER NOT NULL,
    actor   TEXT NOT NULL,                 -- a console user, or `system` (alerts)
    action  TEXT NOT NULL,
    target  TEXT,
    outcome TEXT NOT NULL,
    detail  TEXT
) STRICT;

-- Alerts about urgent cases without a recorded action, one row per case.
CREATE TABLE case_alerts (
    record_id       TEXT PRIMARY KEY,
    attempts        INTEGER NOT NULL,
    next_attempt_ms INTEGER NOT NULL,
    delivered_at_ms INTEGER,
    last_outcome    TEXT
) STRICT;
