-- Integrity reports (upstream integrity-report.table.ts): one row per flagged path and report type, written by
-- the IntegrityCheck jobs (services/integrity.py). asset_id / file_asset_id say which row a missing or
-- mismatching file belongs to (NULL for untracked files); rows go with their asset / asset_file.

CREATE TABLE integrity_report (
  id             TEXT PRIMARY KEY,
  type           TEXT NOT NULL,            -- untracked_file | missing_file | checksum_mismatch
  path           TEXT NOT NULL,            -- as stored (relative to the data dir, or absolute for external files)
  asset_id       TEXT REFERENCES asset(id) ON DELETE CASCADE ON UPDATE CASCADE,
  file_asset_id  TEXT REFERENCES asset_file(id) ON DELETE CASCADE ON UPDATE CASCADE,
  created_at     TEXT NOT NULL,
  UNIQUE (type, path)
);
CREATE INDEX integrity_report_type_id_idx ON integrity_report(type, id);
CREATE INDEX integrity_report_asset_idx ON integrity_report(asset_id) WHERE asset_id IS NOT NULL;
CREATE INDEX integrity_report_file_asset_idx ON integrity_report(file_asset_id) WHERE file_asset_id IS NOT NULL;
