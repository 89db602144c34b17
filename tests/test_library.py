"""External libraries (upstream LibraryController/Service): admin CRUD, validate, scan, offline, exclusions."""
from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

from immich_lite import jobs
from immich_lite.services.library import is_excluded
from tests.conftest import CORPUS, Actor, assert_error, assert_invalid, assert_schema
from tests.helpers.upload import upload


def external_tree(tmp_path: Path) -> Path:
    root = tmp_path / "external"
    (root / "a").mkdir(parents=True)
    (root / "@eaDir").mkdir()
    (root / "raw").mkdir()
    jpegs = sorted((CORPUS / "jpeg").glob("*.jpg"))[:3]
    for p in jpegs:
        shutil.copy2(p, root / "a" / p.name)
    shutil.copy2(jpegs[0], root / "@eaDir" / "thumb.jpg")  # default exclusion
    shutil.copy2(jpegs[1], root / "raw" / "skip-me.jpg")   # custom exclusion
    shutil.copy2(CORPUS / "png" / sorted(p.name for p in (CORPUS / "png").iterdir())[0], root / "one.png")
    (root / "readme.txt").write_text("not media")
    return root


def library_assets(ctx: Any, library_id: str) -> dict[str, dict[str, Any]]:
    rows = ctx.db.reader().execute("SELECT * FROM asset WHERE library_id = ?", (library_id,))
    return {r["original_path"]: r for r in list(rows)}


def test_library_lifecycle(tmp_path: Path, ctx: Any, admin: Actor, user: Actor) -> None:
    root = external_tree(tmp_path)
    r = admin.post("/api/libraries", json={"ownerId": user.id, "name": "NAS", "importPaths": [str(root)]})
    lib = assert_schema(r, "createLibrary")
    assert r.status_code == 201
    assert lib["name"] == "NAS" and lib["ownerId"] == user.id and lib["refreshedAt"] is None
    assert "**/@eaDir/**" in lib["exclusionPatterns"]

    r = admin.put(f"/api/libraries/{lib['id']}",
                  json={"exclusionPatterns": [*lib["exclusionPatterns"], "**/raw/**"]})
    assert_schema(r, "updateLibrary")
    assert admin.patch(f"/api/libraries/{lib['id']}", json={"name": "NAS 2"}).json()["name"] == "NAS 2"

    assert admin.post(f"/api/libraries/{lib['id']}/scan").status_code == 204
    jobs.drain(ctx, timeout=120)
    assets = library_assets(ctx, lib["id"])
    expected = {str(p) for p in (root / "a").iterdir()} | {str(root / "one.png")}
    assert set(assets) == expected  # @eaDir, raw/ and the .txt are not imported
    for path, a in assets.items():
        assert a["is_external"] == 1 and a["checksum_algorithm"] == "sha1-path"
        assert bytes(a["checksum"]) == hashlib.sha1(f"path:{path}".encode()).digest()  # noqa: S324
    some = next(iter(sorted(assets)))
    dto = user.get(f"/api/assets/{assets[some]['id']}").json()
    assert dto["originalPath"] == some and dto["isOffline"] is False and dto["libraryId"] == lib["id"]
    body = user.get(f"/api/assets/{assets[some]['id']}/original")
    assert body.status_code == 200 and body.content == Path(some).read_bytes()
    assert user.get(f"/api/assets/{assets[some]['id']}/thumbnail").status_code == 200

    stats = assert_schema(admin.get(f"/api/libraries/{lib['id']}/statistics"), "getLibraryStatistics")
    assert stats["photos"] == 4 and stats["videos"] == 0 and stats["total"] == 4
    assert stats["usage"] == sum(Path(p).stat().st_size for p in expected)
    got = assert_schema(admin.get(f"/api/libraries/{lib['id']}"), "getLibrary")
    assert got["assetCount"] == 4 and got["refreshedAt"] is not None
    assert [x["id"] for x in assert_schema(admin.get("/api/libraries"), "getAllLibraries")] == [lib["id"]]

    # a file disappears → offline (and trashed, as upstream); it comes back → online; rescans add nothing twice
    gone = sorted(expected)[0]
    moved = tmp_path / "moved.jpg"
    shutil.move(gone, moved)
    admin.post(f"/api/libraries/{lib['id']}/scan")
    jobs.drain(ctx, timeout=60)
    assets = library_assets(ctx, lib["id"])
    assert len(assets) == 4
    assert assets[gone]["is_offline"] == 1 and assets[gone]["deleted_at"] is not None
    assert user.get(f"/api/assets/{assets[gone]['id']}").json()["isOffline"] is True
    assert sum(a["is_offline"] for a in assets.values()) == 1
    shutil.move(moved, gone)
    admin.post(f"/api/libraries/{lib['id']}/scan")
    jobs.drain(ctx, timeout=60)
    assets = library_assets(ctx, lib["id"])
    assert assets[gone]["is_offline"] == 0 and assets[gone]["deleted_at"] is None and len(assets) == 4

    # delete: library and its assets go (through the job), the external files stay
    assert admin.delete(f"/api/libraries/{lib['id']}").status_code == 204
    assert_error(admin.get(f"/api/libraries/{lib['id']}"), 400, "Library not found")
    jobs.drain(ctx, timeout=60)
    assert library_assets(ctx, lib["id"]) == {}
    assert all(Path(p).exists() for p in expected)
    assert ctx.db.reader().execute("SELECT count(*) AS n FROM library").fetchone()["n"] == 0


