"""Preview + thumbnail + thumbhash from one decode (Immich: media.service.ts generateImageThumbnails).

Pipeline: header-only open (pixel cap) -> one shrink-on-load decode to the preview size, autorotated,
converted to sRGB or Display P3 -> save preview JPEG -> derive the WebP thumbnail and the thumbhash
from the in-memory preview.  Sizes follow sharp's ``resize(size, size, {fit: 'outside',
withoutEnlargement: true})``: the shorter side becomes ``size``, never enlarged.

Decoders, picked by the file's first bytes rather than its name (mime.sniff): libvips (pyvips-binary) for
JPEG/PNG/WebP/GIF/TIFF/AVIF/SVG; pillow-heif for HEIC/HEIF/HIF (libvips here has no HEVC decoder);
pillow-jxl-plugin for JPEG XL; the largest embedded JPEG (exiftool) for camera RAW; an ffmpeg poster frame
for video. libvips decodes JPEG/PNG/WebP/GIF leniently (sharp's failOn 'none'): a JPEG with a damaged tail
still gets a thumbnail, its missing rows grey; a file with no decodable pixels at all still fails.
"""
from __future__ import annotations

import math
import os
import tempfile
from collections import deque
from itertools import accumulate
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyvips

from immich_lite.media import MediaError, atomic_output, mime

MAX_PIXELS = 250_000_000  # decompression-bomb cap (a 100 MP phone photo is far below)
_HUGE = 10_000_000  # "unbounded" side for vips thumbnail boxes
_LENIENT = frozenset({"jpeg", "png", "webp", "gif"})  # formats decoded with fail_on="none" (see _decode_file)


@dataclass(frozen=True)
class ThumbResult:
    width: int  # display (oriented) size of the decoded source, before resizing
    height: int
    thumbhash: bytes
    preview_width: int = 0
    preview_height: int = 0


def _fit_outside(width: int, height: int, size: int) -> tuple[int, int]:
    """Box for vips thumbnail so the shorter side becomes ``size`` (never enlarged)."""
    if min(width, height) <= size:
        return width, height
    return (_HUGE, size) if width >= height else (size, _HUGE)


def _vips_error(exc: Exception, src: Any) -> MediaError:
    return MediaError(f"cannot decode {src}: {str(exc).strip().splitlines()[0] if str(exc).strip() else exc}")


def _check_pixels(width: int, height: int, max_pixels: int, src: Any) -> None:
    if width <= 0 or height <= 0:
        raise MediaError(f"{src} has no pixels")
    if width * height > max_pixels:
        raise MediaError(f"{src} is {width}x{height}, above the {max_pixels} pixel limit")


def _open_header(path: str, max_pixels: int) -> pyvips.Image:
    """Header-only open: libvips reads dimensions without decoding pixels."""
    try:
        image = pyvips.Image.new_from_file(path, access="sequential")
    except pyvips.Error as exc:
        raise _vips_error(exc, path) from exc
    _check_pixels(image.width, image.height, max_pixels, path)
    return image


def _to_colorspace(image: pyvips.Image, colorspace: str) -> pyvips.Image:
    """Convert to sRGB or Display P3 and tag the output with that profile (Immich: withIccProfile).

    Done after the resize: asking vips thumbnail for export_profile makes it convert the full-size
    image first (~0.9 s instead of ~0.15 s for a 12 MP JPEG).  Sources without a profile count as sRGB.
    """
    profile = "p3" if colorspace.lower() == "p3" else "srgb"
    if not image.get_typeof("icc-profile-data") and image.interpretation not in ("srgb", "rgb", "rgb16"):
        image = image.colourspace("srgb")  # grey, CMYK without profile, ...
    try:
        return image.icc_transform(profile, embedded=True, input_profile="srgb", depth=8)
    except pyvips.Error:  # a broken embedded profile: fall back to a plain sRGB conversion
        return image.colourspace("srgb").cast("uchar")


