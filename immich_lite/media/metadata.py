"""Metadata extraction, as upstream metadata.service.ts handleMetadataExtraction (no database here).

``extract()`` reads the file (and its XMP sidecar) with exiftool, probes videos and GIFs with
ffprobe, and returns a ``Metadata`` whose fields map 1:1 to the ``asset`` / ``asset_exif`` columns the
job handler writes.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from immich_lite.media import MediaError, geocode, mime
from immich_lite.media.exif import ExifDateTime, ExifTool, interpret

# Immich: metadata.service.ts EXIF_DATE_TAGS -- the first one holding a date-time wins.
EXIF_DATE_TAGS = (
    "SubSecDateTimeOriginal", "SubSecCreateDate", "DateTimeOriginal", "CreationDate", "CreateDate",
    "MediaCreateDate", "DateTimeCreated", "GPSDateTime", "DateTimeUTC", "SonyDateTime2",
    "SourceImageCreateTime",  # insta360, xmp-GPano
)
_INT_MIN, _INT_MAX = -2_147_483_648, 2_147_483_647  # Immich: validate() rejects what Postgres int cannot hold


@dataclass(frozen=True)
class MotionVideo:
    """Where a motion photo keeps its video: an exiftool binary tag, or a byte range at the end."""

    tag: str | None = None
    offset: int | None = None
    length: int | None = None


@dataclass
class Metadata:
    file_created_at: datetime  # = date_time_original (or the fallback), aware UTC
    local_date_time: datetime  # wall clock of the capture, labelled UTC ("local time stored as UTC")
    file_modified_at: datetime
    date_time_original: datetime
    modify_date: datetime
    time_zone: str | None = None
    width: int | None = None  # display size (orientation applied)
    height: int | None = None
    exif_image_width: int | None = None
    exif_image_height: int | None = None
    orientation: str | None = None
    make: str | None = None
    model: str | None = None
    lens_model: str | None = None
    f_number: float | None = None
    focal_length: float | None = None
    iso: int | None = None
    exposure_time: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    city: str | None = None
    state: str | None = None
    country: str | None = None
    description: str = ""
    rating: int | None = None
    tags: list[str] = field(default_factory=list)
    projection_type: str | None = None
    live_photo_cid: str | None = None
    auto_stack_id: str | None = None
    is_motion_photo: bool = False
    motion_video: MotionVideo | None = None
    duration_ms: int | None = None
    fps: float | None = None
    profile_description: str | None = None
    bits_per_sample: int | None = None
    colorspace: str | None = None
    file_size: int = 0
    region_info: Any = None  # MWG RegionInfo struct (face regions with names), for metadata.faces.import


def _number(value: Any) -> float | int | None:
    """Immich: validate() -- first of a list; strings are parse failures; NaN/inf/out of int range -> None."""
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if value != value or value in (float("inf"), float("-inf")) or not _INT_MIN <= value <= _INT_MAX:
        return None
    return value


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value)
    return text if text else None


def _lens_model(tags: dict[str, Any]) -> str | None:
    """Immich: getLensModel -- LensID, LensType, LensSpec, LensModel; skip n/a, ----, Unknown..."""
    # "CameraLensModel" is what exiftool 12.x calls Apple's QuickTime lens_model key (13.x: LensModel)
    for key in ("LensID", "LensType", "LensSpec", "LensModel", "CameraLensModel"):
        lens = str(tags.get(key) if tags.get(key) is not None else "").strip()
        if lens and lens.lower() != "n/a" and lens != "----" and not lens.startswith("Unknown"):
            return lens
    return None


def _tag_list(tags: dict[str, Any]) -> list[str]:
    """Immich: getTagList -- TagsList, else HierarchicalSubject ("a|b" -> "a/b"), else Keywords."""
    def as_list(value: Any) -> list[Any]:
        return value if isinstance(value, list) else [value]

    if tags.get("TagsList") is not None:
        return [str(t) for t in as_list(tags["TagsList"])]
    if tags.get("HierarchicalSubject") is not None:
        return [str(t) if isinstance(t, (int, float)) else
                "/".join(part.replace("/", "|") for part in str(t).split("|"))
                for t in as_list(tags["HierarchicalSubject"])]
    if tags.get("Keywords") is not None:
        return [str(t) for t in as_list(tags["Keywords"])]
    return []


def _bits_per_sample(tags: dict[str, Any]) -> int | None:
    """Immich: getBitsPerSample -- first numeric bit-depth tag; 24/48 per pixel -> per channel."""
    for key in ("BitsPerSample", "ComponentBitDepth", "ImagePixelDepth", "BitDepth", "ColorBitDepth"):
        value = tags.get(key)
        if isinstance(value, str):
            head = value.strip().split(" ")[0]
            value = int(head) if head.isdigit() else None
        value = _number(value)
        if value is not None:
            value = int(value)
            return value // 3 if value >= 24 and value % 3 == 0 else value
    return None


def _heif_orientation(tags: dict[str, Any]) -> int | None:
    """Immich: getHeifOrientation -- HEIF irot (QuickTime:Rotation), not the often-stale EXIF tag.

    exiftool 13 prints irot as 0-3 (quarter turns counter-clockwise); 12.x prints degrees.
    """
    rotation = tags.get("Rotation")
    if isinstance(rotation, bool) or not isinstance(rotation, (int, float)):
        return None
    return {0: 1, 1: 8, 2: 3, 3: 6, 90: 8, 180: 3, 270: 6}.get(int(rotation))


def _motion_video(tags: dict[str, Any], file_size: int) -> MotionVideo | None:
    """Immich: applyMotionPhotos -- where the embedded video is (None: not a motion photo)."""
    if not (tags.get("MotionPhoto") or tags.get("MicroVideo")):
        return None
    if tags.get("MotionPhotoVideo"):  # Samsung HEIC
        return MotionVideo(tag="MotionPhotoVideo")
    if tags.get("EmbeddedVideoType") == "MotionPhoto_Data" and tags.get("EmbeddedVideoFile"):  # Samsung JPEG
        return MotionVideo(tag="EmbeddedVideoFile")
    length = padding = 0
    directory = tags.get("ContainerDirectory")
    if tags.get("MotionPhoto") and isinstance(directory, list):
        for entry in directory:
            item = (entry or {}).get("Item") or {}
            if item.get("Semantic") == "MotionPhoto":
                length, padding = int(item.get("Length") or 0), int(item.get("Padding") or 0)
                break
    if tags.get("MicroVideo") and isinstance(tags.get("MicroVideoOffset"), int):
        length = tags["MicroVideoOffset"]
    if not length or length + padding > file_size:
        return None
    return MotionVideo(offset=file_size - length - padding, length=length)


def _first_date(tags: dict[str, Any]) -> ExifDateTime | None:
    """Immich: firstDateTime."""
    for tag in EXIF_DATE_TAGS:
        value = tags.get(tag)
        if isinstance(value, ExifDateTime):
            return value
        if isinstance(value, str) and (parsed := ExifDateTime.parse(value)):
            return parsed
    return None


def _read_tags(et: ExifTool, path: str, sidecar_path: str | None, is_video: bool) -> dict[str, Any]:
    """Immich: getExifTags -- merge file tags, ffprobe tags and the sidecar (sidecar wins)."""
    media = interpret(et.read(path, ("-ee",) if is_video else ()), is_video=is_video)
    sidecar = interpret(et.read(sidecar_path), is_video=False) if sidecar_path else None
    if sidecar is not None and _first_date(sidecar) is not None:
        # the sidecar's date (and the zone that came with it) replaces the file's
        for tag in (*EXIF_DATE_TAGS, "zone", "zoneSource"):
            media.pop(tag, None)
    # Duration: only from ffprobe, or exiftool for images that can be animated (a CR3 says "1 s").
    if is_video or path.lower().endswith(".gif") or not mime.is_possibly_animated(path):
        media.pop("Duration", None)
    if sidecar is not None:
        sidecar.pop("Duration", None)
    kind = mime.sniff(path)  # by content, as the thumbnail's decoder: a HEIC named .jpg is rotated by libheif
    if kind in ("heif", "avif") or (kind is None and mime.is_heif(path)):
        orientation = _heif_orientation(media)
        media.pop("Orientation", None)
        if orientation is not None:
            media["Orientation"] = orientation
    merged = {**media, **_probe_tags(path, is_video), **(sidecar or {})}
    return merged


def _probe_tags(path: str, is_video: bool) -> dict[str, Any]:
    """Immich: getVideoTags -- ffprobe size, rotation and duration for videos and GIFs."""
    if not (is_video or path.lower().endswith(".gif")):
        return {}
    from immich_lite.media import video  # local import: ffprobe only matters for these types
    try:
        info = video.probe(path)
    except MediaError:
        if is_video:
            raise  # upstream's job fails when ffprobe cannot read a video; so does ours
        return {}
    tags: dict[str, Any] = {"_probe": info}
    if info.width:
        tags["ImageWidth"] = info.width
    if info.height:
        tags["ImageHeight"] = info.height
    if info.video_codec and info.orientation is not None:
        tags["Orientation"] = info.orientation
    if info.duration_ms is not None:
        tags["Duration"] = info.duration_ms / 1000
    return tags


def _dates(tags: dict[str, Any], fallback: datetime) -> tuple[datetime, datetime, str | None]:
    """Immich: getDates -> (dateTimeOriginal instant, localDateTime, timeZone)."""
    first = _first_date(tags)
    zone = tags.get("zone")
    if zone is None and first is not None and (first.raw.endswith("Z") or first.raw.endswith("+00:00")):
        zone = "UTC+0"  # exiftool-vendored gives no zone for an explicit +00:00 (its issue #203)
    if first is None:
        return fallback, fallback, zone
    shown = first.with_zone(zone) if zone else first.with_zone("UTC")
    local = shown.local.replace(tzinfo=timezone.utc)
    return first.instant(), local, zone


def extract(et: ExifTool, path: str | os.PathLike[str], *, sidecar_path: str | os.PathLike[str] | None = None,
            file_created_at: datetime, file_modified_at: datetime, asset_type: str | None = None,
            reverse_geocoding: bool = True, pixel_size: tuple[int, int] | None = None) -> Metadata:
    """Everything upstream stores for an asset after AssetExtractMetadata.

    ``file_created_at``/``file_modified_at`` are the client's upload values; with no capture date in
    the file the earliest of them and the file's mtime is used (Immich: getDates fallback).
    ``pixel_size``: the display size if the caller already knows it.  Otherwise images use their
    decoded header size (orientation applied) and videos/RAW the metadata size, as upstream.
    """
    path = os.fspath(path)
    try:
        stat = os.stat(path)
    except OSError as exc:
        raise MediaError(f"cannot stat {path}: {exc}") from exc
    kind = asset_type or mime.asset_type(path) or "IMAGE"
    is_video = kind == "VIDEO"
    tags = _read_tags(et, path, os.fspath(sidecar_path) if sidecar_path else None, is_video)

    mtime = datetime.fromtimestamp(stat.st_mtime, timezone.utc)
    fallback = min(_aware(file_created_at), _aware(file_modified_at), mtime)
    date_time_original, local_date_time, time_zone = _dates(tags, fallback)

    width, height = _dimensions(tags)
    orientation = _number(tags.get("Orientation"))
    sideways = orientation in (5, 6, 7, 8)
    if pixel_size is None and kind == "IMAGE" and not mime.is_raw(path):
        # the real decoded size (header only, ~1 ms): EXIF sizes of resized or pruned files lie, and
        # libheif's irot is already applied.  RAW headers describe an embedded thumbnail, so not those.
        from immich_lite.media.thumbnail import image_size  # local import: pyvips loads on first use
        pixel_size = image_size(path)
    if pixel_size is not None:
        display = pixel_size
    else:
        display = (_number(height), _number(width)) if sideways else (_number(width), _number(height))

    meta = Metadata(
        file_created_at=date_time_original,
        local_date_time=local_date_time,
        file_modified_at=mtime,
        date_time_original=date_time_original,
        modify_date=mtime,
        time_zone=time_zone,
        width=int(display[0]) if display[0] else None,
        height=int(display[1]) if display[1] else None,
        exif_image_width=int(width) if _number(width) else None,
        exif_image_height=int(height) if _number(height) else None,
        orientation=str(int(orientation)) if orientation is not None else None,
        make=_text(tags.get("Make") or (tags.get("Device") or {}).get("Manufacturer") or tags.get("AndroidMake")),
        model=_text(tags.get("Model") or (tags.get("Device") or {}).get("ModelName") or tags.get("AndroidModel")),
        lens_model=_lens_model(tags),
        f_number=_number(tags.get("FNumber")),
        focal_length=_number(tags.get("FocalLength")),
        iso=_int(_number(tags.get("ISO"))),
        exposure_time=_text(tags.get("ExposureTime")),
        description=str(tags.get("ImageDescription") or tags.get("Description") or "").strip(),
        rating=_rating(tags.get("Rating")),
        tags=_tag_list(tags),
        projection_type=str(tags["ProjectionType"]).upper() if tags.get("ProjectionType") else None,
        live_photo_cid=_text(tags.get("ContentIdentifier") or tags.get("MediaGroupUUID")),
        auto_stack_id=_text(tags.get("BurstID") or tags.get("BurstUUID") or tags.get("CameraBurstID")
                            or tags.get("MediaUniqueID")),
        duration_ms=_duration_ms(tags.get("Duration")),
        profile_description=_text(tags.get("ProfileDescription")),
        bits_per_sample=_bits_per_sample(tags),
        colorspace=_text(tags.get("ColorSpace")),
        file_size=stat.st_size,
        region_info=tags.get("RegionInfo") if isinstance(tags.get("RegionInfo"), dict) else None
    )
    probe = tags.get("_probe")
    meta.fps = probe.fps if probe is not None and probe.fps else _number(_float(tags.get("VideoFrameRate")))
    lat, lon = tags.get("GPSLatitude"), tags.get("GPSLongitude")
    if isinstance(lat, float) and isinstance(lon, float) and (lat != 0 or lon != 0):
        meta.latitude, meta.longitude = lat, lon
        if reverse_geocoding:
            place = geocode.reverse(lat, lon)
            if place:
                meta.city, meta.state, meta.country = place
    if kind == "IMAGE":
        meta.motion_video = _motion_video(tags, stat.st_size)
        meta.is_motion_photo = meta.motion_video is not None
    return meta


def _dimensions(tags: dict[str, Any]) -> tuple[Any, Any]:
    """Immich: getImageDimensions -- ImageSize ("WxH", right for CR2/RAF) before ImageWidth/Height."""
    size = tags.get("ImageSize")
    if isinstance(size, str):
        parts = size.replace(" ", "x").split("x")
        if len(parts) == 2 and all(p.strip().isdigit() and int(p) for p in parts):
            return int(parts[0]), int(parts[1])
    return tags.get("ImageWidth"), tags.get("ImageHeight")


def _rating(value: Any) -> int | None:
    """Immich: a safe integer other than 0, within -1..5 (-1 = rejected), else null."""
    if isinstance(value, bool) or not isinstance(value, int) or value == 0:
        return None
    return value if -1 <= value <= 5 else None


def _duration_ms(value: Any) -> int | None:
    """Immich: getDuration -- seconds (number or numeric string) -> rounded milliseconds."""
    seconds = _float(value)
    return round(seconds * 1000) if seconds is not None else None


def _float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number and abs(number) != float("inf") else None


def _int(value: float | int | None) -> int | None:
    return int(value) if value is not None else None


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def sidecar_for(path: str | os.PathLike[str]) -> Path | None:
    """Immich: getSidecarCandidates -- IMG_1.jpg.xmp, then IMG_1.xmp."""
    original = Path(path)
    for candidate in (original.with_name(original.name + ".xmp"), original.with_suffix(".xmp")):
        if candidate.is_file():
            return candidate
    return None
