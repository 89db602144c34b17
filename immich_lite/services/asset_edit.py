"""Non-destructive edits: crop, rotate, mirror (upstream AssetService.editAsset/getAssetEdits/removeAssetEdits,
MediaService.handleAssetEditThumbnailGeneration, utils/transform.ts, dtos/editing.dto.ts).

The edit list is stored per asset (table asset_edit, `sequence` order, crop always first); the original is never
touched. A job renders `<id>_{fullsize,preview,thumbnail}_edited.<ext>` from the original: decode autorotated
(EXIF orientation applied), crop in those oriented pixel coordinates, then each rotate (clockwise degrees) and
mirror (horizontal = left↔right, vertical = top↔bottom) in list order, then resize. The asset's width/height and
thumbhash become the edited ones; removing the edits restores the unedited values.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pyvips

from immich_lite import ids
from immich_lite.access import require_access
from immich_lite.auth import AuthContext
from immich_lite.ctx import Ctx
from immich_lite.dto.sync import map_sync_asset
from immich_lite.errors import BadRequest, ValidationFailed, invalid
from immich_lite.jobs import JobName, JobStatus, QueueName, enqueue, register
from immich_lite.media import MediaError
from immich_lite.media import thumbnail as thumbs
from immich_lite.repos import asset as repo
from immich_lite.storage import commit_file
from immich_lite.validation import custom

log = logging.getLogger("immich_lite.edit")

KEYS: dict[str, tuple[str, ...]] = {"crop": ("x", "y", "width", "height"), "rotate": ("angle",), "mirror": ("axis",)}
ANGLES = (0, 90, 180, 270)
KINDS = ("fullsize", "preview", "thumbnail")
_SIDEWAYS = {"5", "6", "7", "8", "-90", "90"}  # upstream asset.util isFlipped


# --- validation (upstream editing.dto.ts refinements; the spec's anyOf cannot express them) -------------------

def _number(v: Any) -> Any:
    return int(v) if isinstance(v, float) and v.is_integer() else v


def parse_edits(dto: dict[str, Any]) -> list[dict[str, Any]]:
    """The body after spec validation → the edit list, or BadRequest as upstream's DTO refinements."""
    errors: list[dict[str, Any]] = []
    out: list[dict[str, Any]] = []
    for i, item in enumerate(dto["edits"]):
        action, params = item["action"], item["parameters"]
        keys = KEYS[action]
        if not isinstance(params, dict) or any(k not in params for k in keys):
            errors.append(custom(["edits", i, "parameters"],
                                 f"Invalid parameters for action '{action}', expecting keys: {', '.join(keys)}"))
            continue
        clean = {k: _number(params[k]) for k in keys}
        if action == "rotate" and clean["angle"] not in ANGLES:
            errors.append(custom(["edits", i, "parameters", "angle"],
                                 "Angle must be one of the following values: 0, 90, 180, 270"))
        out.append({"action": action, "parameters": clean})
    if errors:
        raise ValidationFailed(errors)
    seen: set[str] = set()
    for e in out:
        key = f"mirror-{e['parameters']['axis']}" if e["action"] == "mirror" else e["action"]
        if key in seen:
            raise invalid(["edits"], "Duplicate edit actions are not allowed")
        seen.add(key)
    return out


def oriented_size(exif: dict[str, Any] | None) -> tuple[int, int]:
    """upstream getDimensions: exif size with width/height swapped for sideways orientations; (0, 0) if unknown."""
    if not exif or not exif.get("exif_image_width") or not exif.get("exif_image_height"):
        return 0, 0
    w, h = int(exif["exif_image_width"]), int(exif["exif_image_height"])
    return (h, w) if str(exif.get("orientation") or "") in _SIDEWAYS else (w, h)


def output_size(edits: list[dict[str, Any]], width: int, height: int) -> tuple[int, int]:
    """upstream getOutputDimensions."""
    for e in edits:
        if e["action"] == "crop":
            width, height = e["parameters"]["width"], e["parameters"]["height"]
            break
    for e in edits:
        if e["action"] == "rotate" and e["parameters"]["angle"] in (90, 270):
            width, height = height, width
    return width, height


