-- Face embeddings for facial recognition (upstream's face_search table), in sqlite-vec's vec0 partitioned by owner.
-- Recognition reads an owner's embeddings from here into memory (services/faces.py); GET /people's closest-face
-- order uses vec_distance_l2 on it. The extension is loaded on every connection (db.py). Rows follow asset_face
-- through a trigger, so deleting an asset (CASCADE) or re-detecting its faces keeps it right.
CREATE VIRTUAL TABLE face_search USING vec0(
  face_id     TEXT PRIMARY KEY,
  owner_id    TEXT PARTITION KEY,
  embedding   FLOAT[128] distance_metric=l2
);

CREATE TRIGGER asset_face_search_delete AFTER DELETE ON asset_face
BEGIN
  DELETE FROM face_search WHERE face_id = OLD.id;
END;
