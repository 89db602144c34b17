"""Explore, cities, suggestions, people and places (upstream SearchService.getExploreData, getAssetsByCity,
getSearchSuggestions, searchPerson, searchPlaces).

Facets (which cities, countries, cameras a user has) come from the index's aggregations over the documents it is
current for, plus SQL over the assets with pending changes; the assets shown are always read back through SQL
with the conditions re-checked. Without an index (first start, rebuild), all of it is SQL.
"""
from __future__ import annotations

import threading
from typing import Any

from immich_lite.auth import AuthContext
from immich_lite.ctx import Ctx
from immich_lite.repos import search as search_repo
from immich_lite.repos import search_facets as repo
from immich_lite.search import index as ix
from immich_lite.search.places import PlaceIndex
from immich_lite.search.text import sort_key, words
from immich_lite.services import asset as asset_service
from immich_lite.services.person import map_person
from immich_lite.services.search import map_results, user_ids_to_search
from immich_lite.services.search_index import view

EXPLORE_FIELDS = 12          # upstream getExploreData maxFields
EXPLORE_MIN_ASSETS = 5       # upstream minAssetsPerField
PERSON_LIMIT = 100
PERSON_THRESHOLD = 0.5       # upstream pg_trgm.word_similarity_threshold
SUGGESTION_FIELDS = {"country": ("country", ()), "state": ("state", ("country",)),
                     "city": ("city", ("country", "state")), "camera-make": ("make", ("model", "lensModel")),
                     "camera-model": ("model", ("make", "lensModel")), "camera-lens-model": ("lens", ("make", "model"))}
_INDEX_FIELD = {"country": "country", "state": "state", "city": "city", "make": "make", "model": "model",
                "lensModel": "lens"}
_places_lock = threading.Lock()


def _timeline_images(owner_ids: list[str]) -> Any:
    return ix.all_of(ix.terms("owner", owner_ids), ix.term("visibility", "timeline"), ix.term("type", "IMAGE"),
                     ix.term("live", 1))


def _city_assets(ctx: Ctx, conn: Any, owner_ids: list[str], min_count: int) -> list[tuple[str, str]]:
    """[(city, id of its most recent timeline image)] of the cities with at least `min_count` such images of these
    owners, in upstream's city order."""
    v = view(ctx, conn)
    if v is None:
        return repo.city_assets_sql(conn, owner_ids, min_count)
    found = v.facet_top(_timeline_images(owner_ids), "city", "taken", 3)
    counts = {city: n for city, (n, _) in found.items()}
    for city, n in repo.city_counts(conn, owner_ids, v.dirty_keys).items():
        counts[city] = counts.get(city, 0) + n
    candidates = [k for _, keys in found.values() for k in keys] + v.dirty_keys
    newest = repo.newest_per_city(conn, owner_ids, candidates)
    return [(city, newest[city]) for city in sorted(counts, key=sort_key)
            if counts[city] >= min_count and city in newest]


def get_explore_data(ctx: Ctx, auth: AuthContext) -> list[dict[str, Any]]:
    """[{fieldName: 'exifInfo.city', items}, {fieldName: 'createdAt', items}]: my cities with 5+ photos (12 at most,
    one photo each) and my 12 newest uploads."""
    with ctx.db.read() as conn:
        cities = _city_assets(ctx, conn, [auth.user_id], EXPLORE_MIN_ASSETS)[:EXPLORE_FIELDS]
        v = view(ctx, conn)
        if v is None:
            recent = repo.recent_sql(conn, auth.user_id, EXPLORE_FIELDS)
        else:
            keys = v.keys(_timeline_images([auth.user_id]), EXPLORE_FIELDS, order_by="created", ascending=False)
            recent = repo.recent_among(conn, auth.user_id, [*keys, *v.dirty_keys], EXPLORE_FIELDS)
        city_items = [{"value": city, "data": _full(ctx, conn, auth, asset_id)} for city, asset_id in cities]
        recent_items = [{"value": created, "data": _full(ctx, conn, auth, asset_id)} for asset_id, created in recent]
    return [{"fieldName": "exifInfo.city", "items": city_items}, {"fieldName": "createdAt", "items": recent_items}]


