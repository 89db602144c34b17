-- Non-destructive edits (upstream asset-edit.table.ts, asset-edit-audit.table.ts, functions.ts asset_edit_*).
-- One row per action of an asset's edit list, in `sequence` order (crop first). PUT /assets/{id}/edits replaces
-- the whole list (delete + insert), so a changed list shows up in the sync stream as deletes plus new rows.

CREATE TABLE asset_edit (
  id          TEXT PRIMARY KEY,
  asset_id    TEXT NOT NULL REFERENCES asset(id) ON DELETE CASCADE ON UPDATE CASCADE,
  action      TEXT NOT NULL,                 -- crop | rotate | mirror
  parameters  TEXT NOT NULL,                 -- JSON: {x,y,width,height} | {angle} | {axis}
  sequence    INTEGER NOT NULL,
  updated_at  TEXT NOT NULL DEFAULT '',
  update_id   TEXT NOT NULL DEFAULT '',
  UNIQUE (asset_id, sequence)
);
CREATE INDEX asset_edit_update_idx ON asset_edit(update_id);

CREATE TABLE asset_edit_audit (
  id          TEXT PRIMARY KEY,
  edit_id     TEXT NOT NULL,
  asset_id    TEXT NOT NULL,
  deleted_at  TEXT NOT NULL
);
CREATE INDEX asset_edit_audit_asset_idx ON asset_edit_audit(asset_id);
CREATE INDEX asset_edit_audit_deleted_idx ON asset_edit_audit(deleted_at);

CREATE TRIGGER asset_edit_update_id_ins AFTER INSERT ON asset_edit BEGIN
  UPDATE asset_edit SET update_id = immich_uuid_v7(), updated_at = immich_now() WHERE id = NEW.id; END;
CREATE TRIGGER asset_edit_update_id_upd AFTER UPDATE ON asset_edit WHEN NEW.update_id = OLD.update_id BEGIN
  UPDATE asset_edit SET update_id = immich_uuid_v7(), updated_at = immich_now() WHERE id = NEW.id; END;
-- upstream audits only direct deletes (pg_trigger_depth() = 0): when the asset itself goes, AssetDeleteV1 says it
CREATE TRIGGER asset_edit_audit_del AFTER DELETE ON asset_edit
  WHEN EXISTS (SELECT 1 FROM asset WHERE id = OLD.asset_id) BEGIN
  INSERT INTO asset_edit_audit(id, edit_id, asset_id, deleted_at) VALUES (immich_uuid_v7(), OLD.id, OLD.asset_id, immich_now()); END;

-- asset.is_edited follows the presence of edit rows (upstream asset_edit_insert / asset_edit_delete)
CREATE TRIGGER asset_edit_flag_ins AFTER INSERT ON asset_edit BEGIN
  UPDATE asset SET is_edited = 1 WHERE id = NEW.asset_id AND is_edited = 0; END;
CREATE TRIGGER asset_edit_flag_del AFTER DELETE ON asset_edit BEGIN
  UPDATE asset SET is_edited = 0 WHERE id = OLD.asset_id AND is_edited = 1
    AND NOT EXISTS (SELECT 1 FROM asset_edit e WHERE e.asset_id = OLD.asset_id); END;
