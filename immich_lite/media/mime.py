"""File-extension tables, as upstream server/src/utils/mime-types.ts.

The first mime type of each entry is the one upstream reports (``originalMimeType``); the rest are
aliases upstream accepts.  GET /server/media-types returns the extension lists.
"""
from __future__ import annotations

import os

# Immich: mime-types.ts `raw`
RAW: dict[str, tuple[str, ...]] = {
    ".3fr": ("image/3fr", "image/x-hasselblad-3fr"),
    ".ari": ("image/ari", "image/x-arriflex-ari"),
    ".arw": ("image/arw", "image/x-sony-arw"),
    ".cap": ("image/cap", "image/x-phaseone-cap"),
    ".cin": ("image/cin", "image/x-phantom-cin"),
    ".cr2": ("image/cr2", "image/x-canon-cr2"),
    ".cr3": ("image/cr3", "image/x-canon-cr3"),
    ".crw": ("image/crw", "image/x-canon-crw"),
    ".dcr": ("image/dcr", "image/x-kodak-dcr"),
    ".dng": ("image/dng", "image/x-adobe-dng"),
    ".erf": ("image/erf", "image/x-epson-erf"),
    ".fff": ("image/fff", "image/x-hasselblad-fff"),
    ".iiq": ("image/iiq", "image/x-phaseone-iiq"),
    ".k25": ("image/k25", "image/x-kodak-k25"),
    ".kdc": ("image/kdc", "image/x-kodak-kdc"),
    ".mrw": ("image/mrw", "image/x-minolta-mrw"),
    ".nef": ("image/nef", "image/x-nikon-nef"),
    ".nrw": ("image/nrw", "image/x-nikon-nrw"),
    ".orf": ("image/orf", "image/x-olympus-orf"),
    ".ori": ("image/ori", "image/x-olympus-ori"),
    ".pef": ("image/pef", "image/x-pentax-pef"),
    ".psd": ("image/psd", "image/vnd.adobe.photoshop"),
    ".raf": ("image/raf", "image/x-fuji-raf"),
    ".raw": ("image/raw", "image/x-panasonic-raw"),
    ".rw2": ("image/rw2", "image/x-panasonic-rw2"),
    ".rwl": ("image/rwl", "image/x-leica-rwl"),
    ".sr2": ("image/sr2", "image/x-sony-sr2"),
    ".srf": ("image/srf", "image/x-sony-srf"),
    ".srw": ("image/srw", "image/x-samsung-srw"),
    ".x3f": ("image/x3f", "image/x-sigma-x3f"),
}

# Immich: `webSupportedImage` -- what browsers show directly, so GET .../thumbnail?size=fullsize
# redirects to the original instead of a converted copy.
WEB_SUPPORTED_IMAGE: dict[str, tuple[str, ...]] = {
    ".avif": ("image/avif",),
    ".bmp": ("image/bmp",),
    ".gif": ("image/gif",),
    ".jpeg": ("image/jpeg",),
    ".jpg": ("image/jpeg",),
    ".png": ("image/png", "image/apng"),
    ".webp": ("image/webp",),
}

IMAGE: dict[str, tuple[str, ...]] = {
    **WEB_SUPPORTED_IMAGE,
    **RAW,
    ".heic": ("image/heic",),
    ".heif": ("image/heif",),
    ".hif": ("image/hif",),
    ".insp": ("image/jpeg",),
    ".jp2": ("image/jp2",),
    ".jpe": ("image/jpeg",),
    ".jxl": ("image/jxl",),
    ".mpo": ("image/jpeg",),
    ".svg": ("image/svg",),
    ".tif": ("image/tiff",),
    ".tiff": ("image/tiff",),
}

VIDEO: dict[str, tuple[str, ...]] = {
    ".3gp": ("video/3gpp",),
    ".3gpp": ("video/3gpp",),
    ".avi": ("video/avi", "video/msvideo", "video/vnd.avi", "video/x-msvideo"),
    ".flv": ("video/x-flv",),
    ".insv": ("video/mp4",),
    ".m2t": ("video/mp2t",),
    ".m2ts": ("video/mp2t",),
    ".m4v": ("video/x-m4v",),
    ".mkv": ("video/x-matroska",),
    ".mov": ("video/quicktime",),
    ".mp4": ("video/mp4",),
    ".mpe": ("video/mpeg",),
    ".mpeg": ("video/mpeg",),
    ".mpg": ("video/mpeg",),
    ".mts": ("video/mp2t",),
    ".mxf": ("application/mxf",),
    ".ts": ("video/mp2t",),
    ".vob": ("video/mpeg",),
    ".webm": ("video/webm",),
    ".wmv": ("video/x-ms-wmv",),
}