def test_validate_and_update_refuse_bad_paths(tmp_path: Path, ctx: Any, admin: Actor, user: Actor) -> None:
    lib = admin.post("/api/libraries", json={"ownerId": user.id}).json()
    assert lib["name"] == "New External Library" and lib["importPaths"] == []
    f = tmp_path / "file.jpg"
    f.write_bytes(b"x")
    paths = [str(tmp_path), "relative/dir", str(tmp_path / "nope"), str(f), str(ctx.storage.root / "upload")]
    r = admin.post(f"/api/libraries/{lib['id']}/validate", json={"importPaths": paths, "exclusionPatterns": []})
    res = assert_schema(r, "validate")["importPaths"]
    assert [x["isValid"] for x in res] == [True, False, False, False, False]
    assert res[1]["message"].startswith("Import path must be absolute")
    assert res[2]["message"] == "Path does not exist (ENOENT)"
    assert res[3]["message"] == "Not a directory"
    assert res[4]["message"] == "Cannot use media upload folder for external libraries"
    assert_error(admin.put(f"/api/libraries/{lib['id']}", json={"importPaths": ["relative"]}), 400)
    assert_error(admin.get("/api/libraries/7f7c3b7e-4d4c-4f4b-9a9a-0a0a0a0a0a0a"), 400, "Library not found")
    assert_error(admin.post("/api/libraries", json={"name": "x"}), 400)


def test_import_paths_and_exclusions_unique_and_not_blank(admin: Actor, user: Actor) -> None:
    lib = admin.post("/api/libraries", json={"ownerId": user.id}).json()
    unique, blank = "Array must have unique items", "Array items must not be empty"
    for method, path in (("POST", "/api/libraries"), ("PUT", f"/api/libraries/{lib['id']}"),
                         ("POST", f"/api/libraries/{lib['id']}/validate")):
        extra = {"ownerId": user.id} if path == "/api/libraries" else {}
        for body, issues in (({"importPaths": ["/path", "/path"]}, [(["importPaths"], unique)]),
                             ({"exclusionPatterns": ["**/Raw/**", "**/Raw/**"]}, [(["exclusionPatterns"], unique)]),
                             ({"importPaths": [""]}, [(["importPaths"], blank)]),
                             ({"exclusionPatterns": ["  ", "  "]}, [(["exclusionPatterns"], blank),
                                                                    (["exclusionPatterns"], unique)])):
            r = admin.request(method, path, json={**extra, **body})
            got = assert_invalid(r, *issues)["errors"]
            assert [(i["code"], i["path"], i["message"]) for i in got] == [("custom", p, m) for p, m in issues]
    # the refinements run beside the schema's own non-aborting issues (as zod: verified with zod 4.3.6) ...
    got = assert_invalid(admin.post("/api/libraries", json={"ownerId": "x", "importPaths": ["/a", "/a"]}))["errors"]
    assert [i["path"] for i in got] == [["ownerId"], ["importPaths"]]
    # ... but not when an item itself is invalid
    got = assert_invalid(admin.put(f"/api/libraries/{lib['id']}", json={"importPaths": ["/a", "/a", 3]}))["errors"]
    assert [(i["path"], i["code"]) for i in got] == [(["importPaths", 2], "invalid_type")]
    assert admin.get(f"/api/libraries/{lib['id']}").json()["importPaths"] == []
    assert admin.get("/api/libraries").json() == [admin.get(f"/api/libraries/{lib['id']}").json()]


