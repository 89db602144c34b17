"""One persistent exiftool process (``-stay_open``) shared by every job thread.

Upstream reads tags through exiftool-vendored (metadata.repository.ts). We ask exiftool for the same
shape of output: group-less tag names, print-converted values (ExposureTime "1/2242", Make strings)
except for the tags exiftool-vendored requests as numbers (``numericTags``: GPS, Orientation,
Duration, FocalLength, FileSize, Rotation), MWG composite tags, and structs.  The interpretation of
that output (dates, zones, GPS validity) lives in metadata.py.
"""
from __future__ import annotations

import json
import logging
import math
import os
import re
import shutil
import tempfile
import threading
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any, Iterable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import exiftool
from exiftool.exceptions import ExifToolException

from immich_lite.media import MediaError
from immich_lite.storage import fsync_dir

log = logging.getLogger(__name__)

# Immich: metadata.repository.ts `numericTags: [...DefaultReadTaskOptions.numericTags, 'FocalLength',
# 'FileSize', 'Rotation']`; the defaults are exiftool-vendored DefaultExifToolOptions.numericTags.
# "-TAG#" must come before "-all": the first reference to a tag wins.
NUMERIC_TAGS = (
    "*Duration*", "GPSAltitude", "GPSLatitude", "GPSLongitude", "GPSPosition", "GeolocationPosition",
    "Orientation", "FocalLength", "FileSize", "Rotation",
)

# exiftool-vendored ReadTask.for(): utf8 file names, struct=1 (RegionInfo, ContainerDirectory come back
# as objects), "-use MWG" (composite DateTimeOriginal/Description/Rating/Keywords across EXIF/IPTC/XMP).
# Immich adds largefilesupport and drops two ICC tags whose names collide with Make/Model.
BASE_ARGS = (
    "-charset", "filename=utf8",
    "-api", "struct=1",
    "-use", "MWG",
    "-api", "largefilesupport=1",
    "--ICC_Profile:DeviceManufacturer", "--ICC_Profile:DeviceModelName",
)

# Tags that hold embedded media, largest-first preference for RAW previews (JpgFromRaw is the full-size
# JPEG in NEF/CR2/DNG; PreviewImage is usually ~1-2 MP; OtherImage is Panasonic/Olympus' variant).
PREVIEW_TAGS = ("JpgFromRaw", "PreviewImage", "OtherImage", "ThumbnailImage")


