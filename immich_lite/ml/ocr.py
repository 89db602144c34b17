"""Text recognition (OCR), in process and offline: what Immich's machine-learning container answers for the "ocr"
task, with RapidOCR's ONNX models as shipped inside the `rapidocr` wheel (PP-OCRv6 small detection and
recognition; upstream downloads PP-OCRv5 mobile/server). Nothing is downloaded at run time: every model path is
given explicitly and the recognition dictionary is read from the recognition model's own metadata.

Pipeline of `OcrEngine.read` (input: the asset's preview JPEG, already upright), following upstream's
machine-learning/immich_ml/models/ocr/{detection,recognition}.py:
decode with pyvips to sRGB uint8 HxWx3 (alpha dropped, no autorotation: boxes are in the file's pixel grid) ->
images narrower or lower than 32 px give nothing -> detector input: the *short* side shrunk to `max_resolution`
(never enlarged), each side then rounded to a multiple of 32 (upstream's `maxResolution`, default 736, does exactly
this; a 1440x1080 preview is seen as 992x736), Lanczos, BGR, (x / 255 - 0.5) / 0.5 -> DB post-processing
(threshold 0.3, unclip 1.6, dilation, "fast" box score; boxes scoring below `min_detection_score` dropped) ->
boxes in full-resolution pixels, sorted into reading order (rows 10 px apart, then left to right) -> each box
cropped from the full-resolution image by a perspective warp (turned 90 degrees when 1.5x taller than wide) ->
CTC recognition in batches of 6 at height 48 -> texts scoring *strictly* above `min_recognition_score` kept
(upstream compares with `>`, so 1.0 keeps nothing); blank texts are dropped too.
Upstream runs no angle classifier, so neither do we (the shipped cls model is not loaded).

Cost, measured on this 2-core x86_64 machine with one intra-op thread (two were slower here): load ~1 s and
+130 MB RSS (~80 MB of it the imports: onnxruntime, cv2, shapely; the two sessions ~50 MB); a read takes ~0.2 s
for two lines on a 1000x300 image, ~0.35-0.6 s for a photo with a few words, ~1.5 s for 31 lines (recognition
grows with the number of lines, ~35 ms each). A read's activations lift RSS by a further ~300 MB, which glibc keeps
until `unload`/`idle_unload` trims the heap.

Protocol: `to_protocol` gives the "ocr" value of upstream's POST /predict answer (the answer also carries
"imageHeight"/"imageWidth", the decoded size): parallel arrays, box as 8 floats per line (x1,y1 .. x4,y4,
clockwise from top-left) *already normalised* to 0..1 by the image width/height. Upstream computes boxes and
box scores in float32 and serialises them with orjson's float32 formatting (shortest round-trip float32 text,
"0.123"); text scores are float64 (RapidOCR rounds them to 5 decimals). `normalised_rows` gives the asset_ocr rows
upstream's server stores from that answer (its columns are `real`, so every number is float32 there).
"""
from __future__ import annotations

import importlib.util
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyvips

from immich_lite.ml.lifecycle import LazyModels

DEFAULT_MAX_RESOLUTION = 736  # upstream machineLearning.ocr.maxResolution default (short side, shrink only)
DEFAULT_MIN_DETECTION_SCORE = 0.5  # machineLearning.ocr.minDetectionScore default
DEFAULT_MIN_RECOGNITION_SCORE = 0.8  # machineLearning.ocr.minRecognitionScore default
MIN_SIDE = 32  # upstream's detector returns nothing for smaller images
THREADS = 1  # onnxruntime intra-op threads per session; the job runner's concurrency decides the rest

DETECTION_MODEL = "PP-OCRv6_det_small.onnx"
RECOGNITION_MODEL = "PP-OCRv6_rec_small.onnx"

# upstream's DBPostProcess settings (detection.py) and recogniser input (recognition.py)
_DB_THRESH = 0.3
_DB_MAX_CANDIDATES = 1000
_DB_UNCLIP_RATIO = 1.6
_REC_BATCH = 6
_REC_SHAPE = [3, 48, 320]