def test_libraries_are_admin_only(admin: Actor, user: Actor) -> None:
    lib = admin.post("/api/libraries", json={"ownerId": user.id}).json()
    for method, path in (("GET", "/api/libraries"), ("POST", "/api/libraries"), ("GET", f"/api/libraries/{lib['id']}"),
                         ("PUT", f"/api/libraries/{lib['id']}"), ("DELETE", f"/api/libraries/{lib['id']}"),
                         ("POST", f"/api/libraries/{lib['id']}/scan"),
                         ("GET", f"/api/libraries/{lib['id']}/statistics"),
                         ("POST", f"/api/libraries/{lib['id']}/validate")):
        kw = {"json": {"ownerId": user.id}} if method in ("POST", "PUT") else {}
        assert_error(user.request(method, path, **kw), 403)
    assert admin.get(f"/api/libraries/{lib['id']}").status_code == 200


def test_exclusion_globs() -> None:
    assert is_excluded("/n/photos/@eaDir/x/y.jpg", ["**/@eaDir/**"])
    assert is_excluded("/n/photos/._IMG.jpg", ["**/._*"])
    assert not is_excluded("/n/photos/a._IMG.jpg", ["**/._*"])
    assert is_excluded("/n/x/Raw/a.CR2", ["**/Raw/**"])
    assert is_excluded("/n/x/a.tmp.jpg", ["**/*.tmp.jpg"])
    assert not is_excluded("/n/x/a.jpg", ["*.jpg"])  # a single * does not cross folders


def test_deleting_an_external_asset_never_deletes_the_users_file(client: Any, admin: Any, tmp_path: Any) -> None:
    from immich_lite import jobs

    ctx = client.app.state.ctx
    folder = tmp_path / "photos"
    folder.mkdir()
    mine = folder / "keep.jpg"
    mine.write_bytes((CORPUS / "jpeg" / "mongolia.jpeg").read_bytes())
    lib = admin.post("/api/libraries", json={"ownerId": admin.id, "importPaths": [str(folder)]}).json()
    admin.post(f"/api/libraries/{lib['id']}/scan")
    jobs.drain(ctx)
    asset_id = ctx.db.reader().execute("SELECT id FROM asset WHERE library_id = ?", (lib["id"],)).fetchone()["id"]
    uploaded = CORPUS / "png" / sorted(p.name for p in (CORPUS / "png").iterdir())[0]
    assert upload(admin, uploaded).status_code == 201
    usage = admin.get("/api/users/me").json()["quotaUsageInBytes"]
    assert usage == uploaded.stat().st_size
    admin.delete("/api/assets", json={"ids": [asset_id], "force": True})
    jobs.drain(ctx)
    assert mine.exists() and mine.read_bytes() == (CORPUS / "jpeg" / "mongolia.jpeg").read_bytes()
    # as upstream: a library asset never counted towards its owner's usage, so deleting it takes nothing off
    assert admin.get("/api/users/me").json()["quotaUsageInBytes"] == usage


def test_deleting_a_library_never_deletes_files_outside_the_data_dir(client: Any, admin: Any, tmp_path: Any) -> None:
    ctx = client.app.state.ctx
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy2(CORPUS / "jpeg" / "mongolia.jpeg", folder / "a.jpg")
    # beside the data dir (tmp_path/data) with its name as a prefix: a string prefix test took it for inside
    victim = tmp_path / "data2" / "victim.jpg"
    victim.parent.mkdir()
    victim.write_bytes(b"not ours")
    lib = admin.post("/api/libraries", json={"ownerId": admin.id, "importPaths": [str(folder)]}).json()
    admin.post(f"/api/libraries/{lib['id']}/scan")
    jobs.drain(ctx)
    asset_id = ctx.db.reader().execute("SELECT id FROM asset WHERE library_id = ?", (lib["id"],)).fetchone()["id"]
    with ctx.db.write() as conn:  # a derived-file row pointing outside (a damaged or hostile database)
        conn.execute("UPDATE asset_file SET path = ? WHERE asset_id = ? AND type = 'preview'", (str(victim), asset_id))
        assert conn.changes() == 1
    assert admin.delete(f"/api/libraries/{lib['id']}").status_code == 204
    jobs.drain(ctx)
    assert library_assets(ctx, lib["id"]) == {}
    assert victim.read_bytes() == b"not ours"
    assert (folder / "a.jpg").exists()
