"""System config: the admin's settings, their defaults and the storage-template options."""
from __future__ import annotations

from immich_lite.api.routing import route
from immich_lite.services import system_config as svc

ROUTES = [
    route("getConfig", lambda ctx, auth, c: svc.get_config(ctx)),
    route("updateConfig", lambda ctx, auth, c: svc.update_config(ctx, c.body)),
    route("getConfigDefaults", lambda ctx, auth, c: svc.get_defaults()),
    route("getStorageTemplateOptions", lambda ctx, auth, c: svc.get_storage_template_options()),
]
