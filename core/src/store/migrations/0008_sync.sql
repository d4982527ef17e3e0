-- Version 8: upload to the team's server (docs/protocol.md).
--
-- The outbox gains the state `parked` (refused for good by the server: kept, never purged,
-- shown) with the server's code, a submission's sealed upload body (sealed once and kept, so
-- every retry sends the same bytes), an evidence upload's tus URL (so a resume after the app
-- was killed continues at the server's offset) and the server's signed receipt. SQLite cannot
-- alter a CHECK list, so the table is rebuilt; its rows are copied unchanged.
CREATE TABLE outbox_v8 (
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
    park_code       TEXT,
    sealed_body     BLOB,
    upload_url      TEXT,
    receipt         TEXT,
    UNIQUE (item_kind, item_id)
) STRICT;
INSERT INTO outbox_v8 (id, item_kind, item_id, state, payload_sha256, size_bytes, attempts,
                       next_attempt_at, last_error, created_at, acknowledged_at)
    SELECT id, item_kind, item_id, state, payload_sha256, size_bytes, attempts,
           next_attempt_at, last_error, created_at, acknowledged_at FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_v8 RENAME TO outbox;
CREATE INDEX outbox_due ON outbox(state, next_attempt_at);
CREATE INDEX outbox_item ON outbox(item_id);

-- The device's link to its server: one row, written by enrollment and by each sync. The pinned
-- server key decides which receipts and configurations are believed, so the row carries a MAC
-- (row key, like profiles) over every field and the number of the latest `sync` audit entry:
-- an edit without the data key, or the row put back to an earlier state, reads as tampered.
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
