"""The dlib face engine (immich_lite/ml/faces.py) on the labelled photos of /work/shared/corpus/faces: counts,
identities (same person below SAME_PERSON_DISTANCE, different people above), boxes, scores, model lifecycle,
plus printed timing and memory figures (no timing asserts: the machine is shared)."""
from __future__ import annotations

import itertools
import math
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.importorskip("dlib")
pyvips = pytest.importorskip("pyvips")

from immich_lite.ml import faces as ml  # noqa: E402
from immich_lite.ml.faces import Face, FaceEngine  # noqa: E402

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
FACES = CORPUS / "faces"
MIN_SCORE = 0.7  # Immich's machineLearning.facialRecognition.minScore default


@dataclass(frozen=True)
class Label:
    file: str
    count: int
    people: tuple[str, ...]  # left to right; a photo may hold more faces than names (an unnamed child)


def labels() -> list[Label]:
    if not (FACES / "LABELS.tsv").is_file():
        return []
    rows = [line.split("\t") for line in (FACES / "LABELS.tsv").read_text().splitlines()[1:] if line.strip()]
    return [Label(file, int(count), tuple(people.split(", "))) for file, count, people in rows]


@pytest.fixture(scope="module")
def engine() -> FaceEngine:
    if not FACES.is_dir():
        pytest.skip(f"face corpus not found at {FACES}")
    return FaceEngine()


@pytest.fixture(scope="module")
def detected(engine: FaceEngine) -> dict[str, tuple[int, int, list[Face], float]]:
    """Every labelled photo detected once at the default minScore: file -> (width, height, faces, seconds)."""
    engine.load()
    out = {}
    for label in labels():
        start = time.perf_counter()
        width, height, faces = engine.detect(str(FACES / label.file), min_score=MIN_SCORE)
        out[label.file] = (width, height, faces, time.perf_counter() - start)
    return out


def named_faces(detected: dict[str, tuple[int, int, list[Face], float]]) -> list[tuple[str, str, Face]]:
    """(person, file, face) for each named face: faces beyond the names are the smallest ones (the unnamed child
    of obama-and-biden.jpg), the rest map to the names left to right."""
    out = []
    for label in labels():
        faces = list(detected[label.file][2])
        while len(faces) > len(label.people):
            faces.remove(min(faces, key=lambda f: (f.x2 - f.x1) * (f.y2 - f.y1)))
        out += [(person, label.file, face) for person, face in zip(label.people, faces, strict=True)]
    return out


def pair_distances(detected: dict[str, tuple[int, int, list[Face], float]]) -> tuple[list, list]:
    same, different = [], []
    for (pa, fa, a), (pb, fb, b) in itertools.combinations(named_faces(detected), 2):
        (same if pa == pb else different).append((ml.distance(a.embedding, b.embedding), pa, fa, pb, fb))
    return sorted(same), sorted(different)


@pytest.mark.parametrize("label", labels(), ids=lambda label: label.file)
def test_detect_counts_labelled_faces(detected: dict, label: Label) -> None:
    _, _, faces, _ = detected[label.file]
    assert len(faces) == label.count, [(f.x1, f.y1, f.x2, f.y2, round(f.score, 3)) for f in faces]
    assert all(f.score >= MIN_SCORE for f in faces)


def test_detect_boxes_lie_inside_image(detected: dict) -> None:
    for file, (width, height, faces, _) in detected.items():
        image = pyvips.Image.new_from_file(str(FACES / file))
        assert (width, height) == (image.width, image.height)
        for f in faces:
            assert 0 <= f.x1 < f.x2 <= width and 0 <= f.y1 < f.y2 <= height, (file, f)


def test_detect_embeddings_are_128_float32_blobs(detected: dict) -> None:
    face = detected["obama-1.jpg"][2][0]
    assert isinstance(face.embedding, bytes) and len(face.embedding) == ml.EMBEDDING_BYTES == 512
    assert len(face.vector) == 128 and all(math.isfinite(v) for v in face.vector)
    assert ml.to_blob(face.vector) == face.embedding


def test_same_person_pairs_are_below_threshold(detected: dict) -> None:
    same, _ = pair_distances(detected)
    assert len(same) == 16  # Obama 5 faces -> 10 pairs, Biden 3 -> 3, three people with 2 -> 3
    print(f"\nsame person: {len(same)} pairs, distance {same[0][0]:.3f}..{same[-1][0]:.3f} "
          f"(worst {same[-1][2]} ~ {same[-1][4]}), margin below {ml.SAME_PERSON_DISTANCE}: "
          f"{ml.SAME_PERSON_DISTANCE - same[-1][0]:.3f}")
    assert same[-1][0] < ml.SAME_PERSON_DISTANCE, same[-1]