# --- storage --------------------------------------------------------------------------------------------------

def load(conn: Any, asset_id: str) -> list[dict[str, Any]]:
    return [{"id": r["id"], "action": r["action"], "parameters": json.loads(r["parameters"]),
             "sequence": r["sequence"]}
            for r in conn.execute("SELECT id, action, parameters, sequence FROM asset_edit WHERE asset_id = ? "
                                  "ORDER BY sequence", (asset_id,))]


def _item(e: dict[str, Any]) -> dict[str, Any]:
    return {"id": e["id"], "action": e["action"], "parameters": e["parameters"]}


def map_sync_edit(e: dict[str, Any], asset_id: str) -> dict[str, Any]:
    return {"id": e["id"], "assetId": asset_id, "action": e["action"], "parameters": e["parameters"],
            "sequence": e["sequence"]}


# --- API ------------------------------------------------------------------------------------------------------

def get(ctx: Ctx, auth: AuthContext, asset_id: str) -> dict[str, Any]:
    """GET /assets/{id}/edits: upstream checks asset.read (album members and partners may read them)."""
    with ctx.db.read() as conn:
        require_access(conn, auth, "asset.read", [asset_id])
        return {"assetId": asset_id, "edits": [_item(e) for e in load(conn, asset_id)]}


def edit(ctx: Ctx, auth: AuthContext, asset_id: str, dto: dict[str, Any]) -> dict[str, Any]:
    """PUT /assets/{id}/edits: replace the whole edit list and queue the edited renditions."""
    edits = parse_edits(dto)
    with ctx.db.write() as conn:
        require_access(conn, auth, "asset.edit.create", [asset_id])
        a = repo.get(conn, asset_id)
        exif = repo.get_exif(conn, asset_id)
        if a is None or exif is None:
            raise BadRequest("Asset not found")
        if a["type"] != "IMAGE":
            raise BadRequest("Only images can be edited")
        if a["live_photo_video_id"]:
            raise BadRequest("Editing live photos is not supported")
        if exif.get("projection_type") == "EQUIRECTANGULAR" or a["original_file_name"].lower().endswith(".insp"):
            raise BadRequest("Editing panorama images is not supported")
        original = a["original_path"].lower()
        if original.endswith(".gif"):
            raise BadRequest("Editing GIF images is not supported")
        if original.endswith(".svg"):
            raise BadRequest("Editing SVG images is not supported")
        width, height = oriented_size(exif)
        if not width or not height:
            raise BadRequest("Asset dimensions are not available for editing")
        crop = next((e for e in edits if e["action"] == "crop"), None)
        if crop is not None:
            if edits[0]["action"] != "crop":
                raise BadRequest("Crop action must be the first edit action")
            p = crop["parameters"]
            if p["x"] + p["width"] > width or p["y"] + p["height"] > height:
                raise BadRequest("Crop parameters are out of bounds")
        conn.execute("DELETE FROM asset_edit WHERE asset_id = ?", (asset_id,))
        stored = []
        for seq, e in enumerate(edits):
            edit_id = ids.new_id()
            conn.execute("INSERT INTO asset_edit (id, asset_id, action, parameters, sequence) VALUES (?, ?, ?, ?, ?)",
                         (edit_id, asset_id, e["action"], json.dumps(e["parameters"]), seq))
            stored.append({"id": edit_id, **e})
        enqueue(conn, JobName.ASSET_EDIT_THUMBNAIL_GENERATION, {"id": asset_id})
    return {"assetId": asset_id, "edits": stored}