Box = tuple[float, float, float, float, float, float, float, float]


@dataclass(frozen=True)
class OcrLine:
    """One line of text: its quadrilateral (x1,y1,x2,y2,x3,y3,x4,y4, clockwise from top-left) in the decoded
    image's pixels, the detector's box score and the recogniser's text score, both in 0..1."""

    box: Box
    box_score: float
    text: str
    text_score: float


@dataclass(frozen=True)
class OcrResult:
    """Decoded image size and its lines of text in reading order."""

    width: int
    height: int
    lines: list[OcrLine]


def model_path(name: str) -> Path:
    """Path of a model file shipped inside the `rapidocr` wheel (found without importing the package).

    :raises FileNotFoundError: the package or the file is not installed.
    """
    spec = importlib.util.find_spec("rapidocr")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("rapidocr is not installed (pip install rapidocr)")
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / name
    if not path.is_file():
        raise FileNotFoundError(f"OCR model {name} not found at {path}")
    return path


def _f32(value: float) -> float:
    """`value` rounded to float32, as the Python float whose repr is orjson's float32 text ("0.1", not 0.100000001)."""
    return float(str(np.float32(value)))


def to_protocol(result: OcrResult) -> dict[str, Any]:
    """The "ocr" value of upstream's /predict answer: {"box": [8 normalised floats per line], "text": [...],
    "boxScore": [...], "textScore": [...]} (key order as upstream builds it; numbers as upstream formats them)."""
    width, height = np.float32(result.width), np.float32(result.height)
    box: list[float] = []
    for line in result.lines:
        for i, v in enumerate(line.box):
            box.append(float(str(np.float32(v) / (width if i % 2 == 0 else height))))
    return {
        "box": box,
        "text": [line.text for line in result.lines],
        "boxScore": [_f32(line.box_score) for line in result.lines],
        "textScore": [float(line.text_score) for line in result.lines],
    }


def from_protocol(ocr: dict[str, Any], width: int, height: int) -> OcrResult:
    """An upstream "ocr" answer (`to_protocol`'s shape) with the answer's imageWidth/imageHeight as an OcrResult,
    boxes scaled back to pixels.

    :raises ValueError: the arrays disagree in length.
    """
    texts: Sequence[str] = ocr.get("text") or []
    box: Sequence[float] = ocr.get("box") or []
    box_scores: Sequence[float] = ocr.get("boxScore") or []
    text_scores: Sequence[float] = ocr.get("textScore") or []
    n = len(texts)
    if len(box) != 8 * n or len(box_scores) != n or len(text_scores) != n:
        raise ValueError(f"inconsistent OCR answer: {n} texts, {len(box)} box values, {len(box_scores)} box scores, "
                         f"{len(text_scores)} text scores")
    lines = []
    for i in range(n):
        quad = box[8 * i:8 * i + 8]
        pixels = tuple(float(v) * (width if j % 2 == 0 else height) for j, v in enumerate(quad))
        lines.append(OcrLine(box=pixels, box_score=float(box_scores[i]), text=str(texts[i]),  # type: ignore[arg-type]
                             text_score=float(text_scores[i])))
    return OcrResult(width=width, height=height, lines=lines)


def normalised_rows(result: OcrResult) -> list[dict[str, Any]]:
    """The asset_ocr rows upstream's server stores for this result (OcrService.parseOcrResults): x1..y4 in 0..1
    (the protocol's normalised box), boxScore, textScore, text; numbers float32 as upstream's `real` columns."""
    ocr = to_protocol(result)
    rows = []
    for i, text in enumerate(ocr["text"]):
        quad = ocr["box"][8 * i:8 * i + 8]
        row: dict[str, Any] = {name: quad[j] for j, name in enumerate(("x1", "y1", "x2", "y2", "x3", "y3", "x4", "y4"))}
        row.update(boxScore=ocr["boxScore"][i], textScore=_f32(ocr["textScore"][i]), text=text)
        rows.append(row)
    return rows


