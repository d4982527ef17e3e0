-- Version 9: records, outbox rows, recipients and the device row carry a MAC over their
-- security-relevant columns (`row_mac`, store/sealed.rs), checked on every read and renewed
-- on every write. The MACs need the key: the store fills them in Rust in this same
-- transaction (`sealed::seal_all`). Each MAC covers the number of the row's latest audit entry,
-- found through the new index without scanning the chain.
ALTER TABLE records ADD COLUMN row_mac BLOB;
ALTER TABLE outbox ADD COLUMN row_mac BLOB;
ALTER TABLE recipients ADD COLUMN row_mac BLOB;
ALTER TABLE device ADD COLUMN row_mac BLOB;
CREATE INDEX audit_entity_id ON audit(entity_id, seq);
