"""Memories: CRUD, assets, statistics and the daily on-this-day generation (upstream MemoryService)."""
from __future__ import annotations

import json
import logging
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from immich_lite import ids, jobs
from immich_lite.access import check_access, require_access
from immich_lite.auth import AuthContext
from immich_lite.ctx import Ctx
from immich_lite.services.bulk_ids import plan_add, plan_remove
from immich_lite.dto.asset import map_asset
from immich_lite.errors import BadRequest, invalid
from immich_lite.repos import marks, system_metadata

log = logging.getLogger(__name__)

DAYS = 3  # upstream: memories are created for today ± 3 days
MEMORIES_STATE = "memories-state"
MAX_ASSETS_PER_YEAR = 20

_ASSETS_SQL = ("SELECT a.*, EXISTS (SELECT 1 FROM asset_file f WHERE f.asset_id = a.id AND f.type = 'thumbnail') "
               "AS has_thumb FROM asset a JOIN memory_asset ma ON ma.asset_id = a.id WHERE ma.memory_id = ? "
               "AND a.visibility = 'timeline' AND a.deleted_at IS NULL")
_NO_HIDDEN_PEOPLE = (" AND NOT EXISTS (SELECT 1 FROM asset_face af JOIN person p ON p.id = af.person_id "
                     "WHERE af.asset_id = a.id AND p.is_hidden = 1)")


def _assets(conn: Any, memory_id: str, *, skip_hidden_people: bool = False) -> list[dict[str, Any]]:
    sql = _ASSETS_SQL + (_NO_HIDDEN_PEOPLE if skip_hidden_people else "") + " ORDER BY a.file_created_at ASC"
    return [dict(r) for r in conn.execute(sql, (memory_id,))]


def _map(m: dict[str, Any], assets: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": m["id"], "createdAt": m["created_at"], "updatedAt": m["updated_at"], "memoryAt": m["memory_at"],
        "ownerId": m["owner_id"], "type": m["type"], "data": json.loads(m["data"]), "isSaved": bool(m["is_saved"]),
        "assets": [map_asset(a, has_thumbnail=bool(a["has_thumb"])) for a in assets],
    }
    for key, col in (("deletedAt", "deleted_at"), ("seenAt", "seen_at"), ("showAt", "show_at"), ("hideAt", "hide_at")):
        if m[col] is not None:
            out[key] = m[col]
    return out


def _load(conn: Any, memory_id: str) -> dict[str, Any]:
    m = conn.execute("SELECT * FROM memory WHERE id = ? AND deleted_at IS NULL", (memory_id,)).fetchone()
    if m is None:
        raise BadRequest("Memory not found")
    return _map(dict(m), _assets(conn, memory_id))


def _where(owner_id: str, q: dict[str, Any]) -> tuple[str, list[Any]]:
    sql = " WHERE owner_id = ?"
    args: list[Any] = [owner_id]
    if q.get("isSaved") is not None:
        sql += " AND is_saved = ?"
        args.append(int(q["isSaved"]))
    if q.get("type") is not None:
        sql += " AND type = ?"
        args.append(q["type"])
    if q.get("for") is not None:
        at = f"{q['for']}T00:00:00.000Z"  # a date means its UTC midnight, as upstream's isoDateToDate
        sql += " AND (show_at IS NULL OR show_at <= ?) AND (hide_at IS NULL OR hide_at >= ?)"
        args += [at, at]
    sql += " AND deleted_at IS NOT NULL" if q.get("isTrashed") else " AND deleted_at IS NULL"
    return sql, args


def search(ctx: Ctx, auth: AuthContext, q: dict[str, Any]) -> list[dict[str, Any]]:
    conn = ctx.db.reader()
    where, args = _where(auth.user_id, q)
    order = q.get("order")
    sql = "SELECT * FROM memory" + where
    sql += " ORDER BY random()" if order == "random" else f" ORDER BY memory_at {'ASC' if order == 'asc' else 'DESC'}"
    if q.get("size") is not None:
        sql += " LIMIT ?"
        args.append(int(q["size"]))
    out = []
    for m in conn.execute(sql, args).fetchall():
        assets = _assets(conn, m["id"], skip_hidden_people=True)
        if assets:  # upstream drops memories without visible assets (after the limit)
            out.append(_map(dict(m), assets))
    return out