def _full(ctx: Ctx, conn: Any, auth: AuthContext, asset_id: str) -> dict[str, Any]:
    # upstream getByIdsWithAllRelationsButStacks + mapAsset: exif, owner, tags, people; no stack
    a = conn.execute("SELECT * FROM asset WHERE id = ?", (asset_id,)).fetchone()
    out = asset_service.load_response(ctx, conn, a, auth)
    out.pop("stack", None)
    return out


def get_assets_by_city(ctx: Ctx, auth: AuthContext) -> list[dict[str, Any]]:
    """GET /search/cities: one photo per city of mine and my partners', by city (the Places page)."""
    with ctx.db.read() as conn:
        cities = _city_assets(ctx, conn, user_ids_to_search(conn, auth), 1)
        # upstream maps with no auth (isFavorite false) and the exif row joined in
        items = map_results(conn, auth, search_repo.keys_of(conn, [a for _, a in cities]), with_exif=True)
    for item in items:
        item["isFavorite"] = False
    return items


def get_search_suggestions(ctx: Ctx, auth: AuthContext, q: dict[str, Any]) -> list[str | None]:
    """Distinct countries, states, cities, makes, models or lenses of my and my partners' timeline assets, each
    narrowed by the others given, in upstream's order; `includeNull` adds null at the end."""
    field_name, narrowing = SUGGESTION_FIELDS[q["type"]]
    given = {k: q[k] for k in narrowing if q.get(k)}
    with ctx.db.read() as conn:
        owner_ids = user_ids_to_search(conn, auth)
        v = view(ctx, conn)
        if v is None:
            values = set(repo.distinct_sql(conn, owner_ids, field_name, given))
        else:
            query = ix.all_of(ix.terms("owner", owner_ids), ix.term("visibility", "timeline"), ix.term("live", 1),
                              *(ix.term(_INDEX_FIELD[k], val) for k, val in given.items()))
            values = set(v.facet(query, field_name))
            values |= set(repo.distinct_sql(conn, owner_ids, field_name, given, keys=v.dirty_keys))
    out: list[str | None] = sorted(values, key=sort_key)
    if q.get("includeNull"):
        out.append(None)
    return out


# --- people by name ----------------------------------------------------------------------------------------

def _trigrams(word: str) -> list[str]:
    padded = f"  {word} "
    return [padded[i:i + 3] for i in range(len(padded) - 2)]


def word_similarity(query: str, target: str) -> float:
    """pg_trgm's word_similarity(query, target) on folded text: the best match of the query's trigrams against
    any run of the target's trigrams (so a prefix or a near miss of a word scores high)."""
    q = set().union(*(set(_trigrams(w)) for w in words(query))) if words(query) else set()
    seq = [t for w in words(target) for t in _trigrams(w)]
    if not q or not seq:
        return 0.0
    best = 0.0
    for i in range(len(seq)):
        shared: set[str] = set()
        extent: set[str] = set()
        for j in range(i, len(seq)):
            extent.add(seq[j])
            if seq[j] in q:
                shared.add(seq[j])
            best = max(best, len(shared) / (len(q) + len(extent) - len(shared)))
    return best


def search_person(ctx: Ctx, auth: AuthContext, q: dict[str, Any]) -> list[dict[str, Any]]:
    """GET /search/person: my people whose name is like `name` (best first, 100 at most)."""
    from immich_lite.search.text import fold  # noqa: PLC0415

    name = fold(q["name"]) or ""
    with ctx.db.read() as conn:
        rows = repo.people_of(conn, auth.user_id, with_hidden=bool(q.get("withHidden")))
    scored = [(word_similarity(name, fold(p["name"]) or ""), p) for p in rows]
    hits = sorted((s for s in scored if s[0] >= PERSON_THRESHOLD), key=lambda s: (-s[0], sort_key(s[1]["name"])))
    return [map_person(p) for _, p in hits[:PERSON_LIMIT]]


# --- places ----------------------------------------------------------------------------------------------

def search_places(ctx: Ctx, q: dict[str, Any]) -> list[dict[str, Any]]:
    with _places_lock:
        places = ctx.extra.get("place_index")
        if places is None:
            places = ctx.extra["place_index"] = PlaceIndex(ctx.storage.root)
    return places.search(q["name"])  # type: ignore[no-any-return]