@dataclass(frozen=True)
class _Models:
    detector: Any  # rapidocr TextDetector: only its onnxruntime session is used (its __call__ keeps per-call state)
    recognizer: Any  # rapidocr TextRecognizer: session + CTC decoder, no per-call state
    post_process: type  # rapidocr's DBPostProcess (built per call: box_thresh is a per-call option)
    crop: Callable[[np.ndarray, np.ndarray], np.ndarray]  # rapidocr's perspective crop (+ 90 degree turn)
    rec_input: type  # rapidocr's TextRecInput


def _load_models(threads: int) -> _Models:
    # onnxruntime (1.32 here) on Linux writes a device id and a telemetry event store (for Microsoft's OneCollector)
    # under ~/.cache/Microsoft/DeveloperTools when imported; this switch only works if set before that import
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    # imported on first use: the server starts without paying for rapidocr (cv2, shapely, omegaconf, ...)
    from rapidocr import RapidOCR  # noqa: PLC0415
    from rapidocr.ch_ppocr_det import TextDetector  # noqa: PLC0415
    from rapidocr.ch_ppocr_det.utils import DBPostProcess  # noqa: PLC0415
    from rapidocr.ch_ppocr_rec import TextRecInput, TextRecognizer  # noqa: PLC0415
    from rapidocr.utils.process_img import get_rotate_crop_image  # noqa: PLC0415

    # RapidOCR's logger ("RapidOCR", own stderr handler, no propagation) logs every session it builds at INFO
    logging.getLogger("RapidOCR").setLevel(logging.WARNING)
    det_path, rec_path = model_path(DETECTION_MODEL), model_path(RECOGNITION_MODEL)
    # RapidOCR's constructor only parses its config (models load lazily); we take the validated config and build
    # the two stages ourselves. Explicit model paths: with `model_path` null RapidOCR downloads its default models.
    cfg = RapidOCR(params={
        "Global.log_level": "warning",
        "Global.use_cls": False,
        "Global.model_root_dir": str(det_path.parent),
        "Det.model_path": str(det_path),
        "Rec.model_path": str(rec_path),
        "Rec.rec_batch_num": _REC_BATCH,
        "Rec.rec_img_shape": _REC_SHAPE,
        "EngineConfig.onnxruntime.intra_op_num_threads": threads,
        "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        "EngineConfig.onnxruntime.enable_cpu_mem_arena": False,
    }).cfg
    for section in (cfg.Det, cfg.Rec):
        section.engine_cfg = cfg.EngineConfig.onnxruntime
        section.model_root_dir = cfg.Global.model_root_dir
    cfg.Rec.font_path = None  # only for RapidOCR's drawing helpers (which would download a font); never drawn
    recognizer = TextRecognizer(cfg.Rec)
    if not recognizer.session.have_key():  # otherwise RapidOCR would fetch a dictionary file
        raise FileNotFoundError(f"{rec_path} carries no character dictionary")
    return _Models(detector=TextDetector(cfg.Det), recognizer=recognizer, post_process=DBPostProcess,
                   crop=get_rotate_crop_image, rec_input=TextRecInput)


def _decode(image_path: str) -> pyvips.Image:
    """The image as sRGB, 8-bit, 3 bands, in memory (alpha dropped as upstream's PIL `convert('RGB')` does)."""
    image = pyvips.Image.new_from_file(image_path, access="sequential").colourspace("srgb")
    if image.format != "uchar":
        image = image.cast("uchar")
    if image.bands > 3:
        image = image.extract_band(0, n=3)
    return image.copy_memory()