def _decode_file(path: str, size: int | None, colorspace: str, max_pixels: int,
                 orientation: int | None = None, *, kind: str | None) -> tuple[pyvips.Image, tuple[int, int]]:
    """One decode with shrink-on-load; EXIF orientation applied; ICC converted to the target space.

    JPEG, PNG, WebP and GIF decode leniently (sharp's failOn 'none'): what precedes damage is the picture, so a
    damaged tail still gives a thumbnail. TIFF-based files (TIFF, DNG and the RAWs libvips reads) stay strict:
    their strips are not in picture order, and a pruned file would give a black or garbage thumbnail.
    """
    fail_on = "none" if kind in _LENIENT else "error"  # kind: mime.sniff of `path`, known to the caller
    header = _open_header(path, max_pixels)
    oriented = header.get("orientation") if header.get_typeof("orientation") else 1
    if orientation and orientation > 1 and oriented in (0, 1):
        # a RAW's embedded preview carries no orientation of its own: use the RAW's (Immich does too)
        image = pyvips.Image.new_from_file(path, access="sequential", fail_on=fail_on)
        image = image.copy()
        image.set_type(pyvips.GValue.gint_type, "orientation", int(orientation))
        image = image.autorot()
        w, h = image.width, image.height
        box = _fit_outside(w, h, size) if size else (w, h)
        return _to_colorspace(image.thumbnail_image(box[0], height=box[1], size="down"), colorspace), (w, h)
    w, h = header.width, header.height
    if oriented in (5, 6, 7, 8):
        w, h = h, w
    box = _fit_outside(w, h, size) if size else (w, h)
    image = pyvips.Image.thumbnail(path, box[0], height=box[1], size="down", fail_on=fail_on)
    return _to_colorspace(image, colorspace), (w, h)


def _decode_heif(path: str, size: int | None, colorspace: str,
                 max_pixels: int) -> tuple[pyvips.Image, tuple[int, int]]:
    """pillow-heif (bundled libheif + libde265) -> pyvips; libheif applies irot/imir itself."""
    try:
        import pillow_heif
    except ImportError as exc:  # pragma: no cover - dependency missing
        raise MediaError("HEIC support needs pillow-heif") from exc
    try:
        heif = pillow_heif.open_heif(path, convert_hdr_to_8bit=True)
        width, height = heif.size
        _check_pixels(width, height, max_pixels, path)
        data, stride, mode = heif.data, heif.stride, heif.mode
        icc = heif.info.get("icc_profile")
    except MediaError:
        raise
    except Exception as exc:  # pillow-heif raises ValueError/RuntimeError/SyntaxError on bad files
        raise MediaError(f"cannot decode {path}: {exc}") from exc
    bands = {"RGB": 3, "RGBA": 4, "L": 1, "LA": 2}.get(mode)
    if bands is None:
        raise MediaError(f"unsupported HEIF pixel mode {mode} in {path}")
    image = _from_pixels(data, width, height, bands, stride, icc)
    box = _fit_outside(width, height, size) if size else (width, height)
    return _to_colorspace(image.thumbnail_image(box[0], height=box[1], size="down"), colorspace), (width, height)


def _from_pixels(data: Any, width: int, height: int, bands: int, stride: int, icc: bytes | None) -> pyvips.Image:
    """8-bit interleaved pixels (rows `stride` bytes apart) -> a pyvips image carrying the ICC profile."""
    # rows may be padded: wrap the buffer at its stride, then crop the padding off
    row_pixels, extra = divmod(stride, bands)
    if extra:
        packed = b"".join(data[y * stride:y * stride + width * bands] for y in range(height))
        image = pyvips.Image.new_from_memory(packed, width, height, bands, "uchar")
    else:
        image = pyvips.Image.new_from_memory(data, row_pixels, height, bands, "uchar")
        if row_pixels != width:
            image = image.crop(0, 0, width, height)
    image = image.copy(interpretation="srgb" if bands >= 3 else "b-w")
    if icc:
        image.set_type(pyvips.GValue.blob_type, "icc-profile-data", icc)
    return image


