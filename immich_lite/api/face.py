"""Faces (manual only: no machine learning here)."""
from __future__ import annotations

from immich_lite.api.routing import route
from immich_lite.services import person

ROUTES = [
    route("getFaces", lambda ctx, auth, c: person.get_faces(ctx, auth, c.query["id"])),
    route("createFace", lambda ctx, auth, c: person.create_face(ctx, auth, c.body)),
    route("deleteFace", lambda ctx, auth, c: person.delete_face(ctx, auth, c.params["id"], c.body)),
    route("reassignFacesById", lambda ctx, auth, c: person.reassign_face_by_id(ctx, auth, c.params["id"], c.body)),
]