class ExifTool:
    """Thread-safe facade over one ``exiftool -stay_open`` process, started on first use.

    PyExifTool starts exiftool with PR_SET_PDEATHSIG, which the kernel fires when the *thread* that
    forked it exits, not the process.  Job handlers run on pool threads that come and go, so the
    process is spawned from a dedicated owner thread that lives until close().  A process that died
    anyway (killed, crashed) is noticed before the next command and restarted.
    """

    def __init__(self, executable: str | None = None) -> None:
        self._executable = executable or shutil.which("exiftool") or "exiftool"
        self._lock = threading.Lock()
        self._et: exiftool.ExifTool | None = None
        self._stop: threading.Event | None = None

    # -- process lifecycle -------------------------------------------------------------------
    def _process(self) -> exiftool.ExifTool:
        if self._et is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "ExifTool process was previously running but died"
                alive = self._et.running
            if alive:
                return self._et
            self._kill_locked()
        et = exiftool.ExifTool(executable=self._executable, common_args=[], encoding="utf-8")
        started, stop = threading.Event(), threading.Event()
        failure: list[BaseException] = []

        def owner() -> None:
            try:
                et.run()
            except BaseException as exc:  # reported to the caller below
                failure.append(exc)
            finally:
                started.set()
            stop.wait()

        threading.Thread(target=owner, name="exiftool-owner", daemon=True).start()
        if not started.wait(60) or failure or not et.running:
            stop.set()
            raise MediaError(f"cannot start exiftool ({self._executable}): {failure[0] if failure else 'timeout'}")
        self._et, self._stop = et, stop
        return et

    def close(self) -> None:
        with self._lock:
            self._kill_locked()

    def _kill_locked(self) -> None:
        if self._et is not None:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    if self._et.running:
                        self._et.terminate()
            except Exception:  # already dead: nothing to stop
                log.debug("exiftool terminate failed", exc_info=True)
        if self._stop is not None:
            self._stop.set()  # lets the owner thread end
        self._et = self._stop = None

    def __enter__(self) -> ExifTool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def version(self) -> str:
        with self._lock:
            return str(self._process().version)

    def _execute(self, *args: str, raw: bool = False) -> str | bytes:
        with self._lock:
            et = self._process()
            try:
                return et.execute(*args, raw_bytes=raw)
            except (ExifToolException, OSError, UnicodeDecodeError, ValueError) as exc:
                # a broken pipe or a decode failure leaves the stream in an unknown state: restart
                self._kill_locked()
                raise MediaError(f"exiftool failed: {exc}") from exc

    # -- reading -----------------------------------------------------------------------------
    def read(self, path: str | os.PathLike[str], extra_args: Iterable[str] = ()) -> dict[str, Any]:
        """All tags of one file, group-less, as exiftool-vendored would hand them to Immich.

        ``extra_args`` e.g. ``("-ee",)`` for videos (Immich: readTags passes readArgs ['-ee'] for
        videos so GoPro/DJI GPS in timed metadata is found).  An unreadable file gives only the
        File:* tags plus "Error"; like upstream, extraction then goes on with what there is.
        """
        args = [*BASE_ARGS, *extra_args]
        args += [f"-{tag}#" for tag in NUMERIC_TAGS]
        args += ["-all", "-j", os.fspath(path)]
        out = self._execute(*args)
        assert isinstance(out, str)
        if not out.strip():
            return {}
        try:
            data = json.loads(out)
        except json.JSONDecodeError as exc:
            raise MediaError(f"exiftool returned invalid JSON for {path}") from exc
        if not data:
            return {}
        tags: dict[str, Any] = data[0]
        tags.pop("SourceFile", None)
        if "Rotation" in tags and str(tags.get("FileType", "")).upper() in ("HEIC", "HEIF", "AVIF"):
            # HEIF items each have an irot; without -a exiftool 12.x prints the last one, which can be
            # a gain map's.  exiftool 13 reports the primary image's, which is listed first.
            first = self._execute("-charset", "filename=utf8", "-a", "-n", "-s3", "-QuickTime:Rotation",
                                  os.fspath(path))
            values = str(first).split()
            if values and values[0].lstrip("-").isdigit():
                tags["Rotation"] = int(values[0])
        return tags

    # -- binary extraction -------------------------------------------------------------------
    def extract_binary(self, path: str | os.PathLike[str], tag: str,
                       dest: str | os.PathLike[str] | None = None) -> bytes | Path | None:
        """Extract an embedded binary tag (-b).

        With ``dest``: exiftool writes the bytes itself (``-W``), the file appears atomically at
        ``dest`` and its Path is returned, so multi-MB motion-photo videos never pass through Python.
        Without ``dest``: the bytes are returned (fine for previews of a few MB).
        Returns None when the tag is absent or empty.
        """
        src = os.fspath(path)
        if dest is None:
            out = self._execute("-charset", "filename=utf8", "-b", f"-{tag}", src, raw=True)
            assert isinstance(out, bytes)
            return out or None
        dest_path = Path(dest)
        dest_path.parent.mkdir(parents=True, exist_ok=True)
        tmp_dir = tempfile.mkdtemp(prefix=".exiftool-", dir=dest_path.parent)
        try:
            # -W writes each extracted tag to a file named by the format string; "%%" escapes the
            # format character in directory names.  -W! overwrites, which never happens in a fresh dir.
            fmt = os.path.join(tmp_dir.replace("%", "%%"), "out.bin")
            self._execute("-charset", "filename=utf8", "-b", "-W!", fmt, f"-{tag}", src)
            produced = Path(tmp_dir) / "out.bin"
            if not produced.exists() or produced.stat().st_size == 0:
                return None
            with open(produced, "rb+") as fh:
                os.fsync(fh.fileno())
            os.replace(produced, dest_path)
            return dest_path
        finally:
            shutil.rmtree(tmp_dir, ignore_errors=True)

    # -- writing -----------------------------------------------------------------------------
    def write_sidecar(self, dest: str | os.PathLike[str], tags: dict[str, Any]) -> None:
        """Write ``tags`` into the XMP sidecar ``dest`` (created if absent, other tags kept), crash-safely.

        Upstream: metadata.repository writeTags (exiftool-vendored ``write``).  exiftool writes a new
        copy (``-o``) next to ``dest``; it is fsynced and renamed over ``dest``, so a crash leaves the old
        sidecar or the new one, never half a file.  None or [] deletes a tag, "" writes it empty (so it
        hides the original's own value when read back); a list replaces the tag's list (``TagsList``).
        """
        target = Path(dest)
        tmp = target.with_name(f".{target.name}.{os.getpid()}-{threading.get_ident()}.tmp.xmp")
        # -ec: C escapes in values, so a description's newlines cannot break -stay_open's one-argument-per-line
        args = ["-charset", "filename=utf8", "-m", "-ec"]
        for tag, value in tags.items():
            values = value if isinstance(value, list) else [value]
            if values == [""]:
                args.append(f"-{tag}^=")  # an empty value, not a deletion: it must hide the file's own
            elif not values or values == [None]:
                args.append(f"-{tag}=")
            for v in values:
                if v is not None and v != "":
                    text = str(v).replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
                    args.append(f"-{tag}={text}")
        args += ["-o", os.fspath(tmp)]
        if target.exists():
            args.append(os.fspath(target))
        tmp.unlink(missing_ok=True)
        try:
            out = str(self._execute(*args))
            if not tmp.exists():
                raise MediaError(f"exiftool wrote no sidecar for {target}: {out.strip() or 'no output'}")
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        fsync_dir(target.parent)

    def extract_preview(self, path: str | os.PathLike[str], dest: str | os.PathLike[str],
                        tags: Iterable[str] = PREVIEW_TAGS) -> Path | None:
        """Write the largest embedded JPEG preview of a RAW file to ``dest`` (None if there is none)."""
        found = self.read(path, ("-fast",))
        best: tuple[int, str] | None = None
        for tag in tags:
            size = _binary_size(found.get(tag))
            if size and (best is None or size > best[0]):
                best = (size, tag)
        if best is None:
            return None
        result = self.extract_binary(path, best[1], dest)
        return result if isinstance(result, Path) else None


