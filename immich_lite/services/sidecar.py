"""XMP sidecars (upstream MetadataService handleSidecarCheck / handleSidecarWrite).

SidecarCheck finds the sidecar of an original (``IMG_1.jpg.xmp`` or ``IMG_1.xmp`` next to it, e.g. added later
beside a library file) and records it, then metadata is extracted again (the sidecar wins over the file).

SidecarWrite writes what a user changed (the exif properties that are *locked*: description, date and zone,
location, rating, tags) into the sidecar, so the edit lives next to the photo as upstream keeps it, then unlocks
those properties and extracts metadata again, which reads them back from the sidecar. A property edited again
while the sidecar was being written stays locked (its newer value is in the next SidecarWrite, already queued),
so an edit is never lost to the race upstream has there.
"""
from __future__ import annotations

import json
import logging
import os
from datetime import datetime
from typing import Any

from immich_lite import ids
from immich_lite.ctx import Ctx
from immich_lite.jobs import JobName, JobStatus, QueueName, enqueue, register
from immich_lite.media import MediaError
from immich_lite.media.exif import zone_info
from immich_lite.repos import asset as repo
from immich_lite.services.metadata import exiftool

log = logging.getLogger("immich_lite.sidecar")

# upstream database.ts lockableProperties → our asset_exif columns
LOCKABLE = {"description": "description", "dateTimeOriginal": "date_time_original", "latitude": "latitude",
            "longitude": "longitude", "rating": "rating", "timeZone": "time_zone", "tags": "tags"}


def queue_write(conn: Any, asset_id: str) -> None:
    """Queue a SidecarWrite in the caller's transaction (the edit and its job commit together)."""
    enqueue(conn, JobName.SIDECAR_WRITE, {"id": asset_id})


def set_locked(conn: Any, asset_id: str, values: dict[str, Any]) -> None:
    """Upstream updateAllExif: store exif columns, lock them (metadata extraction keeps them), write the sidecar."""
    names = {p for p, column in LOCKABLE.items() if column in values}
    row = repo.get_exif(conn, asset_id) or {}
    locked = set(json.loads(row.get("locked_properties") or "[]")) | names
    repo.upsert_exif(conn, asset_id, **values, locked_properties=json.dumps(sorted(locked)))
    queue_write(conn, asset_id)


def candidates(original: str, current: str | None) -> list[str]:
    """Upstream getSidecarCandidates: the recorded sidecar, then IMG_123.jpg.xmp, then IMG_123.xmp."""
    out = [current] if current else []
    stem, _ext = os.path.splitext(original)
    out += [f"{original}.xmp", f"{stem}.xmp"]
    return list(dict.fromkeys(out))


def _follow_check(ctx: Ctx, conn: Any, data: dict[str, Any]) -> list[Any]:
    return [JobName.ASSET_EXTRACT_METADATA] if repo.get(conn, data["id"]) is not None else []


@register(JobName.SIDECAR_CHECK, QueueName.SIDECAR, then=(JobName.ASSET_EXTRACT_METADATA,), follow=_follow_check)
def sidecar_check(ctx: Ctx, data: dict[str, Any]) -> JobStatus:
    conn = ctx.db.reader()
    a = repo.get(conn, data["id"])
    if a is None:
        return JobStatus.SKIPPED
    current = repo.get_file(conn, a["id"], "sidecar")
    found = None
    for candidate in candidates(a["original_path"], current["path"] if current else None):
        path = ctx.storage.absolute(candidate)
        if path.is_file() and os.access(path, os.R_OK):
            found = candidate
            break
    if found == (current["path"] if current else None):
        return JobStatus.SKIPPED  # upstream: nothing changed (metadata is still extracted again)
    with ctx.db.write() as wconn:
        if repo.get(wconn, a["id"]) is None:
            return JobStatus.SKIPPED
        if found is None:
            repo.delete_files(wconn, a["id"], ["sidecar"])
        else:
            repo.upsert_file(wconn, a["id"], "sidecar", found)
    return JobStatus.SUCCESS


def sidecar_date(stored: str | None, zone: str | None) -> str | None:
    """Upstream mergeTimeZone(dateTimeOriginal, timeZone).toISO(): the instant shown in its zone, with offset."""
    if not stored:
        return None
    try:
        instant = ids.parse_iso(stored)
    except ValueError:
        return None
    tz = zone_info(zone) if zone else None
    shown: datetime = instant.astimezone(tz) if tz is not None else instant
    return shown.isoformat(timespec="milliseconds")


def _tags_for(exif: dict[str, Any], locked: list[str]) -> dict[str, Any]:
    """Upstream handleSidecarWrite: only the locked properties, under the tag names exiftool-vendored writes."""
    out: dict[str, Any] = {}
    if "description" in locked:
        out["Description"] = out["ImageDescription"] = exif.get("description") or ""
    if "dateTimeOriginal" in locked:
        # upstream uses the zone only when it is locked too (else UTC); the asset's zone, locked or not, keeps
        # the wall-clock time a user sees when the date is read back
        out["DateTimeOriginal"] = sidecar_date(exif.get("date_time_original"), exif.get("time_zone"))
    if "latitude" in locked:
        out["GPSLatitude"] = exif.get("latitude")
    if "longitude" in locked:
        out["GPSLongitude"] = exif.get("longitude")
    if "rating" in locked:
        out["Rating"] = exif.get("rating") if exif.get("rating") is not None else 0
    if "tags" in locked:
        out["TagsList"] = json.loads(exif.get("tags") or "[]")
    return out


def _follow_write(ctx: Ctx, conn: Any, data: dict[str, Any]) -> list[Any]:
    if repo.get(conn, data["id"]) is None:
        return []
    return [(JobName.ASSET_EXTRACT_METADATA, {"id": data["id"], "source": "sidecar-write"})]


@register(JobName.SIDECAR_WRITE, QueueName.SIDECAR, then=(JobName.ASSET_EXTRACT_METADATA,), follow=_follow_write)
def sidecar_write(ctx: Ctx, data: dict[str, Any]) -> JobStatus:
    conn = ctx.db.reader()
    a = repo.get(conn, data["id"])
    if a is None:
        return JobStatus.SKIPPED
    exif = dict(repo.get_exif(conn, a["id"]) or {})
    locked = [p for p in json.loads(exif.get("locked_properties") or "[]") if p in LOCKABLE]
    tags = _tags_for(exif, locked)
    if not tags:
        return JobStatus.SKIPPED
    current = repo.get_file(conn, a["id"], "sidecar")
    stored = current["path"] if current else f"{a['original_path']}.xmp"
    try:
        exiftool(ctx).write_sidecar(ctx.storage.absolute(stored), tags)
    except (MediaError, OSError) as e:
        log.warning("could not write the sidecar of %s: %s", a["id"], e)
        return JobStatus.FAILED  # the edits stay locked in the database: nothing is lost
    written = {LOCKABLE[p]: exif.get(LOCKABLE[p]) for p in locked}
    with ctx.db.write() as wconn:
        if repo.get(wconn, a["id"]) is None:
            return JobStatus.SKIPPED
        if current is None:
            repo.upsert_file(wconn, a["id"], "sidecar", stored)
        now = dict(repo.get_exif(wconn, a["id"]) or {})
        still = [p for p in json.loads(now.get("locked_properties") or "[]")
                 if p not in locked or now.get(LOCKABLE.get(p, p)) != written.get(LOCKABLE.get(p, p))]
        repo.upsert_exif(wconn, a["id"], locked_properties=json.dumps(sorted(still)) if still else None)
    return JobStatus.SUCCESS
