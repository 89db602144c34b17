"""Text in photos (upstream OcrService: handleQueueOcr, handleOcr; AssetService.getOcr): the Ocr job reads the
preview through the machine-learning provider (ml/provider.py: a configured URL, else in process with the
PP-OCR models that ship in `rapidocr`), stores one asset_ocr row per line (box corners normalised to 0..1) and
the joined words in ocr_search, which the `ocr` search filter and the text index read.
"""
from __future__ import annotations

import logging
from typing import Any

from immich_lite import ids, jobs
from immich_lite.access import require_access
from immich_lite.auth import AuthContext
from immich_lite.ctx import Ctx
from immich_lite.jobs import JobName, JobStatus, QueueName
from immich_lite.search import text
from immich_lite.services.system_config import config_view

log = logging.getLogger("immich_lite.ocr")


def enabled(config: dict[str, Any]) -> bool:
    """Upstream isOcrEnabled."""
    ml = config["machineLearning"]
    return bool(ml["enabled"] and ml["ocr"]["enabled"])


def _request(config: dict[str, Any]) -> dict[str, Any]:
    ocr = config["machineLearning"]["ocr"]
    return {"ocr": {
        "detection": {"modelName": ocr["modelName"],
                      "options": {"minScore": ocr["minDetectionScore"], "maxResolution": ocr["maxResolution"]}},
        "recognition": {"modelName": ocr["modelName"], "options": {"minScore": ocr["minRecognitionScore"]}},
    }}


def search_text(lines: list[str]) -> str:
    """What ocr_search holds: the lines' words, folded (upstream tokenizeForSearch, joined by spaces)."""
    return " ".join(w for line in lines for w in text.words(text.fold(line) or ""))


@jobs.register(JobName.OCR_QUEUE_ALL, QueueName.OCR)
def queue_ocr(ctx: Ctx, data: dict[str, Any]) -> JobStatus:
    if not enabled(config_view(ctx)):
        return JobStatus.SKIPPED
    force = bool(data.get("force"))
    if force:
        with ctx.db.write() as w:
            w.execute("DELETE FROM asset_ocr")
            w.execute("DELETE FROM ocr_search")
            w.execute("UPDATE asset_job_status SET ocr_at = NULL WHERE ocr_at IS NOT NULL")
    sql = ("SELECT a.id FROM asset a WHERE a.deleted_at IS NULL AND a.visibility != 'hidden' AND EXISTS "
           "(SELECT 1 FROM asset_file f WHERE f.asset_id = a.id AND f.type = 'preview')")
    if not force:
        sql += " AND NOT EXISTS (SELECT 1 FROM asset_job_status s WHERE s.asset_id = a.id AND s.ocr_at IS NOT NULL)"
    from immich_lite.services.queue import fan_out  # noqa: PLC0415

    return fan_out(ctx, sql + " ORDER BY a.id", (), JobName.OCR)


@jobs.register(JobName.OCR, QueueName.OCR)
def run_ocr(ctx: Ctx, data: dict[str, Any]) -> JobStatus:
    config = config_view(ctx)
    if not enabled(config):
        return JobStatus.SKIPPED
    from immich_lite.ml import provider  # noqa: PLC0415

    conn = ctx.db.reader()
    asset = conn.execute("SELECT id, visibility FROM asset WHERE id = ?", (data["id"],)).fetchone()
    preview = conn.execute("SELECT path FROM asset_file WHERE asset_id = ? AND type = 'preview' AND is_edited = 0",
                           (data["id"],)).fetchone()
    if asset is None or preview is None:
        return JobStatus.FAILED
    if asset["visibility"] == "hidden":
        return JobStatus.SKIPPED
    answer = provider.predict(ctx, config["machineLearning"], _request(config),
                              image_path=str(ctx.storage.absolute(preview["path"])))
    rows = parse(answer.get("ocr"))
    with ctx.db.write() as w:
        if w.execute("SELECT 1 FROM asset WHERE id = ?", (asset["id"],)).fetchone() is None:
            return JobStatus.SKIPPED  # deleted meanwhile
        replace(w, asset["id"], rows)
        w.execute("INSERT INTO asset_job_status (asset_id, ocr_at) VALUES (?, ?) ON CONFLICT (asset_id) "
                  "DO UPDATE SET ocr_at = excluded.ocr_at", (asset["id"], ids.now_iso()))
    if rows:
        log.debug("read %d line(s) of text in asset %s", len(rows), asset["id"])
    return JobStatus.SUCCESS


def parse(ocr: Any) -> list[dict[str, Any]]:
    """Upstream parseOcrResults: the ML answer's parallel lists (box: 8 normalised numbers per line) as rows.
    :raises ValueError: not an OCR answer."""
    if not isinstance(ocr, dict):
        raise ValueError("the machine-learning answer has no ocr result")
    texts, box, box_scores, text_scores = ocr.get("text"), ocr.get("box"), ocr.get("boxScore"), ocr.get("textScore")
    if not all(isinstance(v, list) for v in (texts, box, box_scores, text_scores)) or \
            len(box) != 8 * len(texts) or len(box_scores) != len(texts) or len(text_scores) != len(texts):
        raise ValueError("malformed ocr result")
    return [{"x1": float(box[8 * i]), "y1": float(box[8 * i + 1]), "x2": float(box[8 * i + 2]),
             "y2": float(box[8 * i + 3]), "x3": float(box[8 * i + 4]), "y3": float(box[8 * i + 5]),
             "x4": float(box[8 * i + 6]), "y4": float(box[8 * i + 7]), "box_score": float(box_scores[i]),
             "text_score": float(text_scores[i]), "text": str(texts[i])} for i in range(len(texts))]


def replace(w: Any, asset_id: str, rows: list[dict[str, Any]]) -> None:
    """Upstream ocrRepository.upsert: the asset's lines and search text replaced."""
    w.execute("DELETE FROM asset_ocr WHERE asset_id = ?", (asset_id,))
    for r in rows:
        w.execute("INSERT INTO asset_ocr (id, asset_id, x1, y1, x2, y2, x3, y3, x4, y4, box_score, text_score, text) "
                  "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                  (ids.new_id(), asset_id, r["x1"], r["y1"], r["x2"], r["y2"], r["x3"], r["y3"], r["x4"], r["y4"],
                   r["box_score"], r["text_score"], r["text"]))
    joined = search_text([r["text"] for r in rows])
    if joined:
        w.execute("INSERT INTO ocr_search (asset_id, text) VALUES (?, ?) ON CONFLICT (asset_id) "
                  "DO UPDATE SET text = excluded.text", (asset_id, joined))
    else:
        w.execute("DELETE FROM ocr_search WHERE asset_id = ?", (asset_id,))


def map_ocr(r: Any) -> dict[str, Any]:
    return {"id": r["id"], "assetId": r["asset_id"], "x1": r["x1"], "y1": r["y1"], "x2": r["x2"], "y2": r["y2"],
            "x3": r["x3"], "y3": r["y3"], "x4": r["x4"], "y4": r["y4"], "boxScore": r["box_score"],
            "textScore": r["text_score"], "text": r["text"]}


def get_ocr(ctx: Ctx, auth: AuthContext, asset_id: str) -> list[dict[str, Any]]:
    """GET /assets/{id}/ocr: the visible lines (upstream getByAssetId, isVisible true)."""
    conn = ctx.db.reader()
    require_access(conn, auth, "asset.read", [asset_id])
    return [map_ocr(r) for r in conn.execute(
        "SELECT * FROM asset_ocr WHERE asset_id = ? AND is_visible = 1 ORDER BY rowid", (asset_id,))]
