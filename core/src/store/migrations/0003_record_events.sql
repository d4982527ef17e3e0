-- Version 3: a draft's timing events are appended to their own table, so an autosave writes
-- only the answers (small) and the new events, not the whole history each time. Photo
-- attachments keep an encrypted thumbnail, since the phone cannot open the sealed envelope.
CREATE TABLE record_events (
    record_id TEXT NOT NULL REFERENCES records(id) ON DELETE CASCADE,
    seq       INTEGER NOT NULL,
    at        INTEGER NOT NULL,
    path      TEXT NOT NULL,
    kind      TEXT NOT NULL,
    PRIMARY KEY (record_id, seq)
) STRICT, WITHOUT ROWID;
ALTER TABLE attachments ADD COLUMN thumbnail_enc BLOB;
