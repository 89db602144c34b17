"""People."""
from __future__ import annotations

from immich_lite.api import files
from immich_lite.api.routing import route
from immich_lite.services import person

ROUTES = [
    route("getAllPeople", lambda ctx, auth, c: person.get_all(ctx, auth, c.query)),
    route("createPerson", lambda ctx, auth, c: person.create(ctx, auth, c.body)),
    route("updatePeople", lambda ctx, auth, c: person.update_all(ctx, auth, c.body)),
    route("deletePeople", lambda ctx, auth, c: person.delete_all(ctx, auth, c.body["ids"])),
    route("getPerson", lambda ctx, auth, c: person.get(ctx, auth, c.params["id"])),
    route("updatePerson", lambda ctx, auth, c: person.update(ctx, auth, c.params["id"], c.body), patch_twin=True),
    route("deletePerson", lambda ctx, auth, c: person.delete_all(ctx, auth, [c.params["id"]])),
    route("mergePerson", lambda ctx, auth, c: person.merge(ctx, auth, c.params["id"], c.body)),
    route("reassignFaces", lambda ctx, auth, c: person.reassign_faces(ctx, auth, c.params["id"], c.body)),
    route("getPersonStatistics", lambda ctx, auth, c: person.statistics(ctx, auth, c.params["id"])),
    route("getPersonThumbnail",
          lambda ctx, auth, c: files.send(c.request, person.thumbnail(ctx, auth, c.params["id"]))),
]
