"""Thumbnails, previews and thumbhashes for every decodable corpus file, decoded back with libvips."""
from __future__ import annotations

import math
import os
import struct
import time
import zlib
from pathlib import Path

import pytest
import pyvips

from immich_lite.media import MediaError, mime, thumbnail
from immich_lite.media.exif import ExifTool
from immich_lite.media.thumbnail import rgba_to_thumbhash

from .conftest import CORPUS, corpus_files

# Files that cannot give a thumbnail, and why.  Everything else in the corpus must.
UNDECODABLE = {
    "broken/zero_bytes.jpg": "empty file",
    "broken/zero_bytes.heic": "empty file",
    "broken/truncated_header_only_DSCN0012.jpg": "JPEG header without scan data",
    "broken/truncated_2021-02-13-1929.heic": "truncated HEIC (libheif would paint the missing tiles green)",
    "broken/truncated_FLIR_Thermal.mp4": "truncated MP4 without moov atom",
    "raw/CanonRaw.cr2": "ExifTool metadata stub: its previews are 26-28 byte placeholders",
    "raw/Nikon.nef": "ExifTool metadata stub: its previews are 26-29 byte placeholders",
    "raw/IMG_1361.dng": "pruned DNG: preview offsets point past the end of the 64 KB file",
}
MEDIA = [str(p.relative_to(CORPUS)) for p in corpus_files() if mime.asset_type(p.name)]


def _short(w: int, h: int) -> int:
    return min(w, h)


def _run(path: Path, out: Path, et: ExifTool, **kwargs: object) -> thumbnail.ThumbResult:
    return thumbnail.generate(path, asset_type=mime.asset_type(path.name) or "IMAGE",
                              thumb_path=out / "thumb.webp", preview_path=out / "preview.jpeg", exiftool=et,
                              **kwargs)  # type: ignore[arg-type]


def _average_from_hash(hash_: bytes) -> tuple[float, float, float]:
    """Decode the DC terms of a thumbhash (evanw/thumbhash thumbHashToAverageRGBA)."""
    header = hash_[0] | hash_[1] << 8 | hash_[2] << 16
    l_dc, p_dc, q_dc = (header & 63) / 63, ((header >> 6) & 63) / 31.5 - 1, ((header >> 12) & 63) / 31.5 - 1
    b = l_dc - 2 / 3 * p_dc
    r = (3 * l_dc - b + q_dc) / 2
    return r, r - q_dc, b


@pytest.mark.parametrize("rel", MEDIA)
def test_thumbnails(rel: str, corpus: Path, et: ExifTool, tmp_path: Path, need_ffmpeg: None) -> None:
    path = corpus / rel
    if rel in UNDECODABLE:
        with pytest.raises(MediaError):
            _run(path, tmp_path, et)
        assert os.listdir(tmp_path) == [], "a failed generation must leave no file behind"
        return
    result = _run(path, tmp_path, et)
    assert sorted(os.listdir(tmp_path)) == ["preview.jpeg", "thumb.webp"]
    preview = pyvips.Image.new_from_file(str(tmp_path / "preview.jpeg"))
    thumb = pyvips.Image.new_from_file(str(tmp_path / "thumb.webp"))
    assert preview.get("vips-loader") == "jpegload" and thumb.get("vips-loader") == "webpload"
    source_short = _short(result.width, result.height)
    # sharp fit:'outside' + withoutEnlargement: the shorter side is the target size, never upscaled
    assert _short(preview.width, preview.height) == min(1440, source_short)
    assert _short(thumb.width, thumb.height) == min(250, source_short)
    src_aspect = result.width / result.height
    for img in (preview, thumb):
        assert abs(img.width / img.height - src_aspect) < 0.05 * src_aspect + 2 / min(img.width, img.height)
    assert not preview.get_typeof("orientation") or preview.get("orientation") == 1
    # thumbhash: present, aspect flag right, average colour near the thumbnail's
    assert 5 <= len(result.thumbhash) <= 25
    assert bool(result.thumbhash[4] & 0x80) == (thumb.width > thumb.height)
    flat = thumb.flatten(background=[255] * (thumb.bands - 1)) if thumb.hasalpha() else thumb
    avg = [flat.extract_band(min(b, flat.bands - 1)).avg() / 255 for b in range(3)]
    assert all(abs(a - b) < 0.2 for a, b in zip(_average_from_hash(result.thumbhash), avg)), (avg, result)


def test_orientation_folder_is_upright(corpus: Path, et: ExifTool, tmp_path: Path) -> None:
    # the same 600x450 photo stored with EXIF orientation 1..8: after autorotate all must look alike
    reference: pyvips.Image | None = None
    for n in range(1, 9):
        out = tmp_path / str(n)
        result = _run(corpus / f"orientation/landscape_{n}.jpg", out, et)
        assert (result.width, result.height) == (600, 450)
        thumb = pyvips.Image.new_from_file(str(out / "thumb.webp"))
        assert (thumb.width, thumb.height) == (333, 250)
        if reference is None:
            reference = thumb
            continue
        # a wrong flip or rotation moves the waterfall and the corner labels: mean diff well above 30
        assert (thumb - reference).abs().avg() < 12, f"orientation {n} differs from orientation 1"


