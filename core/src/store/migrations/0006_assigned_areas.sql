-- Version 6: the team's assigned areas are part of the device's configuration, kept with its
-- enrollment, so that every finalize checks a visit against them, after any restart. The
-- GeoJSON is encrypted under the column key and bound to the device row: an edit without the
-- data key makes it fail to load (and the check is reported as not run) rather than silently
-- moving the areas. areas_rev counts changes, so a store's parsed copy is rebuilt only when
-- the areas changed, not read again at each finalize.
ALTER TABLE device ADD COLUMN areas_enc BLOB;
ALTER TABLE device ADD COLUMN areas_rev INTEGER NOT NULL DEFAULT 0;