def _detector_input(image: pyvips.Image, max_resolution: int) -> np.ndarray:
    """Upstream's detector input: short side shrunk to `max_resolution`, sides rounded to multiples of 32, Lanczos,
    BGR, scaled to -1..1, NCHW float32."""
    width, height = image.width, image.height
    ratio = min(1.0, max_resolution / min(width, height))
    new_w = max(MIN_SIDE, round(int(width * ratio) / 32) * 32)
    new_h = max(MIN_SIDE, round(int(height * ratio) / 32) * 32)
    if (new_w, new_h) != (width, height):
        image = image.resize(new_w / width, vscale=new_h / height, kernel="lanczos3")
        if (image.width, image.height) != (new_w, new_h):  # vips rounds the output size on its own
            image = image.gravity("north-west", new_w, new_h, extend="copy")
    pixels = image.numpy()[:, :, ::-1].astype(np.float32)
    pixels *= 1 / 127.5
    pixels -= 1.0
    return np.ascontiguousarray(pixels.transpose(2, 0, 1)[np.newaxis])


class OcrEngine(LazyModels):
    """RapidOCR detection + recognition with lazily loaded models, safe to call from worker threads.

    Models load on the first `read` (or `load`), under one lock. onnxruntime sessions are thread-safe and the
    per-call options live in per-call objects, so reads run concurrently without an inference lock.
    `unload` drops the models (a read already running keeps its reference until it returns); `idle_unload`
    does so after `ttl_seconds` without use (Immich's machine-learning `modelTtl`, default 300 s).
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, threads: int = THREADS) -> None:
        super().__init__(clock=clock)
        self.threads = min(max(1, threads), 2)

    def _load(self) -> _Models:
        return _load_models(self.threads)

    def read(self, image_path: str, *, min_detection_score: float = DEFAULT_MIN_DETECTION_SCORE,
             min_recognition_score: float = DEFAULT_MIN_RECOGNITION_SCORE,
             max_resolution: int = DEFAULT_MAX_RESOLUTION) -> OcrResult:
        """The lines of text in the image, in reading order, with upstream's options (see the module docstring).

        :raises pyvips.Error: the file cannot be decoded.
        :raises ValueError: `max_resolution` is not positive.
        """
        if max_resolution <= 0:
            raise ValueError("max_resolution must be positive")
        image = _decode(image_path)
        width, height = image.width, image.height
        models = self._ensure_loaded()
        if width < MIN_SIDE or height < MIN_SIDE:
            return OcrResult(width=width, height=height, lines=[])
        tensor = _detector_input(image, max_resolution)
        heatmap = models.detector.session(tensor)
        post = models.post_process(thresh=_DB_THRESH, box_thresh=min_detection_score,
                                   max_candidates=_DB_MAX_CANDIDATES, unclip_ratio=_DB_UNCLIP_RATIO,
                                   use_dilation=True, score_mode="fast")
        boxes, scores = post(heatmap, (height, width))
        lines: list[OcrLine] = []
        if len(boxes):
            # reading order; keep each box with its score (the sort returns boxes only)
            order = _reading_order(boxes, models.detector.sorted_boxes)
            boxes = boxes[order].astype(np.float32)
            scores = [float(scores[i]) for i in order]
            bgr = np.ascontiguousarray(image.numpy()[:, :, ::-1])
            crops = [models.crop(bgr, box.copy()) for box in boxes]
            rec = models.recognizer(models.rec_input(img=crops))
            for box, box_score, text, text_score in zip(boxes, scores, rec.txts or (), rec.scores, strict=False):
                if text_score > min_recognition_score and text.strip():
                    lines.append(OcrLine(box=tuple(float(v) for v in box.reshape(-1)),  # type: ignore[arg-type]
                                         box_score=box_score, text=text, text_score=float(text_score)))
        self.last_used = self._clock()
        return OcrResult(width=width, height=height, lines=lines)


def _reading_order(boxes: np.ndarray, sort: Callable[[np.ndarray], np.ndarray]) -> list[int]:
    """Indices of `boxes` in RapidOCR's (= upstream's) reading order: `sort` reorders boxes, so it is run on the
    boxes tagged with their index in a spare coordinate."""
    tagged = np.zeros((len(boxes), 5, 2), dtype=np.float64)
    tagged[:, :4] = boxes
    tagged[:, 4, 0] = np.arange(len(boxes))
    return [int(i) for i in sort(tagged)[:, 4, 0]]
