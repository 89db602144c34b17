-- CLIP embeddings per asset (upstream smart_search), for smart search and duplicate detection. Plain BLOBs of
-- little-endian float32 in this database, so backup, restore and verify cover them; sqlite-vec's distance
-- functions read them as they are. One model at a time: the model and dimension are in system_metadata
-- 'smart-search', and changing the model empties the table before anything new is stored (services/smart_search.py).
-- smart_search_state counts changes so the in-memory scan (search/vectors.py) knows when to read rows again.

CREATE TABLE smart_search (
  asset_id   TEXT PRIMARY KEY REFERENCES asset(id) ON DELETE CASCADE ON UPDATE CASCADE,
  embedding  BLOB NOT NULL
);

CREATE TABLE smart_search_state (
  id       INTEGER PRIMARY KEY CHECK (id = 1),
  version  INTEGER NOT NULL,
  removed  INTEGER NOT NULL
);
INSERT INTO smart_search_state (id, version, removed) VALUES (1, 0, 0);

CREATE TRIGGER smart_search_ins AFTER INSERT ON smart_search BEGIN
  UPDATE smart_search_state SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER smart_search_del AFTER DELETE ON smart_search BEGIN
  UPDATE smart_search_state SET version = version + 1, removed = removed + 1 WHERE id = 1; END;
CREATE TRIGGER smart_search_upd AFTER UPDATE ON smart_search BEGIN
  UPDATE smart_search_state SET version = version + 1, removed = removed + 1 WHERE id = 1; END;
