-- Face embeddings of any size: dlib's 128-D from this server's own detection, or upstream's 512-D buffalo_l from
-- an immich-machine-learning container in machineLearning.urls. sqlite-vec's vec0 fixes one size per table, so
-- face_search becomes a plain table of little-endian float32 BLOBs (the same bytes vec0 held): recognition reads
-- an owner's embeddings of one size into memory (services/faces.py), GET /people's closest-face order still uses
-- vec_distance_l2 on the BLOBs, among embeddings of the same size.
CREATE TABLE face_search_blob (
  face_id    TEXT PRIMARY KEY,
  owner_id   TEXT NOT NULL,
  embedding  BLOB NOT NULL
);
INSERT INTO face_search_blob (face_id, owner_id, embedding) SELECT face_id, owner_id, embedding FROM face_search;
DROP TRIGGER asset_face_search_delete;
DROP TABLE face_search;
ALTER TABLE face_search_blob RENAME TO face_search;
CREATE INDEX face_search_owner_idx ON face_search(owner_id, length(embedding));

CREATE TRIGGER asset_face_search_delete AFTER DELETE ON asset_face
BEGIN
  DELETE FROM face_search WHERE face_id = OLD.id;
END;
