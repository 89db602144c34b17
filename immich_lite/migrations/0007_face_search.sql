-- Face embeddings for facial recognition (upstream's face_search table + its vector index), in sqlite-vec's vec0:
-- a brute-force SIMD scan per owner (partition key), filtered by whether the face has a person already. The
-- extension is loaded on every connection (db.py). has_person and the rows themselves follow asset_face through
-- triggers, so reassigning, merging, deleting a person (ON DELETE SET NULL) or an asset (CASCADE) keep it right.
CREATE VIRTUAL TABLE face_search USING vec0(
  face_id     TEXT PRIMARY KEY,
  owner_id    TEXT PARTITION KEY,
  has_person  INTEGER,
  embedding   FLOAT[128] distance_metric=l2
);

CREATE TRIGGER asset_face_search_person AFTER UPDATE OF person_id ON asset_face
WHEN (OLD.person_id IS NULL) != (NEW.person_id IS NULL)
BEGIN
  UPDATE face_search SET has_person = (NEW.person_id IS NOT NULL) WHERE face_id = NEW.id;
END;

CREATE TRIGGER asset_face_search_delete AFTER DELETE ON asset_face
BEGIN
  DELETE FROM face_search WHERE face_id = OLD.id;
END;
