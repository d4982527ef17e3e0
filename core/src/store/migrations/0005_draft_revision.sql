-- Version 5: every save of a draft carries the revision it was loaded at and bumps it, so a
-- second in-memory copy of the same draft (another process, a screen that kept an old copy)
-- cannot overwrite newer answers or collide on the timing-event numbers: its save is refused
-- as stale instead.
ALTER TABLE records ADD COLUMN draft_rev INTEGER NOT NULL DEFAULT 0;
