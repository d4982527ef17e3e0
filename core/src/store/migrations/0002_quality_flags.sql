-- Version 2: location-quality flags computed at finalize travel with the submission, and the
-- outbox is looked up by item when acknowledgments arrive.
ALTER TABLE records ADD COLUMN quality_flags_enc BLOB;
CREATE INDEX outbox_item ON outbox(item_id);
