"""Folder view over assets' original paths (upstream ViewService + ViewRepository)."""
from __future__ import annotations

import re
from typing import Any

from immich_lite.auth import AuthContext
from immich_lite.ctx import Ctx
from immich_lite.services.asset import load_response

# upstream: owner's timeline assets, not deleted, with the three dates set
_WHERE = ("owner_id = ? AND visibility = 'timeline' AND deleted_at IS NULL AND file_created_at IS NOT NULL "
          "AND file_modified_at IS NOT NULL AND local_date_time IS NOT NULL")


def unique_paths(ctx: Ctx, auth: AuthContext) -> list[str]:
    dirs: set[str] = set()
    for r in ctx.db.reader().execute(f"SELECT original_path FROM asset WHERE {_WHERE}", (auth.user_id,)):
        path = r["original_path"]
        if "/" in path:  # upstream substring('^(.*/)[^/]*$') has no match without a slash
            dirs.add(path[: path.rindex("/") + 1])
    return [d.rstrip("/") for d in sorted(dirs)]


def _like(pattern: str) -> re.Pattern[str]:
    """A Postgres LIKE pattern (case-sensitive, % and _ wildcards, backslash escape) as a regex."""
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return re.compile("".join(out), re.DOTALL)


def assets_by_path(ctx: Ctx, auth: AuthContext, path: str) -> list[dict[str, Any]]:
    normalized = path.rstrip("/")
    inside, deeper = _like(f"%{normalized}/%"), _like(f"%{normalized}/%/%")
    conn = ctx.db.reader()
    sql, args = f"SELECT * FROM asset WHERE {_WHERE}", [auth.user_id]
    if not any(c in normalized for c in "%_\\"):
        sql += " AND instr(original_path, ?) > 0"  # case-sensitive prefilter, same matches
        args.append(normalized + "/")
    rows = [a for a in conn.execute(sql, args)
            if inside.fullmatch(a["original_path"]) and not deeper.fullmatch(a["original_path"])]
    rows.sort(key=lambda a: a["original_path"].rsplit("/", 1)[-1])
    return [load_response(ctx, conn, a, auth) for a in rows]
