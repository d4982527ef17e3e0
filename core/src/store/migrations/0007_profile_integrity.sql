-- Version 7: profiles carry a MAC over their security fields (role, PIN salt, iterations and
-- verifier, failure counter, next attempt time, lockout) under a key derived from the data key,
-- and the PIN verifier itself becomes keyed. Both need the key, so the store fills them in
-- Rust in this same transaction (`profiles::key_profiles`): after it, a row without a valid MAC
-- is an edit made without the key, reported as tampered.
-- The MAC also covers the sequence number of the profile's latest audit entry, so a row put
-- back to an earlier state with that state's MAC (undoing a lockout) no longer matches; the
-- index finds that entry without scanning the chain.
ALTER TABLE profiles ADD COLUMN row_mac BLOB;
CREATE INDEX audit_entity ON audit(entity, entity_id, seq);
