"""immich-lite pointed at an upstream-shaped machine-learning server for faces (512-D unit embeddings, compared
by cosine distance, as buffalo_l answers): faces are stored at that size, grouped into people by upstream's
`maxDistance` read as a cosine distance, and faces already found in process (dlib's 128-D) keep being grouped
among themselves; nothing fails. The upstream-shaped server is tests/helpers/upstream_faces_ml.py (immich-lite's
own ml-serve with its embeddings mapped to 512-D), over real HTTP on 127.0.0.1."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import CORPUS
from tests.helpers.live import LiveServer, User, drain_queues, free_port, ml_server

pytest.importorskip("onnxruntime")
pytest.importorskip("dlib")
tiny_clip = pytest.importorskip("tests.helpers.tiny_clip")
FACES = CORPUS / "faces"


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("upstream-ml")
    tiny_clip.make_tiny_clip(root / "models")  # upstream's container has its CLIP model too
    with ml_server(["tests.helpers.upstream_faces_ml"], root / "models", root / "ml.log") as url:
        yield url


def _config(srv: LiveServer, admin: User, urls: list[str] | None = None, **face: object) -> None:
    with srv.client() as c:
        config = c.get("/api/system-config", headers=admin.headers).json()
        if urls is not None:
            config["machineLearning"]["urls"] = urls
        config["machineLearning"]["facialRecognition"].update(face)
        config["machineLearning"]["availabilityChecks"]["timeout"] = 20_000  # a loaded CI box: no false "down"
        r = c.put("/api/system-config", json=config, headers=admin.headers)
        assert r.status_code == 200, r.text


def _groups(srv: LiveServer) -> list[list[str]]:
    """The file names of each person's faces' assets."""
    out: dict[str, list[str]] = {}
    for r in srv.query("SELECT f.person_id, a.original_file_name FROM asset_face f JOIN asset a ON a.id = f.asset_id "
                       "ORDER BY a.original_file_name"):
        out.setdefault(r["person_id"] or "-", []).append(r["original_file_name"])
    return sorted(out.values())


def test_faces_from_an_upstream_shaped_server_are_grouped_by_cosine_distance(
        upstream: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    root = tmp_path_factory.mktemp("serve")
    srv = LiveServer(root / "data", root).start()
    try:
        admin = srv.sign_up_admin()
        # first, in process (the only URL is down): dlib's 128-D
        _config(srv, admin, [f"http://127.0.0.1:{free_port()}"], minFaces=1)
        admin.upload((FACES / "kit-harington-1.jpg").read_bytes(), "kit-harington-1.jpg")
        admin.upload((FACES / "kit-harington-2.jpg").read_bytes(), "kit-harington-2.jpg")
        drain_queues(srv, admin)
        # then through the upstream-shaped server: 512-D, maxDistance as a cosine distance (dlib's faces here lie
        # within 0.05 of the same person's and beyond 0.12 of anyone else's)
        _config(srv, admin, [upstream], maxDistance=0.1, minFaces=1)
        for name in ("obama-1.jpg", "obama-2.jpg", "obama-3.jpg", "biden-1.jpg", "biden-2.jpg"):
            assert admin.upload((FACES / name).read_bytes(), name).status_code == 201
        drain_queues(srv, admin)
        sizes = sorted(r["n"] for r in srv.query("SELECT length(embedding) / 4 AS n FROM face_search"))
        assert sizes == [128] * 2 + [512] * 5, (sizes, srv.log_tail(80))
        assert _groups(srv) == [["biden-1.jpg", "biden-2.jpg"], ["kit-harington-1.jpg", "kit-harington-2.jpg"],
                                ["obama-1.jpg", "obama-2.jpg", "obama-3.jpg"]], _groups(srv)
        assert srv.query("SELECT count(*) AS n FROM job WHERE status = 'failed'")[0]["n"] == 0, srv.log_tail()
        # GET /people by closeness to Obama's face: distances among faces of its size, the 128-D person last
        assert admin.request("PUT", "/api/users/me/preferences",
                             json={"people": {"minimumFaces": 1}}).status_code == 200
        names = {r["person_id"]: r["original_file_name"].split("-")[0] for r in srv.query(
            "SELECT f.person_id, a.original_file_name FROM asset_face f JOIN asset a ON a.id = f.asset_id")}
        obama = next(p for p, n in names.items() if n == "obama")
        r = admin.get("/api/people", params={"closestPersonId": obama})
        assert r.status_code == 200, r.text
        assert [names[p["id"]] for p in r.json()["people"]] == ["obama", "biden", "kit"]
    finally:
        srv.close()
