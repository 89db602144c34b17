"""In-process, offline machine learning (faces: dlib HOG detection + 128-D embeddings; see ml/faces.py)."""
