"""Machine learning: the in-process engines (faces: ml/faces.py + ml/dlib_onnx.py, CLIP: ml/clip.py, OCR: ml/ocr.py),
upstream's ML protocol as a client (ml/provider.py) and as a server (ml/server.py)."""
import os

# onnxruntime writes a telemetry id and event store under ~/.cache on its first import unless told not to
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
