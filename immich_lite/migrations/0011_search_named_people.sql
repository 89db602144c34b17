-- The text index holds the *names* of an asset's people (repos/search_index.py: p.name != ''), so a face change
-- only needs the asset re-indexed when a named person is involved. Recognising 10,000 faces into unnamed people
-- marked 10,000 assets dirty for documents that came out the same (bench/faces.py: ~2 s of a ~6 s clustering run).
DROP TRIGGER search_face_ins;
DROP TRIGGER search_face_upd;
DROP TRIGGER search_face_del;
CREATE TRIGGER search_face_ins AFTER INSERT ON asset_face
  WHEN EXISTS (SELECT 1 FROM person WHERE id = NEW.person_id AND name != '') BEGIN
  INSERT INTO search_dirty(asset_id) VALUES (NEW.asset_id); END;
CREATE TRIGGER search_face_upd AFTER UPDATE OF person_id, is_visible, deleted_at ON asset_face
  WHEN EXISTS (SELECT 1 FROM person WHERE id IN (OLD.person_id, NEW.person_id) AND name != '') BEGIN
  INSERT INTO search_dirty(asset_id) VALUES (NEW.asset_id); END;
CREATE TRIGGER search_face_del AFTER DELETE ON asset_face
  WHEN EXISTS (SELECT 1 FROM person WHERE id = OLD.person_id AND name != '') BEGIN
  INSERT INTO search_dirty(asset_id) VALUES (OLD.asset_id); END;
-- a named person deleted (its faces unassigned by the foreign key): re-index while the faces still point at it
CREATE TRIGGER search_person_del BEFORE DELETE ON person WHEN OLD.name != '' BEGIN
  INSERT INTO search_dirty(asset_id) SELECT asset_id FROM asset_face WHERE person_id = OLD.id; END;