def remove(ctx: Ctx, auth: AuthContext, asset_id: str) -> None:
    """DELETE /assets/{id}/edits: drop the list and the edited files at once; the job restores size/thumbhash."""
    with ctx.db.write() as conn:
        require_access(conn, auth, "asset.edit.delete", [asset_id])
        if repo.get(conn, asset_id) is None:
            raise BadRequest("Asset not found")
        conn.execute("DELETE FROM asset_edit WHERE asset_id = ?", (asset_id,))
        stale = _drop_edited_files(conn, asset_id)
        enqueue(conn, JobName.ASSET_EDIT_THUMBNAIL_GENERATION, {"id": asset_id})
    ctx.storage.remove(stale)


def _drop_edited_files(conn: Any, asset_id: str, keep: frozenset[str] | set[str] = frozenset()) -> list[str]:
    rows = [f for f in conn.execute("SELECT id, type, path FROM asset_file WHERE asset_id = ? AND is_edited = 1",
                                    (asset_id,)) if f["type"] not in keep]
    for f in rows:
        conn.execute("DELETE FROM asset_file WHERE id = ?", (f["id"],))
    return [f["path"] for f in rows]


# --- rendering ------------------------------------------------------------------------------------------------

def apply_edits(image: pyvips.Image, edits: list[dict[str, Any]], reference: tuple[int, int]) -> pyvips.Image:
    """Crop (in the oriented reference size's coordinates, scaled if the decoded image differs, e.g. a RAW's
    smaller embedded preview), then rotate/mirror in list order (upstream media.repository applyEdits)."""
    for e in edits:
        if e["action"] != "crop":
            continue
        p = e["parameters"]
        ref_w, ref_h = reference
        sx = image.width / ref_w if ref_w else 1.0
        sy = image.height / ref_h if ref_h else 1.0
        left = min(max(0, round(p["x"] * sx)), image.width - 1)
        top = min(max(0, round(p["y"] * sy)), image.height - 1)
        width = max(1, min(round(p["width"] * sx), image.width - left))
        height = max(1, min(round(p["height"] * sy), image.height - top))
        image = image.crop(left, top, width, height)
    for e in edits:
        if e["action"] == "rotate":
            angle = int(e["parameters"]["angle"]) % 360
            if angle:
                image = image.rot(f"d{angle}")
        elif e["action"] == "mirror":
            image = image.fliphor() if e["parameters"]["axis"] == "horizontal" else image.flipver()
    return image


def _orientation(exif: dict[str, Any] | None) -> int | None:
    value = str((exif or {}).get("orientation") or "")
    return int(value) if value.isdigit() else None


def _decode(ctx: Ctx, a: dict[str, Any], exif: dict[str, Any] | None, size: int | None, colorspace: str,
            work: Path) -> pyvips.Image:
    from immich_lite.services.metadata import exiftool  # noqa: PLC0415

    src = os.fspath(ctx.storage.absolute(a["original_path"]))
    if not os.path.isfile(src) or os.path.getsize(src) == 0:
        raise MediaError(f"{src} is missing or empty")
    try:
        image, _ = thumbs._decode(src, "IMAGE", size, colorspace, thumbs.MAX_PIXELS, exiftool(ctx),
                                  _orientation(exif), work)
        return image.copy_memory()
    except pyvips.Error as exc:
        raise thumbs._vips_error(exc, src) from exc


def _thumbhash(image: pyvips.Image) -> bytes:
    small = thumbs._rgba(image.thumbnail_image(100, height=100, size="down"))
    return thumbs.rgba_to_thumbhash(small.width, small.height, small.write_to_memory())


def _save(image: pyvips.Image, path: Path, fmt: str, quality: int) -> None:
    thumbs._save(thumbs._flatten(image) if fmt.lower() in ("jpeg", "jpg") else image, path, fmt, quality)