def _binary_size(value: Any) -> int:
    """exiftool prints binary tags as "(Binary data 12345 bytes, use -b option to extract)"."""
    if isinstance(value, str) and value.startswith("(Binary data "):
        try:
            return int(value.split()[2])
        except (IndexError, ValueError):
            return 0
    return 0


# =============================================================================================
# exiftool-vendored's interpretation of the raw tags (ReadTask.ts, Timezones.ts, GPS.ts),
# reduced to what Immich's metadata.service.ts reads.
# =============================================================================================

# Timezones.ts ValidTimezoneOffsets (minutes): offsets that exist today; anything else is a typo.
_VALID_OFFSETS = frozenset(
    sign * (h * 60 + m)
    for sign, hm in ((-1, "11:00 10:00 9:30 9:00 8:30 8:00 7:00 6:00 5:00 4:00 3:30 3:00 2:30 2:00 1:00 0:00"),
                     (1, "0:00 1:00 2:00 3:00 3:30 4:00 4:30 5:00 5:30 5:45 6:00 6:30 7:00 8:00 8:30 8:45 "
                         "9:00 9:30 9:45 10:00 10:30 11:00 12:00 12:45 13:00 13:45 14:00"))
    for h, m in (map(int, x.split(":")) for x in hm.split())
)
# Timezones.ts TzAbbreviationOffsetMinutes, the subset cameras actually write (e.g. Sony "+02:00 DST").
_TZ_ABBREVIATIONS = {"UTC": 0, "GMT": 0, "Z": 0, "EST": -300, "EDT": -240, "CST": -360, "CDT": -300,
                     "MST": -420, "MDT": -360, "PST": -480, "PDT": -420, "CET": 60, "CEST": 120,
                     "EET": 120, "EEST": 180, "WET": 0, "WEST": 60, "JST": 540, "KST": 540, "AEST": 600}
