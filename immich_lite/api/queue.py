"""Queues (5 operations) and the legacy Jobs controller (3): admin only, enforced from the spec."""
from __future__ import annotations

from immich_lite.api.routing import route
from immich_lite.services import queue as svc

ROUTES = [
    # Queues
    route("getQueues", lambda ctx, auth, c: svc.get_all(ctx)),
    route("getQueue", lambda ctx, auth, c: svc.get(ctx, c.params["name"])),
    route("updateQueue", lambda ctx, auth, c: svc.update(ctx, c.params["name"], c.body)),
    route("getQueueJobs", lambda ctx, auth, c: svc.search_jobs(ctx, c.params["name"], c.query.get("status"))),
    route("emptyQueue", lambda ctx, auth, c: svc.empty_queue(ctx, c.params["name"], c.body or {})),
    # Jobs (legacy)
    route("getQueuesLegacy", lambda ctx, auth, c: svc.get_all_legacy(ctx)),
    route("createJob", lambda ctx, auth, c: svc.create_job(ctx, c.body)),
    route("runQueueCommandLegacy", lambda ctx, auth, c: svc.run_command_legacy(ctx, c.params["name"], c.body)),
]
