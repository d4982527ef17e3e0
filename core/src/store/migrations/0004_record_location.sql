-- Version 4: location quality is judged when a record is finalized. A record keeps the fixes
-- its geopoint questions were answered with (provider, mock flag, time, accuracy: more than
-- the answer holds), and a photo attachment keeps the position and time its EXIF gave, both
-- encrypted, so that the flags can be computed then and the next visit can check travel speed.
ALTER TABLE records ADD COLUMN fixes_enc BLOB;
ALTER TABLE attachments ADD COLUMN photo_location_enc BLOB;
-- The travel-speed check reads the owner's latest finalized record that has fixes: one row.
CREATE INDEX records_owner_fixes ON records(owner_id, finalized_at, id) WHERE fixes_enc IS NOT NULL;