_ZONE_SUFFIX = re.compile(r"(?:(?P<z>Z)|(?:UTC|GMT)?(?P<sign>[+\-\u2212])(?P<h>\d\d?)(?::?(?P<m>\d\d))?)$")
_IANA = re.compile(r"^[A-Za-z_]{2,15}(?:/[A-Za-z_\-]{2,20}){1,2}$")
_EXIF_DT = re.compile(r"^(\d{4})[:\-](\d{1,2})[:\-](\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?)$")
# CapturedAtTagNames.ts: tags whose own zone may tell the file's zone.
CAPTURED_AT_TAGS = ("SubSecDateTimeOriginal", "SubSecCreateDate", "DateTimeOriginal", "CreateDate",
                    "MediaCreateDate", "CreationDate", "DateTimeCreated", "TimeCreated")
_DATE_TAG = re.compile(r"when|date|time|subsec|creat|modif", re.I)


def offset_zone_name(minutes: int) -> str | None:
    """luxon FixedOffsetZone names, as Immich stores them: "UTC", "UTC+9", "UTC-6", "UTC+5:30"."""
    if minutes not in _VALID_OFFSETS:
        return None
    if minutes == 0:
        return "UTC"
    sign = "-" if minutes < 0 else "+"
    h, m = divmod(abs(minutes), 60)
    return f"UTC{sign}{h}" + (f":{m:02d}" if m else "")


def zone_info(name: str) -> tzinfo | None:
    """tzinfo for a zone name produced here ("UTC", "UTC+5:30", "UTC+0" or an IANA name)."""
    if name in ("UTC", "UTC+0", "Z"):
        return timezone.utc
    match = re.fullmatch(r"UTC([+\-])(\d{1,2})(?::(\d\d))?", name)
    if match:
        minutes = int(match[2]) * 60 + int(match[3] or 0)
        return timezone(timedelta(minutes=-minutes if match[1] == "-" else minutes))
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def extract_zone(value: Any) -> tuple[str | None, str]:
    """(zone name or None, leftover text) from a tag value: hours, "+08:00", "Z", IANA or a date suffix."""
    if isinstance(value, bool) or value is None:
        return None, ""
    if isinstance(value, list):
        return extract_zone(next((v for v in value if v is not None), None))
    if isinstance(value, (int, float)):  # TimeZoneOffset: hours
        return offset_zone_name(int(round(value * 60))), ""
    text = str(value).strip()
    if not text:
        return None, ""
    if text.upper() in ("Z", "UTC", "GMT", "ETC/UTC", "UTC+0", "GMT+0", "+00:00", "-00:00"):
        return "UTC", ""
    if _IANA.match(text) and zone_info(text) is not None:
        return text, ""
    abbreviation = None
    tza = re.search(r"\s([A-Za-z]{2,5})$", text)
    if tza and not re.search(r"[.\d\s](?:UTC|Z)$", text):
        abbreviation, text = tza[1].upper(), text[: tza.start()]
    match = _ZONE_SUFFIX.search(text)
    if match:
        leftover = text[: match.start()].strip()
        if match["z"]:
            return "UTC", leftover
        minutes = int(match["h"]) * 60 + int(match["m"] or 0)
        zone = offset_zone_name(-minutes if match["sign"] in "-\u2212" else minutes)
        if zone is not None:
            return zone, leftover
    if abbreviation in _TZ_ABBREVIATIONS:
        return offset_zone_name(_TZ_ABBREVIATIONS[abbreviation]), text.strip()
    return None, text


