"""Real files that upstream thumbnails and a strict pipeline would not: a JPEG with a damaged tail, formats named
with the wrong extension, QuickTime files whose first video track is an MJPEG preview, Motion-JPEG camera
clips, and JPEG XL. Each goes through HTTP on the real app (exiftool, libvips, ffmpeg) and is checked on the
thumbnail, preview and, for video, the transcoded playback it serves."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import pyvips

from immich_lite import jobs
from tests.conftest import CORPUS
from tests.helpers.app import admin_app
from tests.helpers.upload import upload

FFMPEG = shutil.which("ffmpeg")
needs_ffmpeg = pytest.mark.skipif(FFMPEG is None, reason="ffmpeg is not installed")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with admin_app(tmp_path_factory.mktemp("robust") / "data", workers=2) as (app, admin):
        yield app, admin


def _ingest(server: Any, path: Path | None = None, *, data: bytes | None = None, filename: str | None = None
            ) -> dict[str, Any]:
    app, admin = server
    r = upload(admin, path, data=data, filename=filename)
    assert r.status_code == 201, r.text
    jobs.drain(app.state.ctx, timeout=300)
    body = admin.get(f"/api/assets/{r.json()['id']}").json()
    failed = app.state.ctx.db.reader().execute(
        "SELECT name, error FROM job WHERE status = 'failed' AND data LIKE ?", (f"%{body['id']}%",)).fetchall()
    assert not failed, failed
    return body


def _image(server: Any, asset_id: str, size: str) -> pyvips.Image:
    _, admin = server
    r = admin.get(f"/api/assets/{asset_id}/thumbnail?size={size}")
    assert r.status_code == 200, (size, r.status_code, r.text[:200])
    return pyvips.Image.new_from_buffer(r.content, "").copy_memory()


def _ffmpeg(*args: str) -> None:
    assert FFMPEG is not None
    subprocess.run([FFMPEG, "-nostdin", "-v", "error", "-y", *args], check=True, timeout=120)


# -- lenient decoding ---------------------------------------------------------------------------------------


def test_a_jpeg_with_a_damaged_tail_still_gets_a_thumbnail(server: Any) -> None:
    """The corpus's DSCN0012 cut in half: libjpeg stops at the cut ("premature end of data"); like sharp with
    failOn 'none' the rows it read make the picture and the missing ones are grey."""
    rel = "broken/truncated_half_DSCN0012.jpg"
    body = _ingest(server, CORPUS / rel)
    assert body["thumbhash"] is not None
    assert (body["width"], body["height"]) == (640, 480)
    preview = _image(server, body["id"], "preview")
    thumb = _image(server, body["id"], "thumbnail")
    assert (preview.width, preview.height) == (640, 480)  # never enlarged
    assert min(thumb.width, thumb.height) == 250
    top = preview.crop(0, 0, preview.width, preview.height // 4)
    bottom = preview.crop(0, preview.height * 7 // 8, preview.width, preview.height // 8)
    assert top.deviate() > 20, "the decoded part is the photo, not a flat fill"
    assert bottom.deviate() < 3, "what the file lacks is a flat fill"


def test_a_jpeg_without_any_scan_data_still_fails_with_a_record(server: Any) -> None:
    app, admin = server
    r = upload(admin, CORPUS / "broken/truncated_header_only_DSCN0012.jpg")
    assert r.status_code == 201
    jobs.drain(app.state.ctx, timeout=300)
    asset_id = r.json()["id"]
    assert admin.get(f"/api/assets/{asset_id}").json()["thumbhash"] is None
    failed = app.state.ctx.db.reader().execute(
        "SELECT error FROM job WHERE status = 'failed' AND data LIKE ?", (f"%{asset_id}%",)).fetchall()
    assert failed, "no pixels at all: the thumbnail job fails and says so"
    assert admin.get(f"/api/assets/{asset_id}/original").content == \
        (CORPUS / "broken/truncated_header_only_DSCN0012.jpg").read_bytes()


# -- the format from the bytes ------------------------------------------------------------------------------


def test_a_heic_saved_as_jpg_is_decoded_as_heic(server: Any) -> None:
    real = _ingest(server, CORPUS / "heic/IMG_2682.heic")
    misnamed = _ingest(server, data=(CORPUS / "heic/IMG_2682.heic").read_bytes() + b"\0",
                       filename="IMG_2682.jpg")  # another checksum, else it is a duplicate
    assert misnamed["originalMimeType"] == "image/jpeg"  # the name decides the mime type, as upstream
    assert misnamed["thumbhash"] is not None
    assert (misnamed["width"], misnamed["height"]) == (real["width"], real["height"])
    a, b = _image(server, real["id"], "preview"), _image(server, misnamed["id"], "preview")
    assert (a.width, a.height) == (b.width, b.height)
    assert (a - b).abs().avg() < 2, "the same pixels, the same way up"


def test_a_jpeg_saved_as_heic_or_nef_is_decoded_as_jpeg(server: Any) -> None:
    src = CORPUS / "jpeg/Sony_DSC-HX5V_2_.jpg"
    reference = _image(server, _ingest(server, src)["id"], "preview")
    for i, name in enumerate(("photo.heic", "photo.nef")):
        data = src.read_bytes() + bytes([i])  # trailing bytes after EOI: another checksum, same pixels
        body = _ingest(server, data=data, filename=name)
        assert body["thumbhash"] is not None
        preview = _image(server, body["id"], "preview")
        # the whole JPEG, not its 160x120 EXIF thumbnail (a RAW's embedded preview)
        assert (preview.width, preview.height) == (reference.width, reference.height), name
        assert (preview - reference).abs().avg() < 2, name


# -- video poster frames ------------------------------------------------------------------------------------


@needs_ffmpeg
def test_quicktime_with_an_mjpeg_preview_track_first_gets_its_real_video(server: Any, tmp_path: Path) -> None:
    """Cameras write a small MJPEG preview track into QuickTime files; the poster frame and the transcode take
    the default, highest-bitrate video stream as upstream does, not the first track."""
    mov = tmp_path / "CLIP0001.MOV"
    _ffmpeg("-f", "lavfi", "-i", "color=c=red:size=160x120:rate=5", "-f", "lavfi", "-i",
            "testsrc=size=640x480:rate=25", "-f", "lavfi", "-i", "sine=d=2", "-t", "2",
            "-map", "0", "-map", "1", "-map", "2", "-c:v:0", "mjpeg", "-c:v:1", "libx264", "-pix_fmt:v:1", "yuv420p",
            "-c:a", "aac", "-disposition:v:0", "0", "-disposition:v:1", "default", str(mov))
    _, admin = server
    config = admin.get("/api/system-config").json()
    forced = {**config, "ffmpeg": {**config["ffmpeg"], "transcode": "all"}}  # H.264 + AAC in MOV: else no encode
    assert admin.put("/api/system-config", json=forced).status_code == 200
    try:
        body = _ingest(server, mov)
    finally:
        assert admin.put("/api/system-config", json=config).status_code == 200
    # the asset's size is exiftool's ImageSize, the first track's, as upstream's getImageDimensions reads it
    assert body["type"] == "VIDEO" and (body["width"], body["height"]) == (160, 120)
    preview = _image(server, body["id"], "preview")
    assert (preview.width, preview.height) == (640, 480)
    red = [preview.extract_band(b).avg() for b in range(3)]
    assert not (red[0] > 200 and red[1] < 60 and red[2] < 60), "the poster is the preview track's red frame"
    playback = admin.get(f"/api/assets/{body['id']}/video/playback")
    assert playback.status_code == 200
    assert _streams(playback.content) == ["audio", "video,640,480"]  # the real video, not the preview track


def _streams(mp4: bytes) -> list[str]:
    probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_type,width,height",
                            "-of", "csv=p=0", "-"], input=mp4, capture_output=True, check=True, timeout=60)
    return sorted(line.strip(",") for line in probe.stdout.decode().split())


@needs_ffmpeg
@pytest.mark.parametrize("name, container_args", [
    ("MVI_0001.AVI", ["-c:v", "mjpeg", "-pix_fmt", "yuvj422p", "-c:a", "pcm_u8", "-ar", "11025"]),
    ("DSCF0001.MOV", ["-c:v", "mjpeg", "-vtag", "jpeg", "-pix_fmt", "yuvj420p", "-c:a", "pcm_s16le"]),
])
def test_motion_jpeg_camera_clips_get_a_poster_frame_and_playback(server: Any, tmp_path: Path, name: str,
                                                                   container_args: list[str]) -> None:
    """Motion-JPEG as compact cameras wrote it: AVI with 8-bit PCM, and QuickTime Photo-JPEG ('jpeg') with odd
    sizes; neither is a codec browsers play, so a playback MP4 is made too."""
    clip = tmp_path / name
    _ffmpeg("-f", "lavfi", "-i", "testsrc=size=641x479:rate=15", "-f", "lavfi", "-i", "sine=d=2", "-t", "2",
            *container_args, str(clip))
    body = _ingest(server, clip)
    assert body["type"] == "VIDEO" and (body["width"], body["height"]) == (641, 479)
    assert body["thumbhash"] is not None
    preview = _image(server, body["id"], "preview")
    assert (preview.width, preview.height) == (641, 479)
    assert preview.deviate() > 20  # testsrc's colour bars, not a flat frame
    _, admin = server
    playback = admin.get(f"/api/assets/{body['id']}/video/playback")
    assert playback.status_code == 200 and playback.content[4:8] == b"ftyp"
    # H.264 4:2:0 needs even sizes: one pixel less, never enlarged to the 720p target
    assert _streams(playback.content) == ["audio", "video,640,478"]


# -- JPEG XL -----------------------------------------------------------------------------------------------


def test_jpeg_xl_gets_a_thumbnail_preview_and_thumbhash(server: Any, tmp_path: Path) -> None:
    pillow_jxl = pytest.importorskip("pillow_jxl")
    from PIL import Image
    assert pillow_jxl
    gradient = Image.linear_gradient("L").resize((1800, 1200)).convert("RGB")
    blue = Image.new("RGB", (1800, 1200), (20, 60, 200))
    picture = Image.blend(gradient, blue, 0.5)
    path = tmp_path / "sunset.jxl"
    picture.save(path, quality=90)
    assert path.read_bytes()[:2] == b"\xff\x0a"
    body = _ingest(server, path)
    assert body["originalMimeType"] == "image/jxl" and body["type"] == "IMAGE"
    assert (body["width"], body["height"]) == (1800, 1200)
    assert body["thumbhash"] is not None
    preview, thumb = _image(server, body["id"], "preview"), _image(server, body["id"], "thumbnail")
    assert (preview.width, preview.height) == (1800, 1200)  # shorter side 1200 < 1440: never enlarged
    assert (thumb.width, thumb.height) == (375, 250)
    expected = picture.resize((375, 250)).convert("RGB")
    ours = pyvips.Image.new_from_memory(thumb.extract_band(0, n=3).write_to_memory(), 375, 250, 3, "uchar")
    theirs = pyvips.Image.new_from_memory(expected.tobytes(), 375, 250, 3, "uchar")
    assert (ours.cast("float") - theirs.cast("float")).abs().avg() < 8  # Display P3 conversion + lossy codecs
