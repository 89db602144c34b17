"""Upstream's machine-learning protocol both ways, over real HTTP on 127.0.0.1: `immich-lite ml-serve` (a
subprocess, with a tiny CLIP model made in the test) answering /ping and /predict as upstream's container, and
`immich-lite serve` (another subprocess, whose own models directory is empty) sending its CLIP, face and OCR work
there through `machineLearning.urls`, falling back to the next URL when one is down, and to itself when none is."""
from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import pyvips

from tests.conftest import CORPUS
from tests.helpers.live import LiveServer, User, drain_queues, free_port, ml_server

pytest.importorskip("onnxruntime")
pytest.importorskip("rapidocr")
pytest.importorskip("dlib")
tiny_clip = pytest.importorskip("tests.helpers.tiny_clip")
FACE = CORPUS / "faces" / "obama-1.jpg"


def red_jpeg() -> bytes:
    return (pyvips.Image.black(320, 240) + [220, 30, 30]).cast("uchar").copy(interpretation="srgb").jpegsave_buffer()


def sign_jpeg() -> bytes:
    words = pyvips.Image.text("Birthday Party 2024", dpi=300, font="sans")
    page = pyvips.Image.black(words.width + 160, words.height + 160).invert().insert(words.invert(), 80, 80)
    return page.colourspace("srgb").jpegsave_buffer(Q=92)