def test_different_people_pairs_are_above_threshold(detected: dict) -> None:
    _, different = pair_distances(detected)
    print(f"\ndifferent people: {len(different)} pairs, distance {different[0][0]:.3f}..{different[-1][0]:.3f} "
          f"(closest {different[0][1]} / {different[0][3]}), margin above {ml.SAME_PERSON_DISTANCE}: "
          f"{different[0][0] - ml.SAME_PERSON_DISTANCE:.3f}")
    assert different[0][0] > ml.SAME_PERSON_DISTANCE, different[0]


def test_unnamed_child_matches_nobody(detected: dict) -> None:
    faces = detected["obama-and-biden.jpg"][2]
    child = min(faces, key=lambda f: f.x2 - f.x1)
    others = [face for _, _, face in named_faces(detected)]
    assert min(ml.distance(child.embedding, f.embedding) for f in others) > ml.SAME_PERSON_DISTANCE


def test_distance_accepts_blobs_and_sequences(detected: dict) -> None:
    a, b = detected["obama-1.jpg"][2][0], detected["biden-1.jpg"][2][0]
    assert ml.distance(a.embedding, a.embedding) == 0.0
    assert ml.distance(a.embedding, b.vector) == pytest.approx(ml.distance(a.vector, b.embedding), abs=1e-6)
    with pytest.raises(ValueError):
        ml.distance(a.embedding, b.embedding[:-4])


def test_match_threshold_maps_immich_default_onto_calibrated_distance() -> None:
    assert ml.match_threshold(0.5) == ml.SAME_PERSON_DISTANCE
    assert ml.match_threshold(0.4) < ml.match_threshold(0.5) < ml.match_threshold(0.6)


def test_score_from_margin_puts_dlib_threshold_at_immich_default() -> None:
    assert ml.score_from_margin(0.0) == pytest.approx(0.7)
    assert ml.margin_for_score(0.7) == pytest.approx(0.0, abs=1e-12)
    for score in (0.1, 0.5, 0.9, 0.99):
        assert ml.score_from_margin(ml.margin_for_score(score)) == pytest.approx(score)
    # calibration points from the corpus: HOG false positives sat at margins -0.6..-0.4, real faces above 0.18
    assert ml.score_from_margin(-0.4) < 0.55 < MIN_SCORE < ml.score_from_margin(0.18)
    assert ml.score_from_margin(2.0) > 0.99


def test_detect_min_score_keeps_false_positive_out(engine: FaceEngine) -> None:
    # biden-2.jpg has a HOG false positive at margin ~ -0.4 (score ~0.51) in its top-left corner
    _, _, loose = engine.detect(str(FACES / "biden-2.jpg"), min_score=0.45)
    _, _, strict = engine.detect(str(FACES / "biden-2.jpg"), min_score=MIN_SCORE)
    assert len(strict) == 1 and len(loose) == 2
    assert min(f.score for f in loose) < MIN_SCORE


@pytest.mark.parametrize("name", ["prairie_falcon.jpg", "gradient"])
def test_detect_returns_no_faces_without_people(engine: FaceEngine, tmp_path: Path, name: str) -> None:
    path = CORPUS / "jpeg" / name
    if name == "gradient":
        path = tmp_path / "gradient.jpg"
        ramp = pyvips.Image.xyz(1600, 1200)
        (ramp[0] * 255 / 1600).bandjoin([ramp[1] * 255 / 1200, ramp[0] * 0 + 128]).cast("uchar") \
            .copy(interpretation="srgb").write_to_file(str(path))
    width, height, faces = engine.detect(str(path), min_score=MIN_SCORE)
    assert faces == [] and width > 0 and height > 0


def test_detect_reads_grayscale_and_alpha(engine: FaceEngine, tmp_path: Path) -> None:
    image = pyvips.Image.new_from_file(str(FACES / "obama-1.jpg"))
    image.colourspace("b-w").write_to_file(str(tmp_path / "grey.jpg"))
    image.bandjoin(255).write_to_file(str(tmp_path / "alpha.png"))
    for name in ("grey.jpg", "alpha.png"):
        width, height, faces = engine.detect(str(tmp_path / name), min_score=MIN_SCORE)
        assert (width, height, len(faces)) == (image.width, image.height, 1), name


def test_unload_then_detect_loads_again(tmp_path: Path) -> None:
    engine = FaceEngine()
    assert not engine.loaded
    _, _, first = engine.detect(str(FACES / "obama-4.jpg"), min_score=MIN_SCORE)
    assert engine.loaded
    engine.unload()
    assert not engine.loaded
    _, _, again = engine.detect(str(FACES / "obama-4.jpg"), min_score=MIN_SCORE)
    assert engine.loaded and again == first


def test_idle_unload_after_ttl() -> None:
    now = [1000.0]
    engine = FaceEngine(clock=lambda: now[0])
    assert not engine.idle_unload(300)  # nothing loaded
    engine.detect(str(FACES / "kit-harington-2.jpg"), min_score=MIN_SCORE)
    now[0] += 299
    assert not engine.idle_unload(300) and engine.loaded
    assert not engine.idle_unload(0)  # 0 disables, as Immich's modelTtl 0
    now[0] += 1
    assert engine.idle_unload(300) and not engine.loaded