def render(ctx: Ctx, a: dict[str, Any], exif: dict[str, Any] | None, edits: list[dict[str, Any]],
           cfg: dict[str, Any], work: Path) -> tuple[dict[str, tuple[Path, str]], bytes, tuple[int, int]]:
    """Edited fullsize, preview and thumbnail into `work`: {kind: (temp file, format)}, thumbhash, edited size."""
    image = _decode(ctx, a, exif, None, cfg["colorspace"], work)
    reference = oriented_size(exif)
    if not reference[0]:
        reference = (image.width, image.height)
    try:
        image = apply_edits(image, edits, reference).copy_memory()
        out: dict[str, tuple[Path, str]] = {}
        fmt = cfg["fullsize"]["format"]
        out["fullsize"] = (work / f"fullsize.{fmt}", fmt)
        _save(image, out["fullsize"][0], fmt, cfg["fullsize"]["quality"])
        box = thumbs._fit_outside(image.width, image.height, cfg["preview"]["size"])
        preview = image.thumbnail_image(box[0], height=box[1], size="down").copy_memory()
        fmt = cfg["preview"]["format"]
        out["preview"] = (work / f"preview.{fmt}", fmt)
        _save(preview, out["preview"][0], fmt, cfg["preview"]["quality"])
        box = thumbs._fit_outside(preview.width, preview.height, cfg["thumbnail"]["size"])
        fmt = cfg["thumbnail"]["format"]
        out["thumbnail"] = (work / f"thumbnail.{fmt}", fmt)
        _save(preview.thumbnail_image(box[0], height=box[1], size="down"), out["thumbnail"][0], fmt,
              cfg["thumbnail"]["quality"])
        return out, _thumbhash(preview), (image.width, image.height)
    except pyvips.Error as exc:
        raise thumbs._vips_error(exc, a["original_path"]) from exc


def _overlap(box: tuple[float, float, float, float], crop: tuple[float, float, float, float]) -> float:
    """Upstream boundingBoxOverlap: the share of `box` inside `crop`."""
    w = max(0.0, min(box[2], crop[2]) - max(box[0], crop[0]))
    h = max(0.0, min(box[3], crop[3]) - max(box[1], crop[1]))
    area = (box[2] - box[0]) * (box[3] - box[1])
    return w * h / area if area > 0 else 0.0


def update_visibility(conn: Any, asset_id: str, edits: list[dict[str, Any]], size: tuple[int, int]) -> None:
    """Upstream checkFaceVisibility / checkOcrVisibility after an edit: faces and text lines at least half
    inside the crop stay visible, the others are hidden; without a crop everything is visible again. The OCR
    search text follows the visible lines."""
    from immich_lite.services.ocr import search_text  # noqa: PLC0415

    crop_edit = next((e for e in edits if e["action"] == "crop"), None)
    width, height = size
    crop = None
    if crop_edit is not None and width and height:
        p = crop_edit["parameters"]
        crop = (float(p["x"]), float(p["y"]), float(p["x"] + p["width"]), float(p["y"] + p["height"]))
    for f in conn.execute("SELECT id, image_width, image_height, bounding_box_x1, bounding_box_y1, bounding_box_x2, "
                          "bounding_box_y2, is_visible FROM asset_face WHERE asset_id = ? AND deleted_at IS NULL",
                          (asset_id,)).fetchall():
        visible = True
        if crop is not None:
            sx, sy = width / (f["image_width"] or 1), height / (f["image_height"] or 1)
            visible = _overlap((f["bounding_box_x1"] * sx, f["bounding_box_y1"] * sy, f["bounding_box_x2"] * sx,
                                f["bounding_box_y2"] * sy), crop) >= 0.5
        if bool(f["is_visible"]) != visible:
            conn.execute("UPDATE asset_face SET is_visible = ? WHERE id = ?", (int(visible), f["id"]))
    lines = conn.execute("SELECT * FROM asset_ocr WHERE asset_id = ?", (asset_id,)).fetchall()
    shown = []
    for o in lines:
        visible = True
        if crop is not None:
            xs, ys = (o["x1"], o["x2"], o["x3"], o["x4"]), (o["y1"], o["y2"], o["y3"], o["y4"])
            visible = _overlap((min(xs) * width, min(ys) * height, max(xs) * width, max(ys) * height), crop) >= 0.5
        if bool(o["is_visible"]) != visible:
            conn.execute("UPDATE asset_ocr SET is_visible = ? WHERE id = ?", (int(visible), o["id"]))
        if visible:
            shown.append(o["text"])
    if lines:
        conn.execute("UPDATE ocr_search SET text = ? WHERE asset_id = ?", (search_text(shown), asset_id))