def _decode_jxl(path: str, size: int | None, colorspace: str,
                max_pixels: int) -> tuple[pyvips.Image, tuple[int, int]]:
    """JPEG XL through pillow-jxl-plugin (jxl-oxide; the libvips of pyvips-binary has no JXL loader).

    jxl-oxide renders the codestream's orientation itself, so the pixels come out upright. Modes other than
    8-bit RGB(A)/grey (16-bit, float, HDR) are converted to 8-bit RGB(A) by Pillow.
    """
    try:
        import pillow_jxl  # noqa: F401  (registers the JXL plugin with Pillow)
        from PIL import Image
    except ImportError as exc:  # pragma: no cover - dependency missing
        raise MediaError("JPEG XL support needs pillow-jxl-plugin") from exc
    try:
        with Image.open(path) as im:
            width, height = im.size
            _check_pixels(width, height, max_pixels, path)
            icc = im.info.get("icc_profile")
            im.load()
            if im.mode not in ("RGB", "RGBA", "L", "LA"):
                im = im.convert("RGBA" if "A" in im.getbands() else "RGB")
            bands = len(im.getbands())
            data = im.tobytes()
    except MediaError:
        raise
    except Exception as exc:  # the plugin raises OSError/ValueError/RuntimeError on damaged files
        raise MediaError(f"cannot decode {path}: {exc}") from exc
    image = _from_pixels(data, width, height, bands, width * bands, icc)
    box = _fit_outside(width, height, size) if size else (width, height)
    return _to_colorspace(image.thumbnail_image(box[0], height=box[1], size="down"), colorspace), (width, height)


def _save(image: pyvips.Image, target: str | os.PathLike[str], fmt: str, quality: int) -> None:
    fmt = fmt.lower()
    suffix = ".webp" if fmt == "webp" else ".jpg"
    with atomic_output(target, suffix) as tmp:
        try:
            if fmt == "webp":
                image.webpsave(os.fspath(tmp), Q=quality, keep="icc", effort=4)
            elif fmt in ("jpeg", "jpg"):
                # Immich: chromaSubsampling 4:4:4 at quality >= 80; keep only the ICC profile.  No Huffman
                # optimisation: with 4:4:4 it costs ~75 ms per 1440 px preview for ~5% smaller files.
                image.jpegsave(os.fspath(tmp), Q=quality, keep="icc",
                               subsample_mode="off" if quality >= 80 else "auto")
            else:
                raise MediaError(f"unsupported output format {fmt}")
        except pyvips.Error as exc:
            raise _vips_error(exc, target) from exc


def _flatten(image: pyvips.Image) -> pyvips.Image:
    """JPEG has no alpha; composite onto white like browsers show transparent PNGs."""
    if image.hasalpha():
        return image.flatten(background=[255] * (image.bands - 1))
    return image


def _rgba(image: pyvips.Image) -> pyvips.Image:
    if image.format != "uchar":
        image = image.cast("uchar")
    if image.bands in (1, 2):
        image = image.colourspace("srgb")
    if image.bands == 3:
        image = image.bandjoin(255)
    return image


