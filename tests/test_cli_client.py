"""The real Immich CLI (@immich/cli 3.2.2 on node 22, from tests/clients) against the real app over HTTP.

login + server-info, `upload --recursive --album` of corpus folders (folder = album), the same upload again
(everything a duplicate), and `--skip-hash` of a known file (the server answers 200 duplicate).
Install the client first: `npm ci --prefix tests/clients --no-audit --no-fund`.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from immich_lite import jobs
from immich_lite.app import create_app
from immich_lite.config import Settings
from tests.conftest import ADMIN, CORPUS, REPO
from tests.helpers.inproc import served

CLIENTS = REPO / "tests" / "clients"
NODE = CLIENTS / "node_modules" / ".bin" / "node"
CLI_PACKAGE = CLIENTS / "node_modules" / "@immich" / "cli"
CLI = CLI_PACKAGE / "bin" / "immich"  # the package's own bin: checks the node version, then imports dist/index.js
INSTALL = "npm ci --prefix tests/clients --no-audit --no-fund"

# folder (= album name) -> corpus files copied into it
TREE = {
    "jpeg": ["jpeg/mongolia.jpeg", "jpeg/prairie_falcon.jpg", "jpeg/el_torcal_rocks.jpg", "jpeg/IMG_4120.JPG",
             "jpeg/fin_de_journée.jpg"],
    "png": ["png/png.png", "png/png_with_exif_and_gps.png", "png/sampleWithExifData.png",
            "png/photoshop-8x12-rgb24-all-metadata.png", "png/Screenshot_2019-05-21_at_10.45.52.png"],
    "livephoto": ["livephoto/train.jpg", "livephoto/train.mov", "livephoto/IMG_3853.HEIC", "livephoto/IMG_3853.MOV"],
}
MOTION_PARTS = {"train.mov", "IMG_3853.MOV"}  # linked to their stills and hidden by metadata extraction
N_FILES = sum(len(v) for v in TREE.values())
N_VISIBLE = N_FILES - len(MOTION_PARTS)


def _require_client() -> None:
    for path in (NODE, CLI, CLI_PACKAGE / "dist" / "index.js"):
        assert path.exists(), f"{path} is missing: install the test clients with `{INSTALL}` (run from the repo root)"
    version = json.loads((CLI_PACKAGE / "package.json").read_text())["version"]
    assert version == "3.2.2", f"@immich/cli {version} installed, 3.2.2 expected: run `{INSTALL}`"
    node = subprocess.run([str(NODE), "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    assert node.startswith("v22."), f"{NODE} is {node!r}, node 22 expected: run `{INSTALL}`"


def _sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


class Server:
    def __init__(self, base: str, ctx: Any, token: str, key: str, home: Path, tree: Path):
        self.base, self.ctx, self.token, self.key, self.home, self.tree = base, ctx, token, key, home, tree
        self.http = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30)

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.http.get(path, **kw)

    def cli(self, *args: str, with_env_credentials: bool = True) -> tuple[int, str]:
        """Run `immich <args>` on node 22; returns (exit code, stdout + stderr)."""
        env = {"PATH": f"{NODE.parent}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
               "HOME": str(self.home), "IMMICH_CONFIG_DIR": str(self.home / "config"), "LANG": "C.UTF-8",
               "NO_COLOR": "1"}
        if with_env_credentials:
            env |= {"IMMICH_INSTANCE_URL": f"{self.base}/api", "IMMICH_API_KEY": self.key}
        p = subprocess.run([str(NODE), str(CLI), *args], env=env, cwd=self.home, capture_output=True, text=True,
                           timeout=120)
        return p.returncode, p.stdout + p.stderr

    def statistics(self) -> dict[str, int]:
        r = self.get("/api/assets/statistics")
        assert r.status_code == 200, r.text
        return r.json()

    def albums(self) -> dict[str, dict[str, Any]]:
        r = self.get("/api/albums")
        assert r.status_code == 200, f"GET /api/albums -> {r.status_code} {r.text}"
        body = r.json()
        names = [a["albumName"] for a in body]
        assert len(names) == len(set(names)), f"albums with the same name: {names}"
        return {a["albumName"]: a for a in body}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    _require_client()
    root = tmp_path_factory.mktemp("cli")
    tree = root / "photos"
    for folder, files in TREE.items():
        (tree / folder).mkdir(parents=True)
        for rel in files:
            shutil.copy2(CORPUS / rel, tree / folder / Path(rel).name)
    home = root / "home"
    home.mkdir()
    app = create_app(Settings(data_dir=str(root / "data"), workers=1))
    with served(app) as base:
        assert httpx.post(base + "/api/auth/admin-sign-up", json=ADMIN).status_code == 201
        r = httpx.post(base + "/api/auth/login", json={"email": ADMIN["email"], "password": ADMIN["password"]})
        assert r.status_code == 201, r.text
        token = r.json()["accessToken"]
        r = httpx.post(base + "/api/api-keys", json={"name": "cli", "permissions": ["all"]},
                       headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 201, r.text
        s = Server(base, app.state.ctx, token, r.json()["secret"], home, tree)
        try:
            yield s
        finally:
            s.http.close()


def _json_report(output: str) -> dict[str, Any]:
    """The `--json-output` block ({newFiles, duplicates, newAssets}) among the CLI's other lines."""
    start = output.find("{\n")
    assert start >= 0, f"no JSON block in the CLI output:\n{output}"
    report, _ = json.JSONDecoder().raw_decode(output[start:])
    return report


def _assert_clean(code: int, output: str) -> None:
    assert code == 0, f"CLI exit {code}:\n{output}"
    # the CLI prints failed hashes / uploads and still exits 0
    assert "Failed to" not in output and "Error" not in output, output