@dataclass(frozen=True)
class ExifDateTime:
    """A wall-clock time with the zone it was written in (explicit) or given (inferred)."""

    local: datetime  # naive wall clock
    zone: str | None
    raw: str
    inferred: bool = False

    @classmethod
    def parse(cls, raw: Any, default_zone: str | None = None) -> ExifDateTime | None:
        if not isinstance(raw, str) or not raw.strip():
            return None
        zone, text = extract_zone(raw)
        match = _EXIF_DT.match(text or raw.strip())
        if not match or match[4] is None:
            return None  # date-only values are ExifDate upstream, never a capture time
        year, month, day, hour, minute = (int(match[i]) for i in range(1, 6))
        second = int(match[6] or 0)
        micro = int(match[7][:6].ljust(6, "0")) // 1000 * 1000 if match[7] else 0  # luxon keeps ms
        if year in (0, 1):
            return None
        try:
            local = datetime(year, month, day, hour, minute, second, micro)
        except ValueError:
            return None
        if zone is not None:
            return cls(local, zone, raw, inferred=False)
        return cls(local, default_zone, raw, inferred=default_zone is not None)

    def instant(self) -> datetime:
        """Aware UTC instant; a zoneless value counts as UTC wall time (Immich: setZone('UTC', keepLocalTime))."""
        tz = zone_info(self.zone) if self.zone else None
        return self.local.replace(tzinfo=tz or timezone.utc).astimezone(timezone.utc)

    def with_zone(self, zone: str) -> ExifDateTime:
        """Same instant shown in another zone (luxon setZone without keepLocalTime)."""
        tz = zone_info(zone) or timezone.utc
        local = self.instant().astimezone(tz).replace(tzinfo=None)
        return ExifDateTime(local, zone, self.raw, inferred=True)


def parse_gps(tags: dict[str, Any]) -> tuple[float, float] | None | bool:
    """GPS.ts parseGPSLocation: (lat, lon), None when absent, False when present but invalid."""
    def number(value: Any) -> float | None:
        if isinstance(value, bool):
            return None
        if isinstance(value, (int, float)):
            return float(value)
        try:
            return float(str(value).strip()) if str(value).strip() else None
        except ValueError:
            return None

    lat, lon = number(tags.get("GPSLatitude")), number(tags.get("GPSLongitude"))
    if (lat is None or lon is None) and isinstance(tags.get("GPSPosition"), str):
        parts = tags["GPSPosition"].replace(",", " ").split()
        if len(parts) == 2:
            lat, lon = lat if lat is not None else number(parts[0]), lon if lon is not None else number(parts[1])
    if lat is None or lon is None:
        return None
    if lat == 0 and lon == 0:  # ignoreZeroZeroLatLon
        return False
    out = []
    for value, ref, neg, pos, limit in ((lat, tags.get("GPSLatitudeRef"), "S", "N", 90),
                                        (lon, tags.get("GPSLongitudeRef"), "W", "E", 180)):
        if abs(value) > limit:
            return False
        if str(ref or "").strip()[:1].upper() == neg:
            value = -abs(value)
        out.append(math.floor(value * 1e6 + 0.5) / 1e6)  # roundGpsDecimal (JS Math.round)
    return out[0], out[1]