def generate(src: str | os.PathLike[str], *, asset_type: str = "IMAGE",
             thumb_path: str | os.PathLike[str], preview_path: str | os.PathLike[str],
             fullsize_path: str | os.PathLike[str] | None = None,
             thumb_size: int = 250, preview_size: int = 1440,
             thumb_format: str = "webp", preview_format: str = "jpeg", quality: int = 80,
             colorspace: str = "p3", exiftool: Any = None, orientation: int | None = None,
             max_pixels: int = MAX_PIXELS, tmp_dir: str | os.PathLike[str] | None = None) -> ThumbResult:
    """Write the preview (and optionally a fullsize JPEG) and the thumbnail; return the thumbhash.

    ``colorspace``: "p3" (Immich default) or "srgb"; callers pass "srgb" when the source is known to
    be sRGB (Immich: isSRGB).  ``exiftool`` is needed for RAW files (embedded previews).
    ``orientation`` is the EXIF orientation to apply to a RAW's embedded preview.
    Raises MediaError for unreadable, corrupt or oversized input; no output file is left behind.
    """
    src = os.fspath(src)
    if not os.path.isfile(src) or os.path.getsize(src) == 0:
        raise MediaError(f"{src} is missing or empty")
    work = Path(tempfile.mkdtemp(prefix="immich-lite-media-", dir=tmp_dir))
    try:
        decode_size = None if fullsize_path else preview_size
        image, (width, height) = _decode(src, asset_type, decode_size, colorspace, max_pixels, exiftool,
                                         orientation, work)
        try:
            # materialise once: the preview, thumbnail and thumbhash all read these pixels
            image = image.copy_memory()
        except pyvips.Error as exc:
            raise _vips_error(exc, src) from exc
        written: list[Path] = []
        try:
            if fullsize_path:
                _save(_flatten(image), fullsize_path, "jpeg", quality)
                written.append(Path(fullsize_path))
                box = _fit_outside(image.width, image.height, preview_size)
                image = image.thumbnail_image(box[0], height=box[1], size="down").copy_memory()
            preview = image
            _save(_flatten(preview) if preview_format.lower() in ("jpeg", "jpg") else preview,
                  preview_path, preview_format, quality)
            written.append(Path(preview_path))
            box = _fit_outside(preview.width, preview.height, thumb_size)
            thumb = preview.thumbnail_image(box[0], height=box[1], size="down")
            _save(_flatten(thumb) if thumb_format.lower() in ("jpeg", "jpg") else thumb,
                  thumb_path, thumb_format, quality)
            written.append(Path(thumb_path))
            small = _rgba(preview.thumbnail_image(100, height=100, size="down"))
            hash_ = rgba_to_thumbhash(small.width, small.height, small.write_to_memory())
        except BaseException:
            for path in written:  # all or nothing: a half-generated set is worse than none
                path.unlink(missing_ok=True)
            raise
        return ThumbResult(width, height, hash_, preview.width, preview.height)
    except pyvips.Error as exc:
        raise _vips_error(exc, src) from exc
    finally:
        for leftover in work.iterdir():
            leftover.unlink(missing_ok=True)
        work.rmdir()


def _decode(src: str, asset_type: str, size: int | None, colorspace: str, max_pixels: int,
            exiftool: Any, orientation: int | None, work: Path) -> tuple[pyvips.Image, tuple[int, int]]:
    if asset_type == "VIDEO":
        from immich_lite.media import video  # local import: ffmpeg is only needed for videos
        frame = video.poster_frame(src, work / "frame.jpg")
        return _decode_file(os.fspath(frame), size, colorspace, max_pixels, kind="jpeg")  # ffmpeg's JPEG
    kind = mime.sniff(src)  # the decoder follows the bytes, not the name (a HEIC saved as .jpg)
    if kind == "jxl":
        return _decode_jxl(src, size, colorspace, max_pixels)
    if kind == "heif" or (kind is None and mime.is_heif(src) and not src.lower().endswith(".avif")):
        if _isobmff_truncated(src):
            # libheif paints missing tiles green instead of failing; refuse like any truncated file
            raise MediaError(f"{src} is truncated")
        try:
            return _decode_heif(src, size, colorspace, max_pixels)
        except MediaError as heif_error:
            try:  # some .heic files are really AV1 or JPEG inside; libvips reads those
                return _decode_file(src, size, colorspace, max_pixels, kind=kind)
            except MediaError:
                raise heif_error from None
    if mime.is_raw(src) and exiftool is not None and kind in (None, "tiff"):  # not a JPEG named .nef
        preview = exiftool.extract_preview(src, work / "embedded.jpg")
        if preview is not None:
            try:
                return _decode_file(os.fspath(preview), size, colorspace, max_pixels, orientation,
                                    kind=mime.sniff(preview))
            except MediaError:
                pass  # a broken preview: try the RAW itself (DNG is TIFF)
    return _decode_file(src, size, colorspace, max_pixels, kind=kind)