@pytest.fixture(scope="module")
def ml(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("ml-serve")
    tiny_clip.make_tiny_clip(root / "models")
    with ml_server(["immich_lite", "ml-serve", "--host", "127.0.0.1"], root / "models", root / "ml.log") as url:
        yield url


def predict(url: str, entries: dict[str, Any], *, image: bytes | None = None, text: str | None = None) -> Any:
    data = {"entries": json.dumps(entries), **({"text": text} if text is not None else {})}
    files = {"image": ("blob", image, "application/octet-stream")} if image is not None else None
    return httpx.post(f"{url}/predict", data=data, files=files, timeout=120)


def test_ml_serve_answers_upstreams_protocol(ml: str) -> None:
    assert httpx.get(ml).json() == {"message": "Immich ML"}
    r = predict(ml, {"clip": {"visual": {"modelName": "ViT-B-32__openai"}}}, image=red_jpeg())
    body = r.json()
    assert r.status_code == 200 and body["imageWidth"] == 320 and body["imageHeight"] == 240
    assert isinstance(body["clip"], str) and len(json.loads(body["clip"])) == 512
    r = predict(ml, {"clip": {"textual": {"modelName": "ViT-B-32__openai", "options": {"language": "en"}}}},
                text="red")
    assert len(json.loads(r.json()["clip"])) == 512 and "imageWidth" not in r.json()
    r = predict(ml, {"facial-recognition": {"detection": {"modelName": "buffalo_l", "options": {"minScore": 0.7}},
                                            "recognition": {"modelName": "buffalo_l"}}}, image=FACE.read_bytes())
    [face] = r.json()["facial-recognition"]
    assert set(face) == {"boundingBox", "embedding", "score"} and len(json.loads(face["embedding"])) == 128
    r = predict(ml, {"ocr": {"detection": {"modelName": "PP-OCRv5_mobile", "options": {"minScore": 0.5,
                                                                                         "maxResolution": 736}},
                             "recognition": {"modelName": "PP-OCRv5_mobile", "options": {"minScore": 0.8}}}},
                image=sign_jpeg())
    ocr = r.json()["ocr"]
    assert ocr["text"] == ["Birthday Party 2024"] and len(ocr["box"]) == 8 and len(ocr["textScore"]) == 1
    # upstream's errors
    assert predict(ml, {"clip": {"visual": {"modelName": "ViT-B-32__openai"}}}).status_code == 400
    bad = httpx.post(f"{ml}/predict", data={"entries": "not json", "text": "x"}, timeout=30)
    assert bad.status_code == 422 and bad.json() == {"detail": "Invalid request format."}
    missing = predict(ml, {"clip": {"textual": {"modelName": "no-such-model"}}}, text="red")
    assert missing.status_code == 500 and "no-such-model" in missing.json()["detail"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, ml: str) -> Iterator[tuple[LiveServer, User]]:
    root = tmp_path_factory.mktemp("serve")
    srv = LiveServer(root / "data", root).start()
    try:
        admin = srv.sign_up_admin()
        with srv.client() as c:
            config = c.get("/api/system-config", headers=admin.headers).json()
            config["machineLearning"]["urls"] = [f"http://127.0.0.1:{free_port()}", ml]  # the first one is down
            assert c.put("/api/system-config", json=config, headers=admin.headers).status_code == 200
        yield srv, admin
    finally:
        srv.close()


def test_serve_sends_clip_faces_and_ocr_to_ml_serve(server: tuple[LiveServer, User]) -> None:
    srv, admin = server
    # its own models directory has no CLIP model: smart search works only through the URL
    assert not (srv.data / "models").exists()
    assert admin.get("/api/server/features").json()["smartSearch"] is True
    ids = {name: admin.upload(data, name).json()["id"]
           for name, data in (("red.jpg", red_jpeg()), ("sign.jpg", sign_jpeg()), ("face.jpg", FACE.read_bytes()))}
    drain_queues(srv, admin)
    found = admin.post("/api/search/smart", json={"query": "red"}).json()["assets"]["items"]
    assert found[0]["id"] == ids["red.jpg"]
    assert [line["text"] for line in admin.get(f"/api/assets/{ids['sign.jpg']}/ocr").json()] == \
        ["Birthday Party 2024"]
    assert len(admin.get("/api/faces", params={"id": ids["face.jpg"]}).json()) == 1
    assert srv.query("SELECT count(*) AS n FROM job WHERE status = 'failed'")[0]["n"] == 0
    log = srv.log_tail(400)
    assert "became unhealthy" in log  # the dead URL was noticed and passed over


def test_with_every_url_down_the_server_does_the_work_itself(server: tuple[LiveServer, User]) -> None:
    srv, admin = server
    with srv.client() as c:
        config = c.get("/api/system-config", headers=admin.headers).json()
        config["machineLearning"]["urls"] = [f"http://127.0.0.1:{free_port()}"]
        assert c.put("/api/system-config", json=config, headers=admin.headers).status_code == 200
    assert admin.get("/api/server/features").json()["smartSearch"] is False  # no model here, no URL up
    asset = admin.upload(sign_jpeg().replace(b"\xff\xd9", b"\x00\xff\xd9"), "sign2.jpg").json()["id"]
    drain_queues(srv, admin)
    assert [line["text"] for line in admin.get(f"/api/assets/{asset}/ocr").json()] == ["Birthday Party 2024"]


def test_a_url_that_never_answers_holds_up_no_write(server: tuple[LiveServer, User]) -> None:
    """A machine-learning URL that accepts and then says nothing (a hung container, a resolver that never
    answers): while its availability check hangs, uploads and other writes go on; the check is not made
    inside a job's write transaction."""
    import socket
    import threading

    srv, admin = server
    listener = socket.create_server(("127.0.0.1", 0))
    accepted = threading.Event()
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            held.append(conn)  # read nothing, answer nothing
            accepted.set()

    threading.Thread(target=accept, daemon=True).start()
    try:
        with srv.client() as c:
            config = c.get("/api/system-config", headers=admin.headers).json()
            config["machineLearning"]["urls"] = [f"http://127.0.0.1:{listener.getsockname()[1]}"]
            config["machineLearning"]["availabilityChecks"]["timeout"] = 60_000
            assert c.put("/api/system-config", json=config, headers=admin.headers).status_code == 200
        first = admin.upload(red_jpeg().replace(b"\xff\xd9", b"\x01\xff\xd9"), "red3.jpg")
        assert first.status_code == 201, first.text
        assert accepted.wait(60), srv.log_tail()  # a check is hanging on the silent URL now
        with srv.client(timeout=20) as c:  # these need the write lock, which no check holds
            r = admin.upload(red_jpeg().replace(b"\xff\xd9", b"\x02\xff\xd9"), "red4.jpg", client=c)
            assert r.status_code == 201, r.text
            r = c.put("/api/assets", json={"ids": [first.json()["id"]], "isFavorite": True}, headers=admin.headers)
            assert r.status_code == 204, r.text
        assert held, "the check is still waiting on the silent URL"
    finally:
        listener.close()
        for conn in held:
            conn.close()
        with srv.client() as c:  # leave the module's server without the silent URL
            config = c.get("/api/system-config", headers=admin.headers).json()
            config["machineLearning"]["urls"] = []
            config["machineLearning"]["availabilityChecks"]["timeout"] = 2000
            c.put("/api/system-config", json=config, headers=admin.headers)


def test_a_name_lookup_that_hangs_is_bounded_by_the_check_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    """The socket timeout does not cover getaddrinfo; a resolver that never answers must not stretch a 2 s
    availability check to its own retries (tens of seconds)."""
    import socket
    import threading

    from immich_lite.ml import provider

    release = threading.Event()
    real = socket.getaddrinfo

    def hanging(host: str, *args: Any, **kwargs: Any) -> Any:
        if host == "hangs.invalid":
            release.wait(30)
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", hanging)
    try:
        start = time.monotonic()
        assert provider.ping("http://hangs.invalid:3003", 0.5) is False
        assert time.monotonic() - start < 5  # the lookup alone would take 30 s
    finally:
        release.set()
