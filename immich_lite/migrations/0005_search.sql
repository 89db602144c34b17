-- Search: the Tantivy index (immich_lite/search/) is derived data; this table is how it learns what changed.
--
-- search_dirty: one row per change to anything the index holds about an asset, written by the triggers below in
-- the same transaction as the change, so an acknowledged change can never be missed by the index. The indexer
-- (services/search_index.py) reads rows up to some id, re-indexes those assets from the current rows, commits the
-- index, then deletes the rows up to that id: a crash anywhere re-indexes (idempotent), never skips. Rows written
-- meanwhile have larger ids and stay. Queries treat the assets listed here as not (yet) indexed and check them
-- in SQL, so a search never answers from a stale index entry.
CREATE TABLE search_dirty (
  id       INTEGER PRIMARY KEY,
  asset_id TEXT NOT NULL
);
CREATE INDEX search_dirty_asset_idx ON search_dirty(asset_id);

-- Each change also queues the indexing job (one waiting at a time) and wakes the runner once the transaction
-- commits (immich_wake: a function of the connection, see db.py). NOT EXISTS rather than OR IGNORE: a trigger's
-- conflict clause gives way to the firing statement's (an upsert's ON CONFLICT would turn it into an abort).
CREATE TRIGGER search_dirty_job AFTER INSERT ON search_dirty BEGIN
  INSERT INTO job (queue, name, data, status, run_after, dedupe_key, created_at, updated_at)
    SELECT 'search', 'SearchIndexUpdate', '{}', 'waiting', 0, 'search-index-update', unixepoch('subsec'),
           unixepoch('subsec')
     WHERE NOT EXISTS (SELECT 1 FROM job WHERE dedupe_key = 'search-index-update' AND status = 'waiting');
  SELECT immich_wake('search');
END;

-- OCR text per asset (upstream ocr_search): what the OCR job finds, concatenated; searched through the index.
CREATE TABLE ocr_search (
  asset_id TEXT PRIMARY KEY REFERENCES asset(id) ON DELETE CASCADE,
  text     TEXT NOT NULL
);

-- metadata search orders by fileCreatedAt (upstream searchMetadata), per owner
CREATE INDEX asset_owner_file_created_idx ON asset(owner_id, file_created_at);

-- What the index holds, and the triggers that keep it honest.
CREATE TRIGGER search_asset_ins AFTER INSERT ON asset BEGIN
  INSERT INTO search_dirty(asset_id) VALUES (NEW.id); END;
CREATE TRIGGER search_asset_upd AFTER UPDATE OF owner_id, type, status, original_file_name, file_created_at,
  created_at, deleted_at, visibility ON asset BEGIN
  INSERT INTO search_dirty(asset_id) VALUES (NEW.id); END;
CREATE TRIGGER search_asset_del AFTER DELETE ON asset BEGIN
  INSERT INTO search_dirty(asset_id) VALUES (OLD.id); END;

CREATE TRIGGER search_exif_ins AFTER INSERT ON asset_exif BEGIN
  INSERT INTO search_dirty(asset_id) VALUES (NEW.asset_id); END;
CREATE TRIGGER search_exif_upd AFTER UPDATE OF description, city, state, country, make, model, lens_model
  ON asset_exif BEGIN
  INSERT INTO search_dirty(asset_id) VALUES (NEW.asset_id); END;

CREATE TRIGGER search_tag_asset_ins AFTER INSERT ON tag_asset BEGIN
  INSERT INTO search_dirty(asset_id) VALUES (NEW.asset_id); END;
CREATE TRIGGER search_tag_asset_del AFTER DELETE ON tag_asset BEGIN
  INSERT INTO search_dirty(asset_id) VALUES (OLD.asset_id); END;
CREATE TRIGGER search_tag_upd AFTER UPDATE OF value ON tag BEGIN
  INSERT INTO search_dirty(asset_id) SELECT asset_id FROM tag_asset WHERE tag_id = NEW.id; END;

CREATE TRIGGER search_face_ins AFTER INSERT ON asset_face BEGIN
  INSERT INTO search_dirty(asset_id) VALUES (NEW.asset_id); END;
CREATE TRIGGER search_face_upd AFTER UPDATE OF person_id, is_visible, deleted_at ON asset_face BEGIN
  INSERT INTO search_dirty(asset_id) VALUES (NEW.asset_id); END;
CREATE TRIGGER search_face_del AFTER DELETE ON asset_face BEGIN
  INSERT INTO search_dirty(asset_id) VALUES (OLD.asset_id); END;
CREATE TRIGGER search_person_upd AFTER UPDATE OF name ON person BEGIN
  INSERT INTO search_dirty(asset_id) SELECT asset_id FROM asset_face WHERE person_id = NEW.id; END;

CREATE TRIGGER search_album_asset_ins AFTER INSERT ON album_asset BEGIN
  INSERT INTO search_dirty(asset_id) VALUES (NEW.asset_id); END;
CREATE TRIGGER search_album_asset_del AFTER DELETE ON album_asset BEGIN
  INSERT INTO search_dirty(asset_id) VALUES (OLD.asset_id); END;
CREATE TRIGGER search_album_upd AFTER UPDATE OF album_name, deleted_at ON album BEGIN
  INSERT INTO search_dirty(asset_id) SELECT asset_id FROM album_asset WHERE album_id = NEW.id; END;

CREATE TRIGGER search_ocr_ins AFTER INSERT ON ocr_search BEGIN
  INSERT INTO search_dirty(asset_id) VALUES (NEW.asset_id); END;
CREATE TRIGGER search_ocr_upd AFTER UPDATE OF text ON ocr_search BEGIN
  INSERT INTO search_dirty(asset_id) VALUES (NEW.asset_id); END;
CREATE TRIGGER search_ocr_del AFTER DELETE ON ocr_search BEGIN
  INSERT INTO search_dirty(asset_id) VALUES (OLD.asset_id); END;