def find_zone(tags: dict[str, Any], *, is_video: bool, gps: tuple[float, float] | None) -> tuple[str | None, str]:
    """ReadTask.#extractTzOffset: (zone, source) from offset tags, GPS, datestamps, video default, UTC deltas."""
    for name in ("TimeZone", "OffsetTimeOriginal", "OffsetTimeDigitized", "TimeZoneOffset"):
        zone, _ = extract_zone(tags.get(name))
        if zone is None:
            continue
        # DefaultExifToolOptions.defaultAdjustTimeZoneIfDaylightSavings: Nikon writes standard time.
        if str(tags.get("DaylightSavings", "")).lower() in ("yes", "true", "1") and \
                re.search(r"\bnikon\b", str(tags.get("Make", "")), re.I):
            tz = zone_info(zone)
            offset = tz.utcoffset(None) if isinstance(tz, timezone) else None
            if offset is not None:
                zone = offset_zone_name(int(offset.total_seconds() // 60) + 60) or zone
        return zone, name
    if gps:
        geo = tags.get("GeolocationTimeZone")
        if isinstance(geo, str) and zone_info(geo):
            return geo, "GeolocationTimeZone"
        zone = _tz_from_gps(*gps)
        if zone:
            return zone, "GPSLatitude/GPSLongitude"
    for name in CAPTURED_AT_TAGS:  # inferTimezoneFromDatestamps (Immich sets it true)
        zone, _ = extract_zone(tags.get(name)) if isinstance(tags.get(name), str) else (None, "")
        if zone is not None and zone != "UTC":
            return zone, name
    if is_video:
        return "UTC", "defaultVideosToUTC"
    return _zone_from_utc_delta(tags)


def _zone_from_utc_delta(tags: dict[str, Any]) -> tuple[str | None, str]:
    """Timezones.ts extractTzOffsetFromUTCOffset: compare a UTC stamp with the zoneless capture time."""
    stamps = {k: tags.get(k) for k in ("GPSDateTime", "DateTimeUTC", "SonyDateTime2")}
    if tags.get("GPSDateStamp") and tags.get("GPSTimeStamp"):
        stamps["GPSDateTimeStamp"] = f"{tags['GPSDateStamp']} {tags['GPSTimeStamp']}"
    utc = next((d for k in ("GPSDateTime", "DateTimeUTC", "GPSDateTimeStamp", "SonyDateTime2")
                if (d := ExifDateTime.parse(stamps.get(k))) and d.zone in (None, "UTC")), None)
    if utc is None:
        return None, ""
    local = next((d for k in CAPTURED_AT_TAGS if (d := ExifDateTime.parse(tags.get(k))) and d.zone is None), None)
    if local is None:
        return None, ""
    delta = (local.local - utc.local).total_seconds() / 60
    best = min(_VALID_OFFSETS, key=lambda m: abs(m - delta))
    if abs(best - delta) > 30:  # Settings.maxValidOffsetMinutes
        return None, ""
    return offset_zone_name(best), "UTC delta"


_geo_lock = threading.Lock()


def _tz_from_gps(lat: float, lon: float) -> str | None:
    """IANA zone at a coordinate (upstream: exiftool GeolocationTimeZone, else geo-tz)."""
    try:
        import tzfpy  # local import: the polygon data loads on first use
    except ImportError:  # optional dependency: without it GPS simply gives no zone
        return None
    with _geo_lock:
        name = tzfpy.get_tz(lon, lat)
    return name if name and zone_info(name) else None


def interpret(raw: dict[str, Any], *, is_video: bool) -> dict[str, Any]:
    """Tags as exiftool-vendored returns them: dates parsed, zone/zoneSource set, bad GPS removed."""
    tags = dict(raw)
    gps = parse_gps(tags)
    for key in ("GPSLatitude", "GPSLongitude"):
        tags.pop(key, None)
    if gps:
        tags["GPSLatitude"], tags["GPSLongitude"] = gps
    zone, source = find_zone(raw, is_video=is_video, gps=gps or None)
    if zone:
        tags["zone"], tags["zoneSource"] = zone, source
    for key, value in raw.items():
        if not isinstance(value, str) or not _DATE_TAG.search(key) or key.startswith("File"):
            continue
        utc_tag = "UTC" in key or key.startswith("GPS")
        parsed = ExifDateTime.parse(value, "UTC" if (utc_tag or is_video) else zone)
        if parsed is None:
            continue
        # defaultVideosToUTC: a zoneless video stamp is UTC, then shown in the file's zone.
        if is_video and zone and not utc_tag and parsed.inferred:
            parsed = parsed.with_zone(zone)
        tags[key] = parsed
    return tags