def _isobmff_truncated(path: str) -> bool:
    """True when a top-level ISO-BMFF box (ftyp/meta/mdat...) claims more bytes than the file has."""
    size = os.path.getsize(path)
    pos = 0
    with open(path, "rb") as fh:
        while pos + 8 <= size:
            fh.seek(pos)
            header = fh.read(16)
            box = int.from_bytes(header[:4], "big")
            if box == 1 and len(header) == 16:  # 64-bit "largesize"
                box = int.from_bytes(header[8:16], "big")
            elif box == 0:  # box runs to the end of the file
                return False
            if box < 8:
                return True
            pos += box
    return pos > size


def image_size(path: str | os.PathLike[str]) -> tuple[int, int] | None:
    """Display (oriented) pixel size from the header only, or None if libvips cannot read it."""
    try:
        image = pyvips.Image.new_from_file(os.fspath(path), access="sequential")
    except pyvips.Error:
        return None
    w, h = image.width, image.height
    if image.get_typeof("orientation") and image.get("orientation") in (5, 6, 7, 8):
        w, h = h, w
    return w, h


# -- thumbhash ------------------------------------------------------------------------------------
# Port of evanw/thumbhash rgbaToThumbHash (the npm package Immich uses).  The PyPI candidates did not
# fit: thumbhash-python pins pillow<11 (pillow-heif needs >=11.1) and thumbhash 0.1.2 crashes on
# images with alpha, rounds half-to-even and needs ~0.3 s per hash in Python loops.  This port keeps
# the JS arithmetic order (so coefficients that land exactly on .5 round the same way) and runs the
# inner loops in C via map/accumulate; the test checks byte equality with the JS reference.

try:  # optional accelerator; results are identical without it
    import numpy as _np
except ImportError:  # pragma: no cover - exercised by the pure-Python test
    _np = None


def _js_round(x: float) -> int:
    return math.floor(x + 0.5)  # JS Math.round


def _channels_py(n: int, rgba: bytes | bytearray | memoryview) -> tuple[Any, Any, Any, Any, bool]:
    px = memoryview(rgba).cast("B")
    r_, g_, b_, a_ = px[0::4], px[1::4], px[2::4], px[3::4]
    avg_r = avg_g = avg_b = avg_a = 0.0
    for i in range(n):
        alpha = a_[i] / 255
        avg_r += alpha / 255 * r_[i]
        avg_g += alpha / 255 * g_[i]
        avg_b += alpha / 255 * b_[i]
        avg_a += alpha
    if avg_a:
        avg_r /= avg_a
        avg_g /= avg_a
        avg_b /= avg_a
    l_ch, p_ch, q_ch, a_ch = [], [], [], []
    for i in range(n):
        alpha = a_[i] / 255
        r = avg_r * (1 - alpha) + alpha / 255 * r_[i]
        g = avg_g * (1 - alpha) + alpha / 255 * g_[i]
        b = avg_b * (1 - alpha) + alpha / 255 * b_[i]
        l_ch.append((r + g + b) / 3)
        p_ch.append((r + g) / 2 - b)
        q_ch.append(r - g)
        a_ch.append(alpha)
    return l_ch, p_ch, q_ch, a_ch, avg_a < n


def _channels_np(n: int, rgba: bytes | bytearray | memoryview) -> tuple[Any, Any, Any, Any, bool]:
    # the same IEEE operations as _channels_py, elementwise; sums accumulate left to right
    px = _np.frombuffer(bytes(rgba), dtype=_np.uint8).astype(_np.float64).reshape(n, 4)
    alpha = px[:, 3] / 255
    weight = alpha / 255
    total = (lambda v: float(_np.add.accumulate(v)[-1]) if n else 0.0)
    avg_r, avg_g, avg_b = (total(weight * px[:, band]) for band in range(3))
    avg_a = total(alpha)
    if avg_a:
        avg_r /= avg_a
        avg_g /= avg_a
        avg_b /= avg_a
    r = avg_r * (1 - alpha) + weight * px[:, 0]
    g = avg_g * (1 - alpha) + weight * px[:, 1]
    b = avg_b * (1 - alpha) + weight * px[:, 2]
    return (r + g + b) / 3, (r + g) / 2 - b, r - g, alpha, avg_a < n


