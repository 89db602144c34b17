-- Text found in photos (upstream asset-ocr.table.ts, asset-ocr-audit.table.ts, ocr.repository.ts): one row per
-- line the OCR job reads on the preview, its box as four corners normalised to 0..1, clockwise from top-left.
-- is_visible turns false for lines an edit (a crop) cut away. ocr_search (0005) holds the same text joined, for the
-- `ocr` search filter and the text index. Deletes are audited for the sync stream's AssetOcrDeleteV1, except
-- when the asset itself goes (AssetDeleteV1 says it), as upstream (pg_trigger_depth() = 0).

CREATE TABLE asset_ocr (
  id          TEXT PRIMARY KEY,
  asset_id    TEXT NOT NULL REFERENCES asset(id) ON DELETE CASCADE ON UPDATE CASCADE,
  x1          REAL NOT NULL,
  y1          REAL NOT NULL,
  x2          REAL NOT NULL,
  y2          REAL NOT NULL,
  x3          REAL NOT NULL,
  y3          REAL NOT NULL,
  x4          REAL NOT NULL,
  y4          REAL NOT NULL,
  box_score   REAL NOT NULL,
  text_score  REAL NOT NULL,
  text        TEXT NOT NULL,
  is_visible  INTEGER NOT NULL DEFAULT 1,
  update_id   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX asset_ocr_asset_idx ON asset_ocr(asset_id);
CREATE INDEX asset_ocr_update_idx ON asset_ocr(update_id);

CREATE TABLE asset_ocr_audit (
  id          TEXT PRIMARY KEY,
  ocr_id      TEXT NOT NULL,
  asset_id    TEXT NOT NULL,
  deleted_at  TEXT NOT NULL
);
CREATE INDEX asset_ocr_audit_asset_idx ON asset_ocr_audit(asset_id);
CREATE INDEX asset_ocr_audit_deleted_idx ON asset_ocr_audit(deleted_at);

CREATE TRIGGER asset_ocr_update_id_ins AFTER INSERT ON asset_ocr BEGIN
  UPDATE asset_ocr SET update_id = immich_uuid_v7() WHERE id = NEW.id; END;
CREATE TRIGGER asset_ocr_update_id_upd AFTER UPDATE ON asset_ocr WHEN NEW.update_id = OLD.update_id BEGIN
  UPDATE asset_ocr SET update_id = immich_uuid_v7() WHERE id = NEW.id; END;
CREATE TRIGGER asset_ocr_audit_del AFTER DELETE ON asset_ocr
  WHEN EXISTS (SELECT 1 FROM asset WHERE id = OLD.asset_id) BEGIN
  INSERT INTO asset_ocr_audit(id, ocr_id, asset_id, deleted_at)
    VALUES (immich_uuid_v7(), OLD.id, OLD.asset_id, immich_now()); END;

ALTER TABLE asset_job_status ADD COLUMN ocr_at TEXT;