def test_heic_uses_irot_and_real_size(corpus: Path, et: ExifTool, tmp_path: Path) -> None:
    start = time.perf_counter()
    result = _run(corpus / "heic/iphone_15_pro.heic", tmp_path, et)
    elapsed = time.perf_counter() - start
    assert (result.width, result.height) == (3024, 4032)  # stored 4032x3024 with irot 90
    assert (result.preview_width, result.preview_height) == (1440, 1920)
    assert elapsed < 5  # ~0.25 s on the 2-core dev box


def test_fullsize_and_colorspace(corpus: Path, et: ExifTool, tmp_path: Path) -> None:
    result = _run(corpus / "livephoto/train.jpg", tmp_path, et, fullsize_path=tmp_path / "full.jpeg",
                  colorspace="srgb")
    full = pyvips.Image.new_from_file(str(tmp_path / "full.jpeg"))
    assert (full.width, full.height) == (result.width, result.height) == (4032, 3024)
    icc = pyvips.Image.new_from_file(str(tmp_path / "preview.jpeg")).get("icc-profile-data")
    assert b"s\x00R\x00G\x00B" in icc  # "sRGB" in the profile description (UTF-16)
    _run(corpus / "heic/IMG_2682.heic", tmp_path / "p3", et, colorspace="p3")
    icc = pyvips.Image.new_from_file(str(tmp_path / "p3" / "preview.jpeg")).get("icc-profile-data")
    assert b"P\x003" in icc  # Display P3


def test_raw_uses_embedded_preview(corpus: Path, et: ExifTool, tmp_path: Path) -> None:
    result = _run(corpus / "raw/Canon-R6-pruned.CR3", tmp_path, et)
    assert (result.width, result.height) == (1620, 1080)  # the CR3's PreviewImage
    with pytest.raises(MediaError):  # without exiftool a CR3 cannot be read at all
        thumbnail.generate(corpus / "raw/Canon-R6-pruned.CR3", thumb_path=tmp_path / "x" / "t.webp",
                           preview_path=tmp_path / "x" / "p.jpeg")
    assert not (tmp_path / "x").exists() or os.listdir(tmp_path / "x") == []


def _png_header(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
            + chunk(b"IEND", b""))


def test_decompression_bomb_is_refused_before_decoding(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png_header(60000, 60000))  # 3.6 gigapixels, 10.8 GB of RGB, in ~100 bytes
    out = tmp_path / "out"
    start = time.perf_counter()
    with pytest.raises(MediaError, match="pixel limit"):
        thumbnail.generate(bomb, thumb_path=out / "t.webp", preview_path=out / "p.jpeg")
    assert time.perf_counter() - start < 2
    assert not out.exists() or os.listdir(out) == []
    small = tmp_path / "small.png"
    small.write_bytes(_png_header(2000, 2000))
    with pytest.raises(MediaError, match="pixel limit"):
        thumbnail.generate(small, thumb_path=out / "t.webp", preview_path=out / "p.jpeg", max_pixels=1_000_000)


def test_outputs_replace_atomically(corpus: Path, et: ExifTool, tmp_path: Path) -> None:
    (tmp_path / "thumb.webp").write_bytes(b"old")
    _run(corpus / "png/png.png", tmp_path, et)
    assert (tmp_path / "thumb.webp").read_bytes()[:4] == b"RIFF"
    assert sorted(os.listdir(tmp_path)) == ["preview.jpeg", "thumb.webp"]  # no temp files left


# Reference hashes computed with the npm package `thumbhash` (evanw's reference implementation, the one
# Immich uses) from the same synthetic RGBA images.
THUMBHASH_VECTORS = {
    "gradient": (32, 24, lambda x, y: (x * 8, y * 10, (x * y) % 256, 255),
                 "db180e1d9a6076877088888688678887f3a40ff788"),
    "alpha": (20, 30, lambda x, y: (200, x * 12, y * 8, min(255, (x + y) * 6)),
              "e78886330c2890b1a87888837ff5768673777078877777"),
    "tiny": (1, 1, lambda x, y: (10, 20, 30, 255), "85e709270408f708888788708f7088f80888707ff8f7870f"),
    "pattern": (100, 75, lambda x, y: ((x * 3 + y * 7) % 256, (x * x + y) % 256, (255 - x * 2 + 256) % 256, 255),
                "2107065d826f676786667777877758577087f7be7d"),
    "portrait": (40, 100, lambda x, y: ((y * 2) % 256, (x * 6) % 256, 128, 255), "5cd7093318707178888787878071f81888"),
}


@pytest.mark.parametrize("name", sorted(THUMBHASH_VECTORS))
@pytest.mark.parametrize("accelerated", [True, False])
def test_thumbhash_matches_reference(name: str, accelerated: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if not accelerated:
        monkeypatch.setattr(thumbnail, "_np", None)
    elif thumbnail._np is None:
        pytest.skip("numpy not installed")
    w, h, pixel, expected = THUMBHASH_VECTORS[name]
    rgba = bytes(v for y in range(h) for x in range(w) for v in pixel(x, y))
    assert rgba_to_thumbhash(w, h, rgba).hex() == expected


def test_thumbhash_rejects_large_input() -> None:
    with pytest.raises(ValueError):
        rgba_to_thumbhash(101, 10, bytes(101 * 10 * 4))
    assert math.isclose(sum(_average_from_hash(rgba_to_thumbhash(1, 1, bytes([255, 255, 255, 255])))), 3, abs_tol=0.1)