def test_concurrent_first_detects_load_once(monkeypatch: pytest.MonkeyPatch) -> None:
    loads = []
    real = ml._load_models

    def counting() -> ml._Models:
        loads.append(threading.get_ident())
        time.sleep(0.05)  # widen the race window
        return real()

    monkeypatch.setattr(ml, "_load_models", counting)
    engine = FaceEngine()
    results: list[tuple[int, int, list[Face]]] = []
    files = ["obama-and-biden.jpg", "obama-and-biden.jpg", "rose-leslie-2.jpg"]
    threads = [threading.Thread(target=lambda f=f: results.append(engine.detect(str(FACES / f), min_score=0.7)))
               for f in files]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(loads) == 1 and len(results) == 3
    assert sorted(len(r[2]) for r in results) == [1, 3, 3]
    pair = [r for r in results if len(r[2]) == 3]
    assert pair[0] == pair[1]


def test_report_timing_and_memory(detected: dict, engine: FaceEngine, tmp_path: Path) -> None:
    per_photo = [seconds for _, _, _, seconds in detected.values()]
    print(f"\ndetect+embed per corpus photo (decode included): median {statistics.median(per_photo) * 1000:.0f} ms, "
          f"max {max(per_photo) * 1000:.0f} ms over {len(per_photo)} photos")
    big = tmp_path / "12mp.jpg"
    source = pyvips.Image.new_from_file(str(FACES / "obama-and-biden.jpg"))
    source.resize(4000 / source.width, vscale=3000 / source.height).write_to_file(str(big), Q=90)
    candidates = [(big, 3), (CORPUS / "jpeg" / "pixel_8.jpg", None)]
    for path, expected in candidates:
        if not path.is_file():
            continue
        times = []
        for _ in range(3):
            start = time.perf_counter()
            width, height, faces = engine.detect(str(path), min_score=MIN_SCORE)
            times.append(time.perf_counter() - start)
        print(f"{path.name} {width}x{height}: {len(faces)} faces, median {statistics.median(times) * 1000:.0f} ms")
        if expected is not None:
            assert len(faces) == expected
    # model memory in a fresh interpreter, so nothing else loaded shares the figure
    script = (
        "import re\n"
        "def rss(): return int(re.search(r'VmRSS:\\s+(\\d+)', open('/proc/self/status').read()).group(1)) / 1024\n"
        "from immich_lite.ml.faces import FaceEngine\n"
        "e = FaceEngine(); a = rss(); e.load(); b = rss()\n"
        f"e.detect({str(FACES / 'obama-and-biden.jpg')!r}, min_score=0.7); c = rss(); e.unload(); d = rss()\n"
        "print(f'RSS before load {a:.0f} MB, after load {b:.0f} (+{b - a:.0f}), after one detect {c:.0f}, '\n"
        "      f'after unload {d:.0f}')\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    print(out.stdout.strip())


def test_onnx_descriptor_equals_dlibs_own_resnet(engine: FaceEngine) -> None:
    """ml/dlib_onnx.py rebuilds dlib's face ResNet from the installed .dat file on onnxruntime: every corpus face's
    descriptor must equal what dlib's own `compute_face_descriptor` gives for the same landmarks."""
    pytest.importorskip("onnxruntime")
    import dlib
    import numpy as np
    import pyvips

    from immich_lite.ml import dlib_onnx

    engine.load()
    models = engine._models
    assert models is not None and models.descriptor is not None  # the engine uses it when onnxruntime is there
    reference = dlib.face_recognition_model_v1(str(ml.model_path(ml.RECOGNITION_MODEL)))
    compared = 0
    for label in labels():
        image = pyvips.Image.new_from_file(str(FACES / label.file)).colourspace("srgb").numpy()[:, :, :3].copy()
        for box in models.detector(image, 0):
            shape = models.landmarks(image, box)
            ours = models.descriptor([dlib.get_face_chip(image, shape, size=dlib_onnx.CHIP_SIZE,
                                                         padding=dlib_onnx.CHIP_PADDING)])[0]
            theirs = np.asarray(reference.compute_face_descriptor(image, shape), dtype=np.float32)
            assert float(np.linalg.norm(ours - theirs)) < 1e-4, label.file
            compared += 1
    assert compared >= 15


def test_dlib_onnx_rejects_a_file_that_is_not_the_face_resnet(tmp_path: Path) -> None:
    from immich_lite.ml import dlib_onnx

    other = tmp_path / "landmarks.dat"
    other.write_bytes(ml.model_path(ml.LANDMARKS_MODEL).read_bytes())
    with pytest.raises(dlib_onnx.FormatError):
        dlib_onnx.build_model(other)
