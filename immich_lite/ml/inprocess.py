"""The in-process machine-learning provider: upstream's `/predict` request and answer, computed in this process.

One object per models directory holds the three engines (faces: ml/faces.py, CLIP: ml/clip.py, OCR: ml/ocr.py);
each loads its models on first use and frees them after idle (`unload_idle`). `predict` takes upstream's
`entries` (machine-learning/immich_ml/main.py: {task: {type: {modelName, options}}}) and an image path or a text,
and answers exactly what upstream's container answers, so the same object serves `immich-lite ml-serve` (ml/server.py)
and this server's own jobs (ml/provider.py).

Models: faces use dlib's models from the `face_recognition_models` package whatever `modelName` says (128-D
embeddings, Euclidean); OCR uses the PP-OCR models inside the `rapidocr` wheel; CLIP loads `<models_dir>/<modelName>`
in upstream's layout. Nothing is downloaded: a model that is not there raises `ModelMissing`.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np

FACE_TASK, CLIP_TASK, OCR_TASK = "facial-recognition", "clip", "ocr"
FACE_EMBEDDING_DIM = 128  # dlib's descriptor (face_search holds any size: upstream's buffalo_l is 512)


class MlError(Exception):
    """A request this provider cannot answer (bad entries, a model that is not there); the message says why."""

    status = 400


class ModelMissing(MlError):
    status = 500


class InvalidRequest(MlError):
    """Entries that are not upstream's request shape (FastAPI's 422 "Invalid request format.")."""

    status = 422

    def __init__(self) -> None:
        super().__init__("Invalid request format.")


def _serialize(vector: Any) -> str:
    """An embedding as upstream sends it: a JSON array of float32 values in a string."""
    from immich_lite.ml.clip import embedding_to_json  # noqa: PLC0415

    return embedding_to_json(vector)


_shared_engines: dict[str, Any] = {}
_shared_lock = threading.Lock()


def _shared(kind: str) -> Any:
    with _shared_lock:
        found = _shared_engines.get(kind)
        if found is None:
            if kind == "faces":
                from immich_lite.ml.faces import FaceEngine  # noqa: PLC0415

                found = FaceEngine()
            else:
                from immich_lite.ml.ocr import OcrEngine  # noqa: PLC0415

                found = OcrEngine()
            _shared_engines[kind] = found
        return found


class InProcess:
    def __init__(self, models_dir: str | Path) -> None:
        self.models_dir = Path(models_dir)
        self._lock = threading.Lock()
        self._faces: Any = None
        self._clip: Any = None
        self._ocr: Any = None

    # engines, created on first use (creating one loads nothing). Faces and OCR use models from their packages,
    # the same for every models directory: one engine each per process, so a second server object in the same
    # process (tests) does not load them again.
    def faces(self) -> Any:
        with self._lock:
            if self._faces is None:
                self._faces = _shared("faces")
            return self._faces

    def clip(self) -> Any:
        with self._lock:
            if self._clip is None:
                from immich_lite.ml.clip import ClipEngine  # noqa: PLC0415

                self._clip = ClipEngine(self.models_dir)
            return self._clip

    def ocr(self) -> Any:
        with self._lock:
            if self._ocr is None:
                self._ocr = _shared("ocr")
            return self._ocr

    def loaded(self) -> list[str]:
        return [name for name, e in (("faces", self._faces), ("clip", self._clip), ("ocr", self._ocr))
                if e is not None and e.loaded]

    def unload_idle(self, ttl: float) -> list[str]:
        """Free every engine idle for `ttl` seconds (upstream's modelTtl); the names of those freed."""
        return [name for name, e in (("faces", self._faces), ("clip", self._clip), ("ocr", self._ocr))
                if e is not None and e.idle_unload(ttl)]

    def unload(self) -> None:
        for e in (self._faces, self._clip, self._ocr):
            if e is not None:
                e.unload()

    def clip_available(self, model_name: str) -> bool:
        try:
            return bool(self.clip().available(model_name))
        except Exception:  # noqa: BLE001 (an unreadable models dir: not available)
            return False

    # upstream's /predict
    def predict(self, entries: dict[str, Any], *, image_path: str | None = None,
                text: str | None = None) -> dict[str, Any]:
        if not isinstance(entries, dict) or not entries:
            raise InvalidRequest()
        if image_path is None and text is None:
            raise MlError("Either image or text must be provided")
        out: dict[str, Any] = {}
        size: tuple[int, int] | None = None
        for task, types in entries.items():
            if not isinstance(types, dict):
                raise InvalidRequest()
            if task == FACE_TASK:
                if image_path is None:
                    raise MlError(f"Task {task} needs an image")
                det = types.get("detection") or {}
                min_score = float((det.get("options") or {}).get("minScore", 0.7))
                width, height, faces = self.faces().detect(image_path, min_score=min_score)
                size = (width, height)
                out[task] = [{"boundingBox": {"x1": f.x1, "y1": f.y1, "x2": f.x2, "y2": f.y2},
                              "embedding": _serialize(np.frombuffer(f.embedding, dtype="<f4")), "score": f.score}
                             for f in faces]
            elif task == CLIP_TASK:
                out[task] = self._clip_task(types, image_path, text)
                if image_path is not None and size is None:
                    size = _image_size(image_path)
            elif task == OCR_TASK:
                if image_path is None:
                    raise MlError(f"Task {task} needs an image")
                from immich_lite.ml.ocr import to_protocol  # noqa: PLC0415

                det = (types.get("detection") or {}).get("options") or {}
                rec = (types.get("recognition") or {}).get("options") or {}
                result = self.ocr().read(image_path, min_detection_score=float(det.get("minScore", 0.5)),
                                         min_recognition_score=float(rec.get("minScore", 0.8)),
                                         max_resolution=int(det.get("maxResolution", 736)))
                size = (result.width, result.height)
                out[task] = to_protocol(result)
            else:
                raise MlError(f"Unknown task {task}")
        if image_path is not None:
            width, height = size if size is not None else _image_size(image_path)
            out["imageHeight"], out["imageWidth"] = height, width
        return out

    def _clip_task(self, types: dict[str, Any], image_path: str | None, text: str | None) -> str:
        from immich_lite.ml.clip import ModelMissing as ClipMissing  # noqa: PLC0415

        engine = self.clip()
        try:
            if "visual" in types and image_path is not None:
                return _serialize(engine.encode_image(image_path, str(types["visual"].get("modelName", ""))))
            if "textual" in types and text is not None:
                entry = types["textual"]
                language = (entry.get("options") or {}).get("language")
                return _serialize(engine.encode_text(text, str(entry.get("modelName", "")), language))
        except ClipMissing as e:
            raise ModelMissing(str(e)) from None
        raise InvalidRequest()


def _image_size(path: str) -> tuple[int, int]:
    import pyvips  # noqa: PLC0415

    image = pyvips.Image.new_from_file(path)
    return image.width, image.height
