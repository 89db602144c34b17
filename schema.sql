-- immich-lite schema, version 1 (PRAGMA user_version = 1).
-- Table and column names follow upstream Immich (server/src/schema/tables/*.ts) in snake_case.
-- Conventions:
--   ids           TEXT UUIDv4
--   update_id     TEXT UUIDv7, set by triggers through immich_uuid_v7(); the sync stream pages on it
--   times         TEXT ISO-8601 UTC with milliseconds, 'YYYY-MM-DDTHH:MM:SS.mmmZ' (sorts as text)
--   checksums     BLOB (20-byte SHA-1)
--   *_audit       rows written by delete triggers; their id is a UUIDv7 (sync deletes page on it)

CREATE TABLE "user" (
  id                    TEXT PRIMARY KEY,
  email                 TEXT NOT NULL,
  name                  TEXT NOT NULL DEFAULT '',
  password              TEXT NOT NULL DEFAULT '',        -- bcrypt hash, '' when unset
  pin_code              TEXT,                            -- bcrypt hash
  is_admin              INTEGER NOT NULL DEFAULT 0,
  should_change_password INTEGER NOT NULL DEFAULT 1,
  oauth_id              TEXT NOT NULL DEFAULT '',
  avatar_color          TEXT,
  profile_image_path    TEXT NOT NULL DEFAULT '',
  profile_changed_at    TEXT NOT NULL,
  storage_label         TEXT,
  quota_size_in_bytes   INTEGER,
  quota_usage_in_bytes  INTEGER NOT NULL DEFAULT 0,
  status                TEXT NOT NULL DEFAULT 'active',  -- active | removing | deleted
  created_at            TEXT NOT NULL,
  updated_at            TEXT NOT NULL,
  deleted_at            TEXT,
  update_id             TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX user_email_uq ON "user"(email);
CREATE UNIQUE INDEX user_storage_label_uq ON "user"(storage_label) WHERE storage_label IS NOT NULL;
CREATE INDEX user_update_id_idx ON "user"(update_id);

CREATE TABLE user_audit (
  id         TEXT PRIMARY KEY,               -- UUIDv7
  user_id    TEXT NOT NULL,
  deleted_at TEXT NOT NULL
);

-- preferences, onboarding and license live here as JSON, one row per key, as upstream
CREATE TABLE user_metadata (
  user_id   TEXT NOT NULL REFERENCES "user"(id) ON DELETE CASCADE,
  key       TEXT NOT NULL,                   -- preferences | onboarding | license
  value     TEXT NOT NULL,                   -- JSON
  update_id TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (user_id, key)
);
CREATE INDEX user_metadata_update_id_idx ON user_metadata(update_id);

CREATE TABLE user_metadata_audit (
  id         TEXT PRIMARY KEY,
  user_id    TEXT NOT NULL,
  key        TEXT NOT NULL,
  deleted_at TEXT NOT NULL
);

CREATE TABLE session (
  id                    TEXT PRIMARY KEY,
  token                 BLOB NOT NULL,       -- sha256(token)
  user_id               TEXT NOT NULL REFERENCES "user"(id) ON DELETE CASCADE,
  parent_id             TEXT REFERENCES session(id) ON DELETE CASCADE,
  device_type           TEXT NOT NULL DEFAULT '',
  device_os             TEXT NOT NULL DEFAULT '',
  app_version           TEXT,
  created_at            TEXT NOT NULL,
  updated_at            TEXT NOT NULL,
  expires_at            TEXT,
  pin_expires_at        TEXT,
  is_pending_sync_reset INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX session_token_uq ON session(token);
CREATE INDEX session_user_idx ON session(user_id);

CREATE TABLE session_sync_checkpoint (
  session_id TEXT NOT NULL REFERENCES session(id) ON DELETE CASCADE,
  type       TEXT NOT NULL,
  ack        TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (session_id, type)
);

CREATE TABLE api_key (
  id          TEXT PRIMARY KEY,
  name        TEXT NOT NULL,
  key         BLOB NOT NULL,                 -- sha256(secret)
  user_id     TEXT NOT NULL REFERENCES "user"(id) ON DELETE CASCADE,
  permissions TEXT NOT NULL,                 -- JSON array of Permission strings
  created_at  TEXT NOT NULL,
  updated_at  TEXT NOT NULL
);
CREATE UNIQUE INDEX api_key_key_uq ON api_key(key);
CREATE INDEX api_key_user_idx ON api_key(user_id);

-- failed login attempts, for throttling (per account and per client address)
CREATE TABLE login_attempt (
  bucket     TEXT NOT NULL,                  -- 'email:<email>' | 'ip:<addr>'
  at         REAL NOT NULL                   -- unix seconds
);
CREATE INDEX login_attempt_bucket_idx ON login_attempt(bucket, at);

CREATE TABLE system_metadata (
  key   TEXT PRIMARY KEY,                    -- system-config | admin-onboarding | reverse-geocoding-state | license | version-check-state ...
  value TEXT NOT NULL                        -- JSON
);

CREATE TABLE version_history (
  id         TEXT PRIMARY KEY,
  created_at TEXT NOT NULL,
  version    TEXT NOT NULL
);

CREATE TABLE notification (
  id          TEXT PRIMARY KEY,
  user_id     TEXT NOT NULL REFERENCES "user"(id) ON DELETE CASCADE,
  level       TEXT NOT NULL DEFAULT 'info',  -- success | error | warning | info
  type        TEXT NOT NULL DEFAULT 'Custom',
  title       TEXT NOT NULL,
  description TEXT,
  data        TEXT,                          -- JSON
  read_at     TEXT,
  created_at  TEXT NOT NULL,
  updated_at  TEXT NOT NULL,
  deleted_at  TEXT
);
CREATE INDEX notification_user_idx ON notification(user_id, created_at);

-- ---------------------------------------------------------------------------------------------
-- Assets (filled by the photos issue; laid down now because the sync stream reads them)

CREATE TABLE library (
  id                  TEXT PRIMARY KEY,
  name                TEXT NOT NULL,
  owner_id            TEXT NOT NULL REFERENCES "user"(id) ON DELETE CASCADE,
  import_paths        TEXT NOT NULL DEFAULT '[]',   -- JSON
  exclusion_patterns  TEXT NOT NULL DEFAULT '[]',   -- JSON
  created_at          TEXT NOT NULL,
  updated_at          TEXT NOT NULL,
  deleted_at          TEXT,
  refreshed_at        TEXT
);

CREATE TABLE stack (
  id               TEXT PRIMARY KEY,
  owner_id         TEXT NOT NULL REFERENCES "user"(id) ON DELETE CASCADE,
  primary_asset_id TEXT NOT NULL,
  created_at       TEXT NOT NULL,
  updated_at       TEXT NOT NULL,
  update_id        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX stack_owner_update_idx ON stack(owner_id, update_id);

CREATE TABLE stack_audit (
  id         TEXT PRIMARY KEY,
  stack_id   TEXT NOT NULL,
  user_id    TEXT NOT NULL,
  deleted_at TEXT NOT NULL
);

CREATE TABLE asset (
  id                  TEXT PRIMARY KEY,
  owner_id            TEXT NOT NULL REFERENCES "user"(id) ON DELETE CASCADE,
  library_id          TEXT REFERENCES library(id) ON DELETE CASCADE,
  device_asset_id     TEXT NOT NULL DEFAULT '',
  device_id           TEXT NOT NULL DEFAULT '',
  type                TEXT NOT NULL,                 -- IMAGE | VIDEO | AUDIO | OTHER
  status              TEXT NOT NULL DEFAULT 'active',-- active | trashed | deleted
  original_path       TEXT NOT NULL,
  original_file_name  TEXT NOT NULL,
  checksum            BLOB NOT NULL,
  checksum_algorithm  TEXT NOT NULL DEFAULT 'sha1',
  file_created_at     TEXT NOT NULL,
  file_modified_at    TEXT NOT NULL,
  local_date_time     TEXT NOT NULL,
  created_at          TEXT NOT NULL,
  updated_at          TEXT NOT NULL,
  deleted_at          TEXT,
  is_favorite         INTEGER NOT NULL DEFAULT 0,
  visibility          TEXT NOT NULL DEFAULT 'timeline', -- archive | timeline | hidden | locked
  is_offline          INTEGER NOT NULL DEFAULT 0,
  is_external         INTEGER NOT NULL DEFAULT 0,
  is_edited           INTEGER NOT NULL DEFAULT 0,
  duration            INTEGER,                       -- milliseconds
  width               INTEGER,
  height              INTEGER,
  thumbhash           BLOB,
  live_photo_video_id TEXT REFERENCES asset(id) ON DELETE SET NULL,
  stack_id            TEXT REFERENCES stack(id) ON DELETE SET NULL,
  duplicate_id        TEXT,
  encoded_video_path  TEXT,
  update_id           TEXT NOT NULL DEFAULT ''
);
-- duplicates are per owner, trashed assets included (upstream asset.table.ts)
CREATE UNIQUE INDEX asset_owner_checksum_uq ON asset(owner_id, checksum) WHERE library_id IS NULL;
CREATE INDEX asset_owner_update_idx ON asset(owner_id, update_id);
CREATE INDEX asset_update_idx ON asset(update_id);
CREATE INDEX asset_owner_local_idx ON asset(owner_id, local_date_time);
CREATE INDEX asset_live_photo_idx ON asset(live_photo_video_id);
CREATE INDEX asset_stack_idx ON asset(stack_id);
CREATE INDEX asset_deleted_idx ON asset(deleted_at) WHERE deleted_at IS NOT NULL;

CREATE TABLE asset_audit (
  id         TEXT PRIMARY KEY,
  asset_id   TEXT NOT NULL,
  owner_id   TEXT NOT NULL,
  deleted_at TEXT NOT NULL
);
CREATE INDEX asset_audit_owner_idx ON asset_audit(owner_id, id);

CREATE TABLE asset_exif (
  asset_id            TEXT PRIMARY KEY REFERENCES asset(id) ON DELETE CASCADE,
  make                TEXT,
  model               TEXT,
  lens_model          TEXT,
  exif_image_width    INTEGER,
  exif_image_height   INTEGER,
  file_size_in_byte   INTEGER,
  orientation         TEXT,
  date_time_original  TEXT,
  modify_date         TEXT,
  time_zone           TEXT,
  latitude            REAL,
  longitude           REAL,
  city                TEXT,
  state               TEXT,
  country             TEXT,
  description         TEXT NOT NULL DEFAULT '',
  f_number            REAL,
  focal_length        REAL,
  iso                 INTEGER,
  exposure_time       TEXT,
  profile_description TEXT,
  colorspace          TEXT,
  bits_per_sample     INTEGER,
  projection_type     TEXT,
  fps                 REAL,
  rating              INTEGER,
  live_photo_cid      TEXT,
  auto_stack_id       TEXT,
  tags                TEXT,                  -- JSON array from keywords
  locked_properties   TEXT,                  -- JSON array: fields edited by the user
  update_id           TEXT NOT NULL DEFAULT ''
);
CREATE INDEX asset_exif_update_idx ON asset_exif(update_id);
CREATE INDEX asset_exif_live_photo_cid_idx ON asset_exif(live_photo_cid) WHERE live_photo_cid IS NOT NULL;

CREATE TABLE asset_file (
  id         TEXT PRIMARY KEY,
  asset_id   TEXT NOT NULL REFERENCES asset(id) ON DELETE CASCADE,
  type       TEXT NOT NULL,                  -- thumbnail | preview | fullsize | encoded_video | sidecar
  path       TEXT NOT NULL,
  is_edited  INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX asset_file_uq ON asset_file(asset_id, type, is_edited);

CREATE TABLE asset_metadata (
  asset_id   TEXT NOT NULL REFERENCES asset(id) ON DELETE CASCADE,
  key        TEXT NOT NULL,
  value      TEXT NOT NULL,                  -- JSON
  updated_at TEXT NOT NULL,
  update_id  TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (asset_id, key)
);
CREATE INDEX asset_metadata_update_idx ON asset_metadata(update_id);

CREATE TABLE asset_metadata_audit (
  id         TEXT PRIMARY KEY,
  asset_id   TEXT NOT NULL,
  key        TEXT NOT NULL,
  deleted_at TEXT NOT NULL
);

CREATE TABLE asset_job_status (
  asset_id                TEXT PRIMARY KEY REFERENCES asset(id) ON DELETE CASCADE,
  metadata_extracted_at   TEXT,
  thumbnail_generated_at  TEXT,
  duplicates_detected_at  TEXT,
  faces_recognized_at     TEXT
);

-- ---------------------------------------------------------------------------------------------
-- Albums, sharing, people, tags, memories (the albums issue fills these)

CREATE TABLE album (
  id                  TEXT PRIMARY KEY,
  owner_id            TEXT NOT NULL REFERENCES "user"(id) ON DELETE CASCADE,
  album_name          TEXT NOT NULL DEFAULT 'Untitled Album',
  description         TEXT NOT NULL DEFAULT '',
  album_thumbnail_asset_id TEXT REFERENCES asset(id) ON DELETE SET NULL,
  is_activity_enabled INTEGER NOT NULL DEFAULT 1,
  "order"             TEXT NOT NULL DEFAULT 'desc',
  created_at          TEXT NOT NULL,
  updated_at          TEXT NOT NULL,
  deleted_at          TEXT,
  update_id           TEXT NOT NULL DEFAULT ''
);
CREATE INDEX album_owner_idx ON album(owner_id);
CREATE INDEX album_update_idx ON album(update_id);

CREATE TABLE album_audit (
  id         TEXT PRIMARY KEY,
  album_id   TEXT NOT NULL,
  user_id    TEXT NOT NULL,
  deleted_at TEXT NOT NULL
);

CREATE TABLE album_user (
  album_id   TEXT NOT NULL REFERENCES album(id) ON DELETE CASCADE,
  user_id    TEXT NOT NULL REFERENCES "user"(id) ON DELETE CASCADE,
  role       TEXT NOT NULL DEFAULT 'editor', -- editor | viewer
  create_id  TEXT NOT NULL DEFAULT '',
  update_id  TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL,
  PRIMARY KEY (album_id, user_id)
);
CREATE INDEX album_user_user_idx ON album_user(user_id);
CREATE INDEX album_user_update_idx ON album_user(update_id);

CREATE TABLE album_user_audit (
  id         TEXT PRIMARY KEY,
  album_id   TEXT NOT NULL,
  user_id    TEXT NOT NULL,
  deleted_at TEXT NOT NULL
);

CREATE TABLE album_asset (
  album_id   TEXT NOT NULL REFERENCES album(id) ON DELETE CASCADE,
  asset_id   TEXT NOT NULL REFERENCES asset(id) ON DELETE CASCADE,
  created_at TEXT NOT NULL,
  create_id  TEXT NOT NULL DEFAULT '',
  update_id  TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (album_id, asset_id)
);
CREATE INDEX album_asset_asset_idx ON album_asset(asset_id);
CREATE INDEX album_asset_update_idx ON album_asset(update_id);

CREATE TABLE album_asset_audit (
  id         TEXT PRIMARY KEY,
  album_id   TEXT NOT NULL,
  asset_id   TEXT NOT NULL,
  deleted_at TEXT NOT NULL
);

CREATE TABLE partner (
  shared_by_id   TEXT NOT NULL REFERENCES "user"(id) ON DELETE CASCADE,
  shared_with_id TEXT NOT NULL REFERENCES "user"(id) ON DELETE CASCADE,
  in_timeline    INTEGER NOT NULL DEFAULT 0,
  created_at     TEXT NOT NULL,
  updated_at     TEXT NOT NULL,
  create_id      TEXT NOT NULL DEFAULT '',
  update_id      TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (shared_by_id, shared_with_id)
);
CREATE INDEX partner_with_idx ON partner(shared_with_id);

CREATE TABLE partner_audit (
  id             TEXT PRIMARY KEY,
  shared_by_id   TEXT NOT NULL,
  shared_with_id TEXT NOT NULL,
  deleted_at     TEXT NOT NULL
);

CREATE TABLE shared_link (
  id              TEXT PRIMARY KEY,
  user_id         TEXT NOT NULL REFERENCES "user"(id) ON DELETE CASCADE,
  key             BLOB NOT NULL,
  slug            TEXT,
  type            TEXT NOT NULL,             -- ALBUM | INDIVIDUAL
  album_id        TEXT REFERENCES album(id) ON DELETE CASCADE,
  description     TEXT,
  password        TEXT,
  expires_at      TEXT,
  allow_upload    INTEGER NOT NULL DEFAULT 0,
  allow_download  INTEGER NOT NULL DEFAULT 1,
  show_exif       INTEGER NOT NULL DEFAULT 1,
  created_at      TEXT NOT NULL
);
CREATE UNIQUE INDEX shared_link_key_uq ON shared_link(key);
CREATE UNIQUE INDEX shared_link_slug_uq ON shared_link(slug) WHERE slug IS NOT NULL;

CREATE TABLE shared_link_asset (
  shared_link_id TEXT NOT NULL REFERENCES shared_link(id) ON DELETE CASCADE,
  asset_id       TEXT NOT NULL REFERENCES asset(id) ON DELETE CASCADE,
  PRIMARY KEY (shared_link_id, asset_id)
);

CREATE TABLE activity (
  id         TEXT PRIMARY KEY,
  album_id   TEXT NOT NULL REFERENCES album(id) ON DELETE CASCADE,
  user_id    TEXT NOT NULL REFERENCES "user"(id) ON DELETE CASCADE,
  asset_id   TEXT REFERENCES asset(id) ON DELETE CASCADE,
  comment    TEXT,
  is_liked   INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE INDEX activity_album_idx ON activity(album_id, created_at);

CREATE TABLE memory (
  id         TEXT PRIMARY KEY,
  owner_id   TEXT NOT NULL REFERENCES "user"(id) ON DELETE CASCADE,
  type       TEXT NOT NULL,                  -- on_this_day
  data       TEXT NOT NULL,                  -- JSON
  is_saved   INTEGER NOT NULL DEFAULT 0,
  memory_at  TEXT NOT NULL,
  seen_at    TEXT,
  show_at    TEXT,
  hide_at    TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  deleted_at TEXT,
  update_id  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX memory_owner_update_idx ON memory(owner_id, update_id);

CREATE TABLE memory_audit (
  id         TEXT PRIMARY KEY,
  memory_id  TEXT NOT NULL,
  user_id    TEXT NOT NULL,
  deleted_at TEXT NOT NULL
);

CREATE TABLE memory_asset (
  memory_id  TEXT NOT NULL REFERENCES memory(id) ON DELETE CASCADE,
  asset_id   TEXT NOT NULL REFERENCES asset(id) ON DELETE CASCADE,
  create_id  TEXT NOT NULL DEFAULT '',
  update_id  TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (memory_id, asset_id)
);
CREATE INDEX memory_asset_update_idx ON memory_asset(update_id);

CREATE TABLE memory_asset_audit (
  id         TEXT PRIMARY KEY,
  memory_id  TEXT NOT NULL,
  asset_id   TEXT NOT NULL,
  deleted_at TEXT NOT NULL
);

CREATE TABLE person (
  id              TEXT PRIMARY KEY,
  owner_id        TEXT NOT NULL REFERENCES "user"(id) ON DELETE CASCADE,
  name            TEXT NOT NULL DEFAULT '',
  birth_date      TEXT,
  thumbnail_path  TEXT NOT NULL DEFAULT '',
  face_asset_id   TEXT,
  is_hidden       INTEGER NOT NULL DEFAULT 0,
  is_favorite     INTEGER NOT NULL DEFAULT 0,
  color           TEXT,
  created_at      TEXT NOT NULL,
  updated_at      TEXT NOT NULL,
  update_id       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX person_owner_update_idx ON person(owner_id, update_id);

CREATE TABLE person_audit (
  id         TEXT PRIMARY KEY,
  person_id  TEXT NOT NULL,
  owner_id   TEXT NOT NULL,
  deleted_at TEXT NOT NULL
);

CREATE TABLE asset_face (
  id               TEXT PRIMARY KEY,
  asset_id         TEXT NOT NULL REFERENCES asset(id) ON DELETE CASCADE,
  person_id        TEXT REFERENCES person(id) ON DELETE SET NULL,
  image_width      INTEGER NOT NULL,
  image_height     INTEGER NOT NULL,
  bounding_box_x1  INTEGER NOT NULL,
  bounding_box_y1  INTEGER NOT NULL,
  bounding_box_x2  INTEGER NOT NULL,
  bounding_box_y2  INTEGER NOT NULL,
  source_type      TEXT NOT NULL DEFAULT 'machine-learning',
  is_visible       INTEGER NOT NULL DEFAULT 1,
  deleted_at       TEXT,
  update_id        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX asset_face_asset_idx ON asset_face(asset_id);
CREATE INDEX asset_face_person_idx ON asset_face(person_id);
CREATE INDEX asset_face_update_idx ON asset_face(update_id);

CREATE TABLE asset_face_audit (
  id            TEXT PRIMARY KEY,
  asset_face_id TEXT NOT NULL,
  asset_id      TEXT NOT NULL,
  deleted_at    TEXT NOT NULL
);

CREATE TABLE tag (
  id         TEXT PRIMARY KEY,
  user_id    TEXT NOT NULL REFERENCES "user"(id) ON DELETE CASCADE,
  value      TEXT NOT NULL,                  -- full path 'a/b/c'
  color      TEXT,
  parent_id  TEXT REFERENCES tag(id) ON DELETE CASCADE,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  update_id  TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX tag_user_value_uq ON tag(user_id, value);

CREATE TABLE tag_asset (
  tag_id   TEXT NOT NULL REFERENCES tag(id) ON DELETE CASCADE,
  asset_id TEXT NOT NULL REFERENCES asset(id) ON DELETE CASCADE,
  PRIMARY KEY (tag_id, asset_id)
);
CREATE INDEX tag_asset_asset_idx ON tag_asset(asset_id);

-- ---------------------------------------------------------------------------------------------
-- Durable jobs: enqueued in the same transaction as the rows that need them

CREATE TABLE job (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  queue       TEXT NOT NULL,
  name        TEXT NOT NULL,
  data        TEXT NOT NULL DEFAULT '{}',      -- JSON
  status      TEXT NOT NULL DEFAULT 'waiting', -- waiting | active | failed (completed rows are deleted;
                                               -- 'delayed' = waiting with run_after in the future)
  attempts    INTEGER NOT NULL DEFAULT 0,      -- runs started so far
  run_after   REAL NOT NULL DEFAULT 0,         -- unix seconds: not before (delay, retry backoff)
  error       TEXT,                            -- last failure
  dedupe_key  TEXT,
  created_at  REAL NOT NULL,                   -- unix seconds
  updated_at  REAL NOT NULL
);
CREATE INDEX job_pick_idx ON job(queue, status, run_after, id);
CREATE UNIQUE INDEX job_dedupe_uq ON job(dedupe_key) WHERE dedupe_key IS NOT NULL AND status = 'waiting';

CREATE TABLE queue_state (
  queue     TEXT PRIMARY KEY,
  is_paused INTEGER NOT NULL DEFAULT 0
);

-- ---------------------------------------------------------------------------------------------
-- updateId triggers: every row the sync stream reads gets a fresh UUIDv7 on insert and update.
-- recursive_triggers is off, so the UPDATE inside an AFTER UPDATE trigger does not re-fire it.

CREATE TRIGGER user_update_id_ins AFTER INSERT ON "user" BEGIN
  UPDATE "user" SET update_id = immich_uuid_v7() WHERE id = NEW.id; END;
CREATE TRIGGER user_update_id_upd AFTER UPDATE ON "user" WHEN NEW.update_id = OLD.update_id BEGIN
  UPDATE "user" SET update_id = immich_uuid_v7() WHERE id = NEW.id; END;
CREATE TRIGGER user_audit_del AFTER DELETE ON "user" BEGIN
  INSERT INTO user_audit(id, user_id, deleted_at) VALUES (immich_uuid_v7(), OLD.id, immich_now()); END;

CREATE TRIGGER user_metadata_update_id_ins AFTER INSERT ON user_metadata BEGIN
  UPDATE user_metadata SET update_id = immich_uuid_v7() WHERE user_id = NEW.user_id AND key = NEW.key; END;
CREATE TRIGGER user_metadata_update_id_upd AFTER UPDATE ON user_metadata WHEN NEW.update_id = OLD.update_id BEGIN
  UPDATE user_metadata SET update_id = immich_uuid_v7() WHERE user_id = NEW.user_id AND key = NEW.key; END;
CREATE TRIGGER user_metadata_audit_del AFTER DELETE ON user_metadata BEGIN
  INSERT INTO user_metadata_audit(id, user_id, key, deleted_at) VALUES (immich_uuid_v7(), OLD.user_id, OLD.key, immich_now()); END;

CREATE TRIGGER stack_update_id_ins AFTER INSERT ON stack BEGIN
  UPDATE stack SET update_id = immich_uuid_v7() WHERE id = NEW.id; END;
CREATE TRIGGER stack_update_id_upd AFTER UPDATE ON stack WHEN NEW.update_id = OLD.update_id BEGIN
  UPDATE stack SET update_id = immich_uuid_v7() WHERE id = NEW.id; END;
CREATE TRIGGER stack_audit_del AFTER DELETE ON stack BEGIN
  INSERT INTO stack_audit(id, stack_id, user_id, deleted_at) VALUES (immich_uuid_v7(), OLD.id, OLD.owner_id, immich_now()); END;

CREATE TRIGGER asset_update_id_ins AFTER INSERT ON asset BEGIN
  UPDATE asset SET update_id = immich_uuid_v7() WHERE id = NEW.id; END;
CREATE TRIGGER asset_update_id_upd AFTER UPDATE ON asset WHEN NEW.update_id = OLD.update_id BEGIN
  UPDATE asset SET update_id = immich_uuid_v7() WHERE id = NEW.id; END;
CREATE TRIGGER asset_audit_del AFTER DELETE ON asset BEGIN
  INSERT INTO asset_audit(id, asset_id, owner_id, deleted_at) VALUES (immich_uuid_v7(), OLD.id, OLD.owner_id, immich_now()); END;

CREATE TRIGGER asset_exif_update_id_ins AFTER INSERT ON asset_exif BEGIN
  UPDATE asset_exif SET update_id = immich_uuid_v7() WHERE asset_id = NEW.asset_id; END;
CREATE TRIGGER asset_exif_update_id_upd AFTER UPDATE ON asset_exif WHEN NEW.update_id = OLD.update_id BEGIN
  UPDATE asset_exif SET update_id = immich_uuid_v7() WHERE asset_id = NEW.asset_id; END;

CREATE TRIGGER asset_metadata_update_id_ins AFTER INSERT ON asset_metadata BEGIN
  UPDATE asset_metadata SET update_id = immich_uuid_v7() WHERE asset_id = NEW.asset_id AND key = NEW.key; END;
CREATE TRIGGER asset_metadata_update_id_upd AFTER UPDATE ON asset_metadata WHEN NEW.update_id = OLD.update_id BEGIN
  UPDATE asset_metadata SET update_id = immich_uuid_v7() WHERE asset_id = NEW.asset_id AND key = NEW.key; END;
CREATE TRIGGER asset_metadata_audit_del AFTER DELETE ON asset_metadata BEGIN
  INSERT INTO asset_metadata_audit(id, asset_id, key, deleted_at) VALUES (immich_uuid_v7(), OLD.asset_id, OLD.key, immich_now()); END;

CREATE TRIGGER album_update_id_ins AFTER INSERT ON album BEGIN
  UPDATE album SET update_id = immich_uuid_v7() WHERE id = NEW.id; END;
CREATE TRIGGER album_update_id_upd AFTER UPDATE ON album WHEN NEW.update_id = OLD.update_id BEGIN
  UPDATE album SET update_id = immich_uuid_v7() WHERE id = NEW.id; END;
CREATE TRIGGER album_audit_del AFTER DELETE ON album BEGIN
  INSERT INTO album_audit(id, album_id, user_id, deleted_at) VALUES (immich_uuid_v7(), OLD.id, OLD.owner_id, immich_now()); END;

CREATE TRIGGER album_user_update_id_ins AFTER INSERT ON album_user BEGIN
  UPDATE album_user SET create_id = immich_uuid_v7(), update_id = immich_uuid_v7()
   WHERE album_id = NEW.album_id AND user_id = NEW.user_id; END;
-- a new member must receive the album itself: touching it gives it an update id past their checkpoint
CREATE TRIGGER album_user_touch_album AFTER INSERT ON album_user BEGIN
  UPDATE album SET updated_at = immich_now() WHERE id = NEW.album_id; END;
CREATE TRIGGER album_user_update_id_upd AFTER UPDATE ON album_user WHEN NEW.update_id = OLD.update_id BEGIN
  UPDATE album_user SET update_id = immich_uuid_v7() WHERE album_id = NEW.album_id AND user_id = NEW.user_id; END;
CREATE TRIGGER album_user_audit_del AFTER DELETE ON album_user BEGIN
  INSERT INTO album_user_audit(id, album_id, user_id, deleted_at) VALUES (immich_uuid_v7(), OLD.album_id, OLD.user_id, immich_now());
  -- a member who leaves (or whose album goes) loses the album: it reaches them as AlbumDeleteV1
  INSERT INTO album_audit(id, album_id, user_id, deleted_at) VALUES (immich_uuid_v7(), OLD.album_id, OLD.user_id, immich_now()); END;

CREATE TRIGGER album_asset_update_id_ins AFTER INSERT ON album_asset BEGIN
  UPDATE album_asset SET create_id = immich_uuid_v7(), update_id = immich_uuid_v7()
   WHERE album_id = NEW.album_id AND asset_id = NEW.asset_id; END;
CREATE TRIGGER album_asset_update_id_upd AFTER UPDATE ON album_asset WHEN NEW.update_id = OLD.update_id BEGIN
  UPDATE album_asset SET update_id = immich_uuid_v7() WHERE album_id = NEW.album_id AND asset_id = NEW.asset_id; END;
CREATE TRIGGER album_asset_audit_del AFTER DELETE ON album_asset BEGIN
  INSERT INTO album_asset_audit(id, album_id, asset_id, deleted_at) VALUES (immich_uuid_v7(), OLD.album_id, OLD.asset_id, immich_now()); END;

CREATE TRIGGER partner_update_id_ins AFTER INSERT ON partner BEGIN
  UPDATE partner SET create_id = immich_uuid_v7(), update_id = immich_uuid_v7()
   WHERE shared_by_id = NEW.shared_by_id AND shared_with_id = NEW.shared_with_id; END;
CREATE TRIGGER partner_update_id_upd AFTER UPDATE ON partner WHEN NEW.update_id = OLD.update_id BEGIN
  UPDATE partner SET update_id = immich_uuid_v7() WHERE shared_by_id = NEW.shared_by_id AND shared_with_id = NEW.shared_with_id; END;
CREATE TRIGGER partner_audit_del AFTER DELETE ON partner BEGIN
  INSERT INTO partner_audit(id, shared_by_id, shared_with_id, deleted_at) VALUES (immich_uuid_v7(), OLD.shared_by_id, OLD.shared_with_id, immich_now()); END;

CREATE TRIGGER memory_update_id_ins AFTER INSERT ON memory BEGIN
  UPDATE memory SET update_id = immich_uuid_v7() WHERE id = NEW.id; END;
CREATE TRIGGER memory_update_id_upd AFTER UPDATE ON memory WHEN NEW.update_id = OLD.update_id BEGIN
  UPDATE memory SET update_id = immich_uuid_v7() WHERE id = NEW.id; END;
CREATE TRIGGER memory_audit_del AFTER DELETE ON memory BEGIN
  INSERT INTO memory_audit(id, memory_id, user_id, deleted_at) VALUES (immich_uuid_v7(), OLD.id, OLD.owner_id, immich_now()); END;

CREATE TRIGGER memory_asset_update_id_ins AFTER INSERT ON memory_asset BEGIN
  UPDATE memory_asset SET create_id = immich_uuid_v7(), update_id = immich_uuid_v7()
   WHERE memory_id = NEW.memory_id AND asset_id = NEW.asset_id; END;
CREATE TRIGGER memory_asset_audit_del AFTER DELETE ON memory_asset BEGIN
  INSERT INTO memory_asset_audit(id, memory_id, asset_id, deleted_at) VALUES (immich_uuid_v7(), OLD.memory_id, OLD.asset_id, immich_now()); END;

CREATE TRIGGER person_update_id_ins AFTER INSERT ON person BEGIN
  UPDATE person SET update_id = immich_uuid_v7() WHERE id = NEW.id; END;
CREATE TRIGGER person_update_id_upd AFTER UPDATE ON person WHEN NEW.update_id = OLD.update_id BEGIN
  UPDATE person SET update_id = immich_uuid_v7() WHERE id = NEW.id; END;
CREATE TRIGGER person_audit_del AFTER DELETE ON person BEGIN
  INSERT INTO person_audit(id, person_id, owner_id, deleted_at) VALUES (immich_uuid_v7(), OLD.id, OLD.owner_id, immich_now()); END;

CREATE TRIGGER asset_face_update_id_ins AFTER INSERT ON asset_face BEGIN
  UPDATE asset_face SET update_id = immich_uuid_v7() WHERE id = NEW.id; END;
CREATE TRIGGER asset_face_update_id_upd AFTER UPDATE ON asset_face WHEN NEW.update_id = OLD.update_id BEGIN
  UPDATE asset_face SET update_id = immich_uuid_v7() WHERE id = NEW.id; END;
CREATE TRIGGER asset_face_audit_del AFTER DELETE ON asset_face BEGIN
  INSERT INTO asset_face_audit(id, asset_face_id, asset_id, deleted_at) VALUES (immich_uuid_v7(), OLD.id, OLD.asset_id, immich_now()); END;

CREATE TRIGGER tag_update_id_ins AFTER INSERT ON tag BEGIN
  UPDATE tag SET update_id = immich_uuid_v7() WHERE id = NEW.id; END;
CREATE TRIGGER tag_update_id_upd AFTER UPDATE ON tag WHEN NEW.update_id = OLD.update_id BEGIN
  UPDATE tag SET update_id = immich_uuid_v7() WHERE id = NEW.id; END;
