"""Search: metadata/random/large/statistics/smart over assets; explore, cities, suggestions, people, places."""
from __future__ import annotations

from immich_lite.api.routing import route
from immich_lite.services import search, search_explore

ROUTES = [
    # the web app sends `query` (not in the spec) when smart search is off: see search/query.py
    route("searchAssets", lambda ctx, auth, c: search.search_metadata(ctx, auth, c.body), extra_body=("query",)),
    route("searchAssetStatistics", lambda ctx, auth, c: search.search_statistics(ctx, auth, c.body)),
    route("searchRandom", lambda ctx, auth, c: search.search_random(ctx, auth, c.body)),
    route("searchLargeAssets", lambda ctx, auth, c: search.search_large_assets(ctx, auth, c.query)),
    route("searchSmart", lambda ctx, auth, c: search.search_smart(ctx, auth, c.body)),
    route("getExploreData", lambda ctx, auth, c: search_explore.get_explore_data(ctx, auth)),
    route("getAssetsByCity", lambda ctx, auth, c: search_explore.get_assets_by_city(ctx, auth)),
    route("getSearchSuggestions", lambda ctx, auth, c: search_explore.get_search_suggestions(ctx, auth, c.query)),
    route("searchPerson", lambda ctx, auth, c: search_explore.search_person(ctx, auth, c.query)),
    route("searchPlaces", lambda ctx, auth, c: search_explore.search_places(ctx, c.query)),
]