def statistics(ctx: Ctx, auth: AuthContext, q: dict[str, Any]) -> dict[str, int]:
    where, args = _where(auth.user_id, q)
    return {"total": int(ctx.db.reader().execute("SELECT count(*) AS n FROM memory" + where, args).fetchone()["n"])}


def get(ctx: Ctx, auth: AuthContext, memory_id: str) -> dict[str, Any]:
    conn = ctx.db.reader()
    require_access(conn, auth, "memory.read", [memory_id])
    return _load(conn, memory_id)



def _insert(conn: Any, owner_id: str, *, type_: str, data: dict[str, Any], memory_at: str, is_saved: bool = False,
            show_at: str | None = None, hide_at: str | None = None, seen_at: str | None = None,
            asset_ids: list[str] | tuple[str, ...] = ()) -> str:
    now = ids.now_iso()
    mid = ids.new_id()
    conn.execute("INSERT INTO memory (id, owner_id, type, data, is_saved, memory_at, seen_at, show_at, hide_at, "
                 "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                 (mid, owner_id, type_, json.dumps(data), int(is_saved), memory_at, seen_at, show_at, hide_at,
                  now, now))
    for aid in dict.fromkeys(asset_ids):
        conn.execute("INSERT INTO memory_asset (memory_id, asset_id) VALUES (?, ?)", (mid, aid))
    return mid


def create(ctx: Ctx, auth: AuthContext, dto: dict[str, Any]) -> dict[str, Any]:
    with ctx.db.write() as conn:
        wanted = list(dict.fromkeys(dto.get("assetIds") or []))
        allowed = check_access(conn, auth, "asset.share", wanted)  # upstream: silently drops the others
        mid = _insert(conn, auth.user_id, type_=dto["type"], data=dto["data"],
                      memory_at=ids.stored_iso(dto["memoryAt"]),
                      is_saved=bool(dto.get("isSaved", False)), show_at=ids.stored_iso(dto.get("showAt")),
                      hide_at=ids.stored_iso(dto.get("hideAt")), seen_at=ids.stored_iso(dto.get("seenAt")),
                      asset_ids=[a for a in wanted if a in allowed])
        return _load(conn, mid)


def update(ctx: Ctx, auth: AuthContext, memory_id: str, dto: dict[str, Any]) -> dict[str, Any]:
    fields = {"isSaved": "is_saved", "seenAt": "seen_at", "memoryAt": "memory_at"}
    if not any(dto.get(k) is not None for k in fields):
        raise invalid([], "At least one of the following fields is required: isSaved, seenAt, memoryAt")
    with ctx.db.write() as conn:
        require_access(conn, auth, "memory.update", [memory_id])
        values: dict[str, Any] = {}
        for key, col in fields.items():
            if dto.get(key) is not None:
                values[col] = int(dto[key]) if key == "isSaved" else ids.stored_iso(dto[key])
        values["updated_at"] = ids.now_iso()
        sets = ", ".join(f"{k} = ?" for k in values)
        conn.execute(f"UPDATE memory SET {sets} WHERE id = ?", [*values.values(), memory_id])
        return _load(conn, memory_id)


def remove(ctx: Ctx, auth: AuthContext, memory_id: str) -> None:
    with ctx.db.write() as conn:
        require_access(conn, auth, "memory.delete", [memory_id])
        conn.execute("DELETE FROM memory WHERE id = ?", (memory_id,))


def _existing(conn: Any, memory_id: str, asset_ids: list[str]) -> set[str]:
    if not asset_ids:
        return set()
    return {r["asset_id"] for r in conn.execute(
        f"SELECT asset_id FROM memory_asset WHERE memory_id = ? AND asset_id IN ({marks(asset_ids)})",
        [memory_id, *asset_ids])}


def _touch(conn: Any, memory_id: str) -> None:
    conn.execute("UPDATE memory SET updated_at = ? WHERE id = ?", (ids.now_iso(), memory_id))