@register(JobName.ASSET_EDIT_THUMBNAIL_GENERATION, QueueName.EDITOR)
def generate_edited(ctx: Ctx, data: dict[str, Any]) -> JobStatus:
    """Render the current edit list (or, with none, restore the unedited thumbhash and size).

    Rendering happens outside the writer lock into a work dir; the files are moved into place inside the write
    transaction, and only if the edit list is still the one rendered: a newer PUT/DELETE queued its own job, so
    the last committed list always wins, whatever order concurrent jobs finish in.
    """
    from immich_lite.services.system_config import get_config  # noqa: PLC0415

    asset_id = data["id"]
    with ctx.db.read() as conn:
        a = repo.get(conn, asset_id)
        exif = repo.get_exif(conn, asset_id)
        edits = load(conn, asset_id)
    if a is None or a["status"] == "deleted":
        return JobStatus.SKIPPED
    cfg = get_config(ctx)["image"]
    work = Path(tempfile.mkdtemp(prefix="immich-lite-edit-", dir=ctx.storage.root / "tmp"))
    try:
        rendered: dict[str, tuple[Path, str]] = {}
        thumbhash: bytes | None = None
        size = oriented_size(exif) if a["type"] == "IMAGE" else (0, 0)
        try:
            if edits and a["type"] == "IMAGE":
                rendered, thumbhash, size = render(ctx, a, exif, edits, cfg, work)
            elif a["type"] == "IMAGE":
                preview = _decode(ctx, a, exif, cfg["preview"]["size"], cfg["colorspace"], work)
                size = size if size[0] else (a["width"], a["height"])
                thumbhash = _thumbhash(preview)
        except MediaError as e:
            log.warning("edited thumbnail generation failed for %s: %s", asset_id, e)
            if edits:
                return JobStatus.FAILED
            thumbhash = None  # no edits: still drop the edited files, keep the current thumbhash
        with ctx.db.write() as wconn:
            current = repo.get(wconn, asset_id)
            current_edits = load(wconn, asset_id)  # unchanged below: only asset_file and asset rows are written
            if current is None or [e["id"] for e in current_edits] != [e["id"] for e in edits]:
                return JobStatus.SKIPPED
            stale = _drop_edited_files(wconn, asset_id, keep=set(rendered))
            for kind, (tmp, fmt) in rendered.items():
                dest = ctx.storage.thumb_path(a["owner_id"], asset_id, kind, fmt, edited=True)
                commit_file(tmp, dest)
                old = repo.get_file(wconn, asset_id, kind, edited=True)
                if old is not None and old["path"] != ctx.storage.relative(dest):
                    stale.append(old["path"])
                repo.upsert_file(wconn, asset_id, kind, ctx.storage.relative(dest), edited=True)
            values: dict[str, Any] = {}
            if thumbhash is not None and (current["thumbhash"] is None or bytes(current["thumbhash"]) != thumbhash):
                values["thumbhash"] = thumbhash
            if size[0] and size[1] and (current["width"], current["height"]) != tuple(size):
                values["width"], values["height"] = size
            if values:
                repo.update(wconn, asset_id, **values)
            if a["type"] == "IMAGE":
                reference = oriented_size(exif)
                update_visibility(wconn, asset_id, edits, reference if reference[0] else (a["width"], a["height"]))
            fresh = repo.get(wconn, asset_id)
        ctx.storage.remove(stale)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if ctx.events and fresh is not None:
        # upstream JobService.onDone → AssetEditReadyV2 to the owner
        ctx.events.emit("AssetEditReadyV2", fresh["owner_id"], {
            "asset": map_sync_asset(fresh), "edit": [map_sync_edit(e, asset_id) for e in current_edits]})
    return JobStatus.SUCCESS