def _local_files(tree: Path) -> dict[str, Path]:
    return {str(p): p for p in tree.rglob("*") if p.is_file()}


def test_login_then_server_info(server: Server) -> None:
    # login with the bare origin: the CLI discovers /api through /.well-known/immich, checks GET /api-keys/me
    code, out = server.cli("login", server.base, server.key, with_env_credentials=False)
    assert code == 0, out
    assert f"Logged in as {ADMIN['email']}" in out, out
    assert (server.home / "config" / "auth.yml").exists(), out
    # server-info from the stored auth.yml only (no env credentials)
    code, out = server.cli("server-info", with_env_credentials=False)
    assert code == 0, out
    assert "Version: 3.1.0" in out, out
    assert f"Server Info (via {ADMIN['email']})" in out, out
    stats = server.statistics()
    for label, key in (("Images", "images"), ("Videos", "videos"), ("Total", "total")):
        assert f"    {label}: {stats[key]}\n" in out, out
    images = next(line for line in out.splitlines() if line.startswith("    Images: ") and "," in line)
    assert {"jpg", "jpeg", "heic", "png"} <= set(images.split(": ", 1)[1].split(",")), images


def test_upload_with_albums_then_again_all_duplicates(server: Server) -> None:
    files = _local_files(server.tree)
    assert len(files) == N_FILES
    before = server.statistics()

    code, out = server.cli("upload", "--recursive", "--album", "--no-progress", "--json-output", str(server.tree))
    _assert_clean(code, out)
    report = _json_report(out)
    assert f"Found {N_FILES} new files and 0 duplicates" in out, out
    assert f"Successfully uploaded {N_FILES} new assets" in out, out
    assert sorted(report["newFiles"]) == sorted(files) and report["duplicates"] == [], report
    ids = {a["filepath"]: a["id"] for a in report["newAssets"]}
    assert sorted(ids) == sorted(files) and len(set(ids.values())) == N_FILES, report

    jobs.drain(server.ctx)  # metadata links the live photos (motion parts hidden), thumbnails

    # originals are byte-exact and owned by the key's user
    for path, asset_id in ids.items():
        r = server.get(f"/api/assets/{asset_id}")
        assert r.status_code == 200, r.text
        assert r.json()["originalFileName"] == Path(path).name, r.json()
        r = server.get(f"/api/assets/{asset_id}/original")
        assert r.status_code == 200, (path, r.status_code, r.text[:200])
        assert _sha1(r.content) == _sha1(files[path].read_bytes()), path
    # upstream's statistics leave hidden assets (the live photos' motion parts) out
    assert server.statistics() == {"images": before["images"] + N_VISIBLE, "videos": before["videos"],
                                   "total": before["total"] + N_VISIBLE}

    # one album per folder, named after it; assetCount leaves hidden assets out (upstream withDefaultVisibility)
    albums = server.albums()
    assert set(albums) == set(TREE), albums
    for folder, members in TREE.items():
        visible = [m for m in members if Path(m).name not in MOTION_PARTS]
        assert albums[folder]["assetCount"] == len(visible), (folder, albums[folder])
        for name in visible:
            asset_id = ids[str(server.tree / folder / Path(name).name)]
            r = server.get("/api/albums", params={"assetId": asset_id})
            assert r.status_code == 200, r.text
            assert [a["albumName"] for a in r.json()] == [folder], (name, r.json())
    stats_after_first = server.statistics()

    # the same upload again: every file is a duplicate found by the SHA-1 pre-check, nothing is sent
    code, out = server.cli("upload", "--recursive", "--album", "--no-progress", "--json-output", str(server.tree))
    _assert_clean(code, out)
    report = _json_report(out)
    assert f"Found 0 new files and {N_FILES} duplicates" in out, out
    assert "All assets were already uploaded, nothing to do." in out, out
    assert "Successfully created 0 new albums" in out, out
    assert report["newFiles"] == [] and report["newAssets"] == [], report
    assert {d["filepath"]: d["id"] for d in report["duplicates"]} == ids, report
    assert server.statistics() == stats_after_first
    again = server.albums()
    assert {n: (a["id"], a["assetCount"]) for n, a in again.items()} == \
        {n: (a["id"], a["assetCount"]) for n, a in albums.items()}


def test_skip_hash_upload_of_known_file_is_a_duplicate(server: Server) -> None:
    path = server.tree / "jpeg" / "mongolia.jpeg"
    # make sure it is on the server (a duplicate already if the previous test ran)
    code, out = server.cli("upload", "--no-progress", "--json-output", str(path))
    _assert_clean(code, out)
    report = _json_report(out)
    known = (report["newAssets"] or report["duplicates"])[0]["id"]
    stats = server.statistics()

    code, out = server.cli("upload", "--skip-hash", "--no-progress", "--json-output", str(path))
    _assert_clean(code, out)
    assert "Skipping hash check, assuming all files are new" in out, out
    assert "Successfully uploaded 0 new assets" in out and "Skipped 1 duplicate asset" in out, out
    assert _json_report(out)["newAssets"] == [{"id": known, "filepath": str(path)}], out
    assert server.statistics() == stats

    # what the server answered: the CLI's exact multipart (it takes 200 or 201), upstream says 200 duplicate
    mtime = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
    stamp = mtime.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    r = httpx.post(f"{server.base}/api/assets", headers={"x-api-key": server.key},
                   data={"fileCreatedAt": stamp, "fileModifiedAt": stamp, "fileSize": str(path.stat().st_size),
                         "isFavorite": "false"},
                   files={"assetData": (path.name, path.read_bytes(), "application/octet-stream")})
    assert r.status_code == 200, r.text
    assert r.json() == {"id": known, "status": "duplicate"}, r.json()
