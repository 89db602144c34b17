"""Server: version, features, public config, storage, statistics, media types and the server product key."""
from __future__ import annotations

from immich_lite.api.routing import route
from immich_lite.services import server as svc

ROUTES = [
    route("pingServer", lambda ctx, auth, c: svc.ping()),
    route("getServerVersion", lambda ctx, auth, c: svc.get_version()),
    route("getVersionHistory", lambda ctx, auth, c: svc.get_version_history(ctx)),
    route("getVersionCheck", lambda ctx, auth, c: svc.get_version_check(ctx)),
    route("getServerFeatures", lambda ctx, auth, c: svc.get_features(ctx)),
    route("getServerConfig", lambda ctx, auth, c: svc.get_server_config(ctx)),
    route("getAboutInfo", lambda ctx, auth, c: svc.get_about_info(ctx)),
    route("getApkLinks", lambda ctx, auth, c: svc.get_apk_links()),
    route("getStorage", lambda ctx, auth, c: svc.get_storage(ctx)),
    route("getServerStatistics", lambda ctx, auth, c: svc.get_statistics(ctx)),
    route("getSupportedMediaTypes", lambda ctx, auth, c: svc.get_supported_media_types()),
    route("getServerLicense", lambda ctx, auth, c: svc.get_license(ctx)),
    route("setServerLicense", lambda ctx, auth, c: svc.set_license(ctx, c.body)),
    route("deleteServerLicense", lambda ctx, auth, c: svc.delete_license(ctx)),
]