def rgba_to_thumbhash(w: int, h: int, rgba: bytes | bytearray | memoryview) -> bytes:
    if w > 100 or h > 100:
        raise ValueError(f"{w}x{h} doesn't fit in 100x100")
    n = w * h
    if _np is not None:
        l_ch, p_ch, q_ch, a_ch, has_alpha = _channels_np(n, rgba)
    else:
        l_ch, p_ch, q_ch, a_ch, has_alpha = _channels_py(n, rgba)
    l_limit = 5 if has_alpha else 7
    lx = max(1, _js_round(l_limit * w / max(w, h)))
    ly = max(1, _js_round(l_limit * h / max(w, h)))

    def encode(channel: Any, nx: int, ny: int) -> tuple[float, list[float], float]:
        # Same products and the same left-to-right float accumulation as the JS loop
        # (f += channel[i] * fx[x] * fy), so results are bit-identical; numpy when present (~10x
        # faster; np.add.accumulate is sequential, unlike np.sum), else C-level map/accumulate.
        dc, ac, scale = 0.0, [], 0.0
        weighted: dict[int, Any] = {}
        chan = channel
        for cy in range(ny):
            fy = [math.cos(math.pi / h * cy * (y + 0.5)) for y in range(h)]
            fy_pixels = _np.repeat(_np.array(fy), w) if _np is not None else [v for v in fy for _ in range(w)]
            cx = 0
            while cx * ny < nx * (ny - cy):
                if cx not in weighted:
                    fx = [math.cos(math.pi / w * cx * (x + 0.5)) for x in range(w)] * h
                    weighted[cx] = chan * _np.array(fx) if _np is not None else list(map(float.__mul__, chan, fx))
                if _np is not None:
                    f = float(_np.add.accumulate(weighted[cx] * fy_pixels)[-1]) / n
                else:
                    f = deque(accumulate(map(float.__mul__, weighted[cx], fy_pixels)), maxlen=1)[0] / n
                if cx or cy:
                    ac.append(f)
                    scale = max(scale, abs(f))
                else:
                    dc = f
                cx += 1
        if scale:
            ac = [0.5 + 0.5 / scale * x for x in ac]
        return dc, ac, scale

    l_dc, l_ac, l_scale = encode(l_ch, max(3, lx), max(3, ly))
    p_dc, p_ac, p_scale = encode(p_ch, 3, 3)
    q_dc, q_ac, q_scale = encode(q_ch, 3, 3)
    a_dc, a_ac, a_scale = encode(a_ch, 5, 5) if has_alpha else (1.0, [], 1.0)
    landscape = w > h
    header24 = (_js_round(63 * l_dc) | (_js_round(31.5 + 31.5 * p_dc) << 6) | (_js_round(31.5 + 31.5 * q_dc) << 12)
                | (_js_round(31 * l_scale) << 18) | (int(has_alpha) << 23))
    header16 = ((ly if landscape else lx) | (_js_round(63 * p_scale) << 3) | (_js_round(63 * q_scale) << 9)
                | (int(landscape) << 15))
    out = [header24 & 255, (header24 >> 8) & 255, header24 >> 16, header16 & 255, header16 >> 8]
    if has_alpha:
        out.append(_js_round(15 * a_dc) | (_js_round(15 * a_scale) << 4))
    start, index = len(out), 0
    for ac in (l_ac, p_ac, q_ac, a_ac) if has_alpha else (l_ac, p_ac, q_ac):
        for f in ac:
            slot = start + (index >> 1)
            if slot == len(out):
                out.append(0)
            out[slot] |= _js_round(15 * f) << ((index & 1) << 2)
            index += 1
    return bytes(x & 255 for x in out)
