-- Timeline indexes (repos/timeline.py). Partial on live assets: `deleted_at IS NULL` is a literal term of every
-- non-trash timeline query. The month expressions must match repos/timeline.py MONTH exactly.
--
-- (owner, month, then the filter columns) so that for one owner
--   * getTimeBuckets walks the index already grouped by month and reads visibility/favourite/stack from it:
--     no table access, no temp b-tree;
--   * getTimeBucket finds the month by equality (visibility too when given) and seeks only its rows.
-- Kept narrow on purpose: a wider index that also carries the bucket's sort keys (day, fileCreatedAt) saves
-- the sort of one month's rows but makes the 100k-entry walk of getTimeBuckets slower (bench/timeline.py).

-- orderBy=takenAt (the default): the local wall-clock month
CREATE INDEX asset_timeline_taken_idx ON asset(owner_id, substr(local_date_time, 1, 7), visibility, is_favorite, stack_id)
  WHERE deleted_at IS NULL;

-- orderBy=createdAt (the web's "Recently added"): the UTC upload month
CREATE INDEX asset_timeline_created_idx ON asset(owner_id, substr(created_at, 1, 7), visibility, is_favorite, stack_id)
  WHERE deleted_at IS NULL;
