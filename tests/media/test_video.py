"""ffprobe/ffmpeg adapters: probe vs upstream durations, poster frames, transcode policy, motion photos."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import pyvips

from immich_lite.media import MediaError, video
from immich_lite.media.exif import ExifTool

from .conftest import upstream

UPSTREAM = upstream()
VIDEOS = sorted(p for p, e in UPSTREAM.items() if e.get("type") == "VIDEO" and e["duration"] is not None)


@pytest.fixture(autouse=True)
def _ffmpeg(need_ffmpeg: None) -> None:
    return None


def _make_clip(path: Path, *, codec: str, size: str = "320x240", seconds: float = 1.0, rate: int = 10,
               audio: str | None = "aac", extra: tuple[str, ...] = ()) -> Path:
    """A tiny synthetic clip (lavfi test source + sine tone)."""
    args = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}"]
    if audio:
        args += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]
    args += ["-t", str(seconds), "-c:v", codec, "-preset", "ultrafast", "-pix_fmt", "yuv420p", *extra]
    if codec == "libx265":
        args += ["-x265-params", "log-level=error"]
    if audio:
        args += ["-c:a", audio]
    subprocess.run([*args, str(path)], check=True, timeout=60)
    return path


@pytest.mark.parametrize("rel", VIDEOS)
def test_probe_duration_matches_upstream(rel: str, corpus: Path) -> None:
    info = video.probe(corpus / rel)
    assert info.duration_ms == UPSTREAM[rel]["duration"]
    assert (info.width, info.height) == (UPSTREAM[rel]["exif.exifImageWidth"], UPSTREAM[rel]["exif.exifImageHeight"])
    assert str(info.orientation) == UPSTREAM[rel]["exif.orientation"]


def test_probe_details(corpus: Path) -> None:
    hevc = video.probe(corpus / "video/quicktime-hvc1.mov")
    assert (hevc.video_codec, hevc.audio_codec, hevc.container, hevc.rotation) == ("hevc", "aac", "mov", -90)
    assert 29 < (hevc.fps or 0) < 31 and not hevc.is_hdr
    mts = video.probe(corpus / "video/Sony_ILCE-7M3_A7M3_.mts")
    assert (mts.video_codec, mts.audio_codec, mts.container) == ("h264", "ac3", "mpegts")
    with pytest.raises(MediaError):
        video.probe(corpus / "broken/truncated_FLIR_Thermal.mp4")
    with pytest.raises(MediaError):
        video.probe(corpus / "README.md")


@pytest.mark.parametrize("rel,expected", [
    ("video/with-gps.mp4", False),      # h264 + aac in mp4: played as is
    ("video/dji_small.mp4", False),     # h264, no audio
    ("video/with-gps.mov", False),      # mov is an accepted container
    ("video/quicktime-hvc1.mov", True),  # hevc is not an accepted codec
    ("video/PXL_20220724_210650210.NIGHT.mp4", True),  # vp9
    ("video/Sony_ILCE-7M3_A7M3_.mts", True),  # ac3 audio and an mpegts container
    ("livephoto/train.mov", True),      # pcm_s16le audio
])
def test_needs_transcode_required_policy(rel: str, expected: bool, corpus: Path) -> None:
    assert video.needs_transcode(video.probe(corpus / rel)) is expected


def test_transcode_policies(corpus: Path) -> None:
    info = video.probe(corpus / "video/with-gps.mp4")  # 1920x1080 h264/aac
    assert video.needs_transcode(info, {"transcode": "all"})
    assert not video.needs_transcode(video.probe(corpus / "video/quicktime-hvc1.mov"), {"transcode": "disabled"})
    assert video.needs_transcode(info, {"transcode": "optimal"})  # 1080 > 720
    assert not video.needs_transcode(info, {"transcode": "optimal", "targetResolution": "original"})
    opus = video.VideoInfo(1000, 640, 360, 0, 30.0, "h264", "opus", "yuv420p", "matroska,webm", "Matroska / WebM",
                           None, False)
    assert video.needs_transcode(opus)  # "matroska,webm" is not an accepted container name upstream
    assert not video.needs_transcode(opus, {"acceptedContainers": ["matroska,webm"]})


def test_poster_frames(corpus: Path, tmp_path: Path) -> None:
    out = video.poster_frame(corpus / "video/with-gps.mov", tmp_path / "frame.jpg")
    frame = pyvips.Image.new_from_file(str(out))
    assert (frame.width, frame.height) == (320, 568)  # display-rotated (stream is 568x320, rotation -90)
    short = video.poster_frame(corpus / "video/with-gps.mp4", tmp_path / "short.jpg")  # 0.17 s long
    assert pyvips.Image.new_from_file(str(short)).width == 1920
    assert sorted(os.listdir(tmp_path)) == ["frame.jpg", "short.jpg"]
    with pytest.raises(MediaError):
        video.poster_frame(corpus / "broken/truncated_FLIR_Thermal.mp4", tmp_path / "bad.jpg")
    assert not (tmp_path / "bad.jpg").exists()


def test_transcode_hevc_to_h264(tmp_path: Path) -> None:
    clip = _make_clip(tmp_path / "in.mp4", codec="libx265", size="1280x960", seconds=1.0)
    source = video.probe(clip)
    assert source.video_codec == "hevc" and video.needs_transcode(source)
    out = video.transcode(clip, tmp_path / "out" / "encoded.mp4", info=source)
    result = video.probe(out)
    assert (result.video_codec, result.audio_codec, result.container) == ("h264", "aac", "mov")
    assert (result.width, result.height) == (960, 720)  # shorter side scaled to targetResolution 720
    assert abs((result.duration_ms or 0) - 1000) < 150
    assert not video.needs_transcode(result)
    assert os.listdir(tmp_path / "out") == ["encoded.mp4"]


def test_transcode_copies_accepted_video(tmp_path: Path) -> None:
    clip = _make_clip(tmp_path / "in.mkv", codec="libx264", audio="libopus", seconds=0.5)
    source = video.probe(clip)
    assert video.needs_transcode(source)  # remux: matroska is not accepted
    result = video.probe(video.transcode(clip, tmp_path / "out.mp4", info=source))
    assert (result.video_codec, result.container, result.width) == ("h264", "mov", 320)


def test_transcode_scales_a_rotated_video_by_its_displayed_shorter_side(corpus: Path, tmp_path: Path) -> None:
    """with-gps.mov is stored 568x320 with rotation -90, shown 320x568: ffmpeg autorotates before the scale
    filter, so the shorter side to scale is the displayed width (upstream: isVideoVertical -> 240:-2)."""
    source = video.probe(corpus / "video/with-gps.mov")
    out = video.transcode(corpus / "video/with-gps.mov", tmp_path / "small.mp4", {"targetResolution": "240",
                                                                                 "transcode": "all"}, info=source)
    result = video.probe(out)
    assert (result.width, result.height, result.rotation) == (240, 426, 0)


def test_transcode_failure_leaves_nothing(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.mp4"
    bogus.write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(2000))
    with pytest.raises(MediaError):
        video.transcode(bogus, tmp_path / "out" / "x.mp4")
    assert not (tmp_path / "out").exists() or os.listdir(tmp_path / "out") == []


def test_extract_samsung_motion_photo(corpus: Path, et: ExifTool, tmp_path: Path) -> None:
    out = video.extract_motion_photo(corpus / "motionphoto/motionphoto.heic", tmp_path / "mp.mp4",
                                     exiftool=et, tag="MotionPhotoVideo")
    info = video.probe(out)
    assert info.video_codec in ("hevc", "h264") and (info.duration_ms or 0) > 500
    assert out.stat().st_size == 2193658  # exiftool: "Binary data 2193658 bytes"
    assert os.listdir(tmp_path) == ["mp.mp4"]
    with pytest.raises(MediaError):
        video.extract_motion_photo(corpus / "heic/IMG_2682.heic", tmp_path / "none.mp4", exiftool=et,
                                   tag="MotionPhotoVideo")
    assert not (tmp_path / "none.mp4").exists()


def test_extract_google_style_motion_photo(corpus: Path, tmp_path: Path) -> None:
    # a JPEG with an MP4 appended, located by a byte range (ContainerDirectory / MicroVideoOffset)
    clip = _make_clip(tmp_path / "clip.mp4", codec="libx264", seconds=0.5, audio=None)
    still = (corpus / "jpeg/DSCN0010.jpg").read_bytes()
    combined = tmp_path / "PXL_MP.jpg"
    combined.write_bytes(still + clip.read_bytes())
    out = video.extract_motion_photo(combined, tmp_path / "out" / "mp.mp4", offset=len(still),
                                     length=clip.stat().st_size)
    assert out.read_bytes() == clip.read_bytes() and video.probe(out).video_codec == "h264"
    with pytest.raises(MediaError):  # a wrong offset does not give a video; nothing is left behind
        video.extract_motion_photo(combined, tmp_path / "out" / "bad.mp4", offset=10, length=5000)
    assert os.listdir(tmp_path / "out") == ["mp.mp4"]
