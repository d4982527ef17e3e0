-- Version 4: request nonces shared by several server processes over one database.
--
-- The SQLite server is one process and keeps its nonces in memory (src/nonces.rs); it creates
-- this table so that both engines hold the same schema at the same version. Over PostgreSQL,
-- where any process may receive a device's next request, each nonce is a row here: a second
-- insert of the same (device, nonce) is a replay. Rows are forgotten after `forget_at_ms`.
CREATE TABLE request_nonces (
    device_id    TEXT NOT NULL,
    nonce        TEXT NOT NULL,
    forget_at_ms INTEGER NOT NULL,
    PRIMARY KEY (device_id, nonce)
) STRICT, WITHOUT ROWID;
CREATE INDEX request_nonces_by_expiry ON request_nonces (forget_at_ms);