SIDECAR: dict[str, tuple[str, ...]] = {".xmp": ("application/xml", "text/xml")}

# Immich: isHeifImage -- irot (QuickTime:Rotation) is trusted over the EXIF Orientation for these.
HEIF = frozenset({".avif", ".heic", ".heif", ".hif"})
# Immich: isPossiblyAnimatedImage -- only these keep exiftool's Duration (a CR3 says "Duration: 1 s").
POSSIBLY_ANIMATED = frozenset({".avif", ".gif", ".heic", ".heif", ".jxl", ".png", ".webp"})

_ALL = {**IMAGE, **VIDEO, **SIDECAR}


def extension(filename: str | os.PathLike[str]) -> str:
    """Lower-case extension with the dot, as node's path.extname (".tar.gz" -> ".gz")."""
    return os.path.splitext(os.fspath(filename))[1].lower()


def mime_type(filename: str | os.PathLike[str]) -> str:
    """Immich: mimeTypes.lookup -- first registered type, else application/octet-stream."""
    types = _ALL.get(extension(filename))
    return types[0] if types else "application/octet-stream"


def asset_type(filename: str | os.PathLike[str]) -> str | None:
    """"IMAGE" / "VIDEO" by extension, None for anything else (upstream AssetType.Other)."""
    ext = extension(filename)
    if ext in IMAGE:
        return "IMAGE"
    if ext in VIDEO:
        return "VIDEO"
    return None


def is_image(filename: str | os.PathLike[str]) -> bool:
    return extension(filename) in IMAGE


def is_video(filename: str | os.PathLike[str]) -> bool:
    return extension(filename) in VIDEO


def is_sidecar(filename: str | os.PathLike[str]) -> bool:
    return extension(filename) in SIDECAR


def is_raw(filename: str | os.PathLike[str]) -> bool:
    return extension(filename) in RAW


def is_heif(filename: str | os.PathLike[str]) -> bool:
    return extension(filename) in HEIF


def is_web_supported_image(filename: str | os.PathLike[str]) -> bool:
    return extension(filename) in WEB_SUPPORTED_IMAGE


def is_possibly_animated(filename: str | os.PathLike[str]) -> bool:
    return extension(filename) in POSSIBLY_ANIMATED


# ISO-BMFF brands (ftyp major or compatible) of HEIF stills; AVIF's are told apart first.
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"mif2"})
_AVIF_BRANDS = frozenset({b"avif", b"avis"})
_JXL_CONTAINER = b"\x00\x00\x00\x0cJXL \r\n\x87\n"


def sniff(path: str | os.PathLike[str]) -> str | None:
    """The image format from the file's first bytes, whatever its name says: "jpeg", "png", "gif", "webp",
    "tiff", "bmp", "heif", "avif", "jxl", or None (unknown, empty or unreadable).

    The extension picks the asset type and mime type (as upstream); the decoder is picked by content, like
    libvips/sharp do, so a HEIC saved as .jpg or a JPEG saved as .heic or .nef still gets its thumbnail.
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(64)
    except OSError:
        return None
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if head.startswith(b"\xff\x0a") or head.startswith(_JXL_CONTAINER):
        return "jxl"
    if head[:2] == b"BM" and len(head) >= 26:
        return "bmp"
    if head[4:8] == b"ftyp":
        size = int.from_bytes(head[:4], "big")
        brands = {head[8:12]} | {head[i:i + 4] for i in range(16, min(max(size, 16), len(head)), 4)}
        if head[8:12] in _AVIF_BRANDS or (head[8:12] not in _HEIF_BRANDS - {b"mif1", b"msf1", b"mif2"}
                                          and brands & _AVIF_BRANDS):
            return "avif"
        if brands & _HEIF_BRANDS:
            return "heif"
    return None


def media_types() -> dict[str, list[str]]:
    """Body of GET /server/media-types (ServerMediaTypesResponseDto)."""
    return {"image": list(IMAGE), "video": list(VIDEO), "sidecar": list(SIDECAR)}