def add_assets(ctx: Ctx, auth: AuthContext, memory_id: str, dto: dict[str, Any]) -> list[dict[str, Any]]:
    with ctx.db.write() as conn:
        require_access(conn, auth, "memory.read", [memory_id])
        existing = _existing(conn, memory_id, dto["ids"])
        allowed = check_access(conn, auth, "asset.share", [i for i in dto["ids"] if i not in existing])
        results, added = plan_add(dto["ids"], existing, allowed)
        for aid in added:
            conn.execute("INSERT INTO memory_asset (memory_id, asset_id) VALUES (?, ?)", (memory_id, aid))
        if added:
            _touch(conn, memory_id)
        return results


def remove_assets(ctx: Ctx, auth: AuthContext, memory_id: str, dto: dict[str, Any]) -> list[dict[str, Any]]:
    with ctx.db.write() as conn:
        require_access(conn, auth, "memory.update", [memory_id])
        existing = _existing(conn, memory_id, dto["ids"])
        always = memory_id in check_access(conn, auth, "memory.delete", [memory_id])
        allowed = existing if always else check_access(conn, auth, "asset.share", existing)
        results, removed = plan_remove(dto["ids"], existing, allowed)
        for aid in removed:
            conn.execute("DELETE FROM memory_asset WHERE memory_id = ? AND asset_id = ?", (memory_id, aid))
        if removed:
            _touch(conn, memory_id)
        return results


# --- generation ------------------------------------------------------------------------------------

def _on_this_day(conn: Any, owner_id: str, target: date) -> dict[int, list[str]]:
    """Per earlier year, up to 20 of the owner's timeline assets (with a preview) taken on target's month/day."""
    rows = conn.execute(
        "SELECT a.id, substr(a.local_date_time, 1, 4) AS y FROM asset a WHERE a.owner_id = ? "
        "AND a.visibility = 'timeline' AND a.deleted_at IS NULL AND substr(a.local_date_time, 6, 5) = ? "
        "AND CAST(substr(a.local_date_time, 1, 4) AS INTEGER) < ? "
        "AND EXISTS (SELECT 1 FROM asset_file f WHERE f.asset_id = a.id AND f.type = 'preview') "
        "ORDER BY a.local_date_time DESC",
        (owner_id, target.strftime("%m-%d"), target.year)).fetchall()
    by_year: dict[int, list[str]] = {}
    for r in rows:
        year = by_year.setdefault(int(r["y"]), [])
        if len(year) < MAX_ASSETS_PER_YEAR:
            year.append(r["id"])
    return by_year


def generate(ctx: Ctx, today: date | None = None) -> int:
    """Create on-this-day memories for today ± DAYS not done yet; remembers the last day done. Returns #created."""
    today = today or ids.utcnow().date()
    start = today - timedelta(days=DAYS)
    created = 0
    with ctx.db.write() as conn:
        state = system_metadata.get(conn, MEMORIES_STATE)
        state = state if isinstance(state, dict) else {}
        last = state.get("lastOnThisDayDate")
        last_day = ids.parse_iso(last).date() if last else start
        users = [r["id"] for r in conn.execute("SELECT id FROM \"user\" WHERE deleted_at IS NULL")]
        for i in range(DAYS * 2 + 1):
            target = start + timedelta(days=i)
            if last_day >= target:
                continue
            day_start = datetime.combine(target, time(0), timezone.utc)
            show_at = ids.iso(day_start)
            hide_at = ids.iso(day_start + timedelta(days=1) - timedelta(milliseconds=1))
            for owner in users:
                for year, asset_ids in sorted(_on_this_day(conn, owner, target).items()):
                    try:
                        memory_at = ids.iso(day_start.replace(year=year))
                    except ValueError:  # 29 February in a year without one
                        continue
                    _insert(conn, owner, type_="on_this_day", data={"year": year}, memory_at=memory_at,
                            show_at=show_at, hide_at=hide_at, asset_ids=asset_ids)
                    created += 1
            state = {**state, "lastOnThisDayDate": ids.iso(day_start)}
            system_metadata.set(conn, MEMORIES_STATE, state)
    if created:
        log.info("created %d on-this-day memories", created)
    return created


@jobs.register(jobs.JobName.MEMORY_GENERATE, jobs.QueueName.BACKGROUND_TASK)
def memory_generate(ctx: Ctx, data: dict[str, Any]) -> jobs.JobStatus:
    generate(ctx)
    return jobs.JobStatus.SUCCESS
