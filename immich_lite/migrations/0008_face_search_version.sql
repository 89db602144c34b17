-- A counter bumped whenever face embeddings are added or removed, so the recognition search can keep an owner's
-- embeddings in memory between faces and know when to read them again (services/faces.py `_owner_vectors`).
-- Embeddings are added only by the face detection job (which bumps it); removals follow asset_face rows here.
CREATE TABLE face_search_version (
  id      INTEGER PRIMARY KEY CHECK (id = 1),
  version INTEGER NOT NULL
);
INSERT INTO face_search_version (id, version) VALUES (1, 0);

CREATE TRIGGER asset_face_search_version AFTER DELETE ON asset_face
BEGIN
  UPDATE face_search_version SET version = version + 1 WHERE id = 1;
END;
