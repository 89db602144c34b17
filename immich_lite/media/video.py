"""ffprobe / ffmpeg adapters: probe, poster frame, transcode policy, motion-photo extraction.

Everything runs as a subprocess with a timeout and streams file to file; no video is ever read
into Python memory.  Outputs go to a temp file beside the target and are renamed into place.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from immich_lite import children
from immich_lite.media import MediaError, atomic_output
from immich_lite.services.system_config_defaults import DEFAULTS

PROBE_TIMEOUT = 60.0
FRAME_TIMEOUT = 120.0
TRANSCODE_TIMEOUT = 6 * 3600.0

# Immich: server/src/config.ts defaults.ffmpeg — one copy, shared with the system config defaults (pure data)
DEFAULT_FFMPEG_CONFIG: dict[str, Any] = DEFAULTS["ffmpeg"]
_HDR_TRANSFERS = frozenset({"smpte2084", "arib-std-b67"})


@dataclass(frozen=True)
class VideoInfo:
    duration_ms: int | None
    width: int | None
    height: int | None
    rotation: int  # degrees as ffprobe reports (-90 = displayed rotated 90 clockwise)
    fps: float | None
    video_codec: str | None
    audio_codec: str | None
    pixel_format: str | None
    format_name: str | None
    format_long_name: str | None
    bitrate: int | None
    is_hdr: bool
    color_transfer: str | None = None
    stream_index: int | None = None  # ffprobe's index of the chosen video stream (for -map 0:<index>)
    audio_index: int | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def container(self) -> str | None:
        """Immich: isRemuxRequired -- ffprobe names MP4 and MOV both "QuickTime / MOV"."""
        if self.format_long_name == "QuickTime / MOV":
            return "mov"
        return self.format_name

    @property
    def orientation(self) -> int | None:
        """Immich: metadata.service.ts getVideoTags maps the stream rotation to an EXIF orientation."""
        return {-90: 6, 270: 6, 0: 1, 90: 8, -270: 8, 180: 3, -180: 3}.get(self.rotation)


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise MediaError(f"{name} is not installed")
    return path


def _run(args: list[str], timeout: float) -> subprocess.CompletedProcess[bytes]:
    try:
        return children.run(args, timeout)  # children.Interrupted (server stopping) propagates: the job runs again
    except subprocess.TimeoutExpired as exc:
        raise MediaError(f"{Path(args[0]).name} timed out after {timeout:.0f}s") from exc
    except OSError as exc:
        raise MediaError(f"cannot run {args[0]}: {exc}") from exc


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number and number not in (float("inf"), float("-inf")) else None


def _rate(value: Any) -> float | None:
    if not isinstance(value, str) or "/" not in value:
        return _number(value)
    num, _, den = value.partition("/")
    n, d = _number(num), _number(den)
    return n / d if n is not None and d else None


def _int(value: Any) -> int | None:
    number = _number(value)
    return int(number) if number is not None else None


def _stream_rank(stream: dict[str, Any]) -> tuple[int, int]:
    """Immich: compareStreams -- default disposition first, then the higher bitrate."""
    default = _number((stream.get("disposition") or {}).get("default")) or 0
    return -int(default), -int(_number(stream.get("bit_rate")) or 0)


def _video_map(info: VideoInfo) -> str:
    return f"0:{info.stream_index}" if info.stream_index is not None else "0:v:0"


def probe(path: str | os.PathLike[str]) -> VideoInfo:
    """ffprobe the file (Immich: media.repository.ts probe); MediaError when it is not a video."""
    result = _run([_tool("ffprobe"), "-v", "error", "-print_format", "json", "-show_format", "-show_streams",
                   os.fspath(path)], PROBE_TIMEOUT)
    try:
        data = json.loads(result.stdout or b"{}")
    except json.JSONDecodeError as exc:
        raise MediaError(f"ffprobe returned invalid JSON for {path}") from exc
    fmt = data.get("format")
    if result.returncode != 0 or not fmt:
        raise MediaError(f"ffprobe cannot read {path}: {result.stderr.decode(errors='replace').strip()[:300]}")
    streams = data.get("streams", [])
    # Immich: media.repository.ts probe -- attached cover art (an MJPEG "attached_pic") is not the video; of the
    # rest, the default stream first, then the highest bitrate (a QuickTime MJPEG preview track is neither).
    videos = [s for s in streams if s.get("codec_type") == "video"
              and not (s.get("disposition") or {}).get("attached_pic")]
    videos.sort(key=_stream_rank)
    audios = sorted((s for s in streams if s.get("codec_type") == "audio"), key=_stream_rank)
    video = videos[0] if videos else {}
    audio = audios[0] if audios else {}
    rotation = 0
    for side in video.get("side_data_list") or []:
        if "rotation" in side:
            rotation = int(_number(side["rotation"]) or 0)
            break
    else:
        rotation = int(_number((video.get("tags") or {}).get("rotate")) or 0)
    duration = _number(fmt.get("duration"))
    transfer = video.get("color_transfer")
    return VideoInfo(
        duration_ms=round(duration * 1000) if duration is not None else None,
        width=video.get("width"),
        height=video.get("height"),
        rotation=rotation,
        fps=_rate(video.get("avg_frame_rate")) or _rate(video.get("r_frame_rate")),
        video_codec=video.get("codec_name"),
        audio_codec=audio.get("codec_name"),
        pixel_format=video.get("pix_fmt"),
        format_name=fmt.get("format_name"),
        format_long_name=fmt.get("format_long_name"),
        bitrate=int(_number(video.get("bit_rate")) or _number(fmt.get("bit_rate")) or 0) or None,
        is_hdr=transfer in _HDR_TRANSFERS,
        color_transfer=transfer,
        stream_index=_int(video.get("index")),
        audio_index=_int(audio.get("index")),
        raw=data,
    )


def _tonemap_filters() -> list[str]:
    # Immich: media.util.ts tonemap chain (zscale to linear light, hable, back to bt709 limited range).
    return ["zscale=t=linear:npl=100", "format=gbrpf32le", "zscale=p=bt709", "tonemap=hable:desat=0",
            "zscale=t=bt709:m=bt709:r=tv"]


def poster_frame(path: str | os.PathLike[str], out_jpeg: str | os.PathLike[str],
                 info: VideoInfo | None = None) -> Path:
    """Write one representative frame as a full-size JPEG (display-rotated, HDR tone-mapped).

    Upstream runs ffmpeg's ``thumbnail`` filter over the first keyframes; we take the first keyframe
    at or after 10% of the duration (skips black fade-ins), and fall back to the very first frame.
    """
    info = info or probe(path)
    if not info.video_codec:
        raise MediaError(f"{path} has no video stream")
    filters = _tonemap_filters() if info.is_hdr else []
    filters.append("format=yuvj420p")
    starts = [0.0]
    if info.duration_ms and info.duration_ms > 1000:
        starts.insert(0, info.duration_ms / 1000 * 0.1)
    out = Path(out_jpeg)
    error: MediaError | None = None
    for start in starts:
        try:
            with atomic_output(out, ".jpg") as tmp:
                result = _run([_tool("ffmpeg"), "-nostdin", "-v", "error", "-y", "-ss", f"{start:.3f}",
                               "-i", os.fspath(path), "-map", _video_map(info), "-frames:v", "1",
                               "-vf", ",".join(filters), "-q:v", "2", "-f", "image2", "-update", "1",
                               os.fspath(tmp)], FRAME_TIMEOUT)
                if result.returncode != 0 or tmp.stat().st_size == 0:
                    raise MediaError(f"ffmpeg could not extract a frame from {path}: "
                                     f"{result.stderr.decode(errors='replace').strip()[:300]}")
            return out
        except MediaError as exc:  # seeking past the last keyframe gives no frame: retry at 0
            error = exc
    assert error is not None
    raise error


def _config(config: Mapping[str, Any] | None) -> dict[str, Any]:
    merged = dict(DEFAULT_FFMPEG_CONFIG)
    merged.update(config or {})
    return merged


def _audio_accepted(codec: str, accepted: list[str]) -> bool:
    # Upstream renamed AudioCodec.LibOpus ("libopus") to Opus ("opus"); ffprobe says "opus".
    names = {c.lower() for c in accepted}
    if names & {"libopus", "opus"}:
        names |= {"libopus", "opus"}
    return codec.lower() in names


def needs_transcode(info: VideoInfo, config: Mapping[str, Any] | None = None) -> bool:
    """Immich: media.service.ts isTranscodeRequired (video || audio || remux)."""
    cfg = _config(config)
    policy = str(cfg["transcode"]).lower()
    if policy == "disabled":
        return False
    if policy == "all":
        return True
    video_required = False
    if info.video_codec:
        is_target = info.video_codec in cfg["acceptedVideoCodecs"]
        video_required = not is_target or not (info.pixel_format or "").endswith("420p")
        if policy == "optimal":
            target = _target_resolution(info, cfg)
            video_required = video_required or (target is not None and min(info.width or 0, info.height or 0) > target)
        elif policy == "bitrate":
            max_bitrate = _bitrate(str(cfg.get("maxBitrate", "0")))
            video_required = video_required or bool(max_bitrate and (info.bitrate or 0) > max_bitrate)
    audio_required = bool(info.audio_codec) and not _audio_accepted(info.audio_codec or "", cfg["acceptedAudioCodecs"])
    container = info.container
    remux_required = container != "mp4" and container not in cfg["acceptedContainers"]
    return video_required or audio_required or remux_required


def _target_resolution(info: VideoInfo, cfg: Mapping[str, Any]) -> int | None:
    value = str(cfg.get("targetResolution", "720"))
    if value == "original":
        return None
    try:
        return int(value)
    except ValueError:
        return None


def _scaling(info: VideoInfo, target: int | None) -> str | None:
    """Immich: shouldScale / getScaling -- the scale filter, or None when the frame can be encoded as it is.

    Scaled when the shorter side is above the target or a side is odd (H.264/HEVC in 4:2:0 need even sizes):
    the shorter side becomes the target made even, the longer one follows at an even size (-2). Sizes are those
    displayed, after ffmpeg's autorotation. Unlike upstream, a video smaller than the target is never enlarged
    to it: an odd 641x479 clip comes out 640x478, not 720p.
    """
    w, h = info.width or 0, info.height or 0
    if not w or not h:
        return None
    if abs(info.rotation) in (90, 270):
        w, h = h, w
    shorter = min(w, h)
    if (target is None or shorter <= target) and w % 2 == 0 and h % 2 == 0:
        return None
    size = min(shorter, target) if target is not None else shorter
    size -= size % 2
    return f"scale={size}:-2" if h > w else f"scale=-2:{size}"


def _bitrate(value: str) -> int:
    value = value.strip().lower()
    scale = 1000 if value.endswith("k") else 1_000_000 if value.endswith("m") else 1
    try:
        return int(float(value.rstrip("km")) * scale)
    except ValueError:
        return 0


def transcode(path: str | os.PathLike[str], out_mp4: str | os.PathLike[str],
              config: Mapping[str, Any] | None = None, info: VideoInfo | None = None) -> Path:
    """Encode to the target (default H.264 CRF 23 ultrafast, <=720p, AAC, MP4 faststart).

    Streams that are already acceptable are copied (Immich: '-c:v copy' / '-c:a copy').
    """
    cfg = _config(config)
    info = info or probe(path)
    if not info.video_codec:
        raise MediaError(f"{path} has no video stream")
    scaling = _scaling(info, _target_resolution(info, cfg))
    copy_video = (info.video_codec in cfg["acceptedVideoCodecs"] and (info.pixel_format or "").endswith("420p")
                  and scaling is None and not info.is_hdr and str(cfg["transcode"]).lower() != "all")
    args = [_tool("ffmpeg"), "-nostdin", "-v", "error", "-y", "-i", os.fspath(path),
            "-map", _video_map(info), "-map", f"0:{info.audio_index}" if info.audio_index is not None else "0:a:0?",
            "-map_metadata", "0", "-movflags", "faststart",
            "-fps_mode", "passthrough"]
    if copy_video:
        args += ["-c:v", "copy"]
    else:
        codec = {"h264": "libx264", "hevc": "libx265"}.get(str(cfg["targetVideoCodec"]), str(cfg["targetVideoCodec"]))
        filters = _tonemap_filters() if info.is_hdr else []
        if scaling is not None:
            filters.append(scaling)
        filters.append("format=yuv420p")
        args += ["-c:v", codec, "-preset", str(cfg["preset"]), "-crf", str(cfg["crf"]), "-vf", ",".join(filters)]
        if int(cfg.get("threads") or 0) > 0:
            args += ["-threads", str(cfg["threads"])]
        if codec == "libx265":
            args += ["-tag:v", "hvc1"]
    if info.audio_codec and _audio_accepted(info.audio_codec, cfg["acceptedAudioCodecs"]):
        args += ["-c:a", "copy"]
    else:
        args += ["-c:a", str(cfg["targetAudioCodec"])]
    out = Path(out_mp4)
    with atomic_output(out, ".mp4") as tmp:
        result = _run(args + ["-f", "mp4", os.fspath(tmp)], TRANSCODE_TIMEOUT)
        if result.returncode != 0:
            raise MediaError(f"ffmpeg transcode failed for {path}: {result.stderr.decode(errors='replace')[-500:]}")
    return out


def extract_motion_photo(path: str | os.PathLike[str], out_mp4: str | os.PathLike[str], *,
                         exiftool: Any = None, tag: str | None = None,
                         offset: int | None = None, length: int | None = None) -> Path:
    """Write the video embedded in a motion photo to ``out_mp4`` and check it probes as a video.

    Either ``tag`` (Samsung HEIC "MotionPhotoVideo", JPEG "EmbeddedVideoFile"; extracted by exiftool)
    or a byte range ``offset``/``length`` at the end of the file (Google MotionPhoto / MicroVideo).
    """
    out = Path(out_mp4)
    if tag:
        if exiftool is None:
            raise MediaError("an ExifTool instance is needed to extract a tagged motion video")
        with atomic_output(out, ".mp4") as tmp:
            if exiftool.extract_binary(path, tag, tmp) is None:
                raise MediaError(f"{path} has no {tag}")
            _check_video(tmp)
        return out
    if offset is None or not length:
        raise MediaError("motion photo location unknown")
    with atomic_output(out, ".mp4") as tmp:
        with open(path, "rb") as src, open(tmp, "wb") as dst:
            src.seek(offset)
            remaining = length
            while remaining > 0:
                chunk = src.read(min(1 << 20, remaining))
                if not chunk:
                    raise MediaError(f"{path} is shorter than its motion photo directory says")
                dst.write(chunk)
                remaining -= len(chunk)
        _check_video(tmp)
    return out


def _check_video(path: Path) -> None:
    info = probe(path)
    if not info.video_codec:
        raise MediaError(f"embedded motion video in {path} has no video stream")
