"""The RapidOCR engine (immich_lite/ml/ocr.py): text rendered by libvips read back exactly, printed words in real
corpus photos, upstream's options and /predict protocol, model lifecycle, and nothing fetched or logged."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("rapidocr")
pytest.importorskip("onnxruntime")
pyvips = pytest.importorskip("pyvips")

from immich_lite.ml import ocr as ml  # noqa: E402
from immich_lite.ml.ocr import OcrEngine, OcrLine, OcrResult  # noqa: E402

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
LINES = ["Birthday Party 2024", "Eiffel Tower Paris"]

# real photos with printed text (a street sign, a receipt, product boxes, a cider sign), and a word each one shows
# in large clean type, read with score ~1.0 at upstream's defaults
CORPUS_WORDS = [
    ("jpeg/Sony_DSC-HX5V_2_.jpg", "Hammoor"),
    ("jpeg/Apple_iPhone_4.jpg", "Tavolo"),
    ("jpeg/Olympus_PEN_E-P3.jpg", "OLYMPUS"),
    ("jpeg/huawei-gps-error.jpg", "BULMERS"),
]


def render(path: Path, lines: list[str], size: tuple[int, int] = (1000, 300), font: str = "sans 16") -> Path:
    """Black text on a white `size` canvas, the lines one under the other, centred."""
    text = pyvips.Image.text("\n".join(lines), font=font, dpi=300)
    canvas = (255 - text).cast("uchar").gravity("centre", *size, extend="white")
    canvas.colourspace("srgb").write_to_file(str(path))
    return path


def assert_well_formed(result: OcrResult) -> None:
    for line in result.lines:
        x1, y1, x2, y2, x3, y3, x4, y4 = line.box
        assert all(0 <= x <= result.width for x in (x1, x2, x3, x4)), line
        assert all(0 <= y <= result.height for y in (y1, y2, y3, y4)), line
        assert x1 < x2 and x4 < x3 and y1 < y4 and y2 < y3, line  # clockwise from top-left
        assert 0 <= line.box_score <= 1 and 0 <= line.text_score <= 1, line


@pytest.fixture(scope="module")
def engine() -> OcrEngine:
    engine = OcrEngine()
    engine.load()
    return engine


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render(tmp_path_factory.mktemp("ocr") / "text.png", LINES)


def test_reads_rendered_text_exactly(engine: OcrEngine, rendered: Path) -> None:
    result = engine.read(str(rendered))
    assert (result.width, result.height) == (1000, 300)
    assert [line.text for line in result.lines] == LINES
    assert_well_formed(result)
    first, second = result.lines
    assert first.box[7] <= second.box[1] + 10  # reading order: the first line's bottom near the second's top
    assert all(line.text_score > ml.DEFAULT_MIN_RECOGNITION_SCORE for line in result.lines)
    assert all(line.box_score >= ml.DEFAULT_MIN_DETECTION_SCORE for line in result.lines)


def test_max_resolution_limits_what_the_detector_sees(engine: OcrEngine, tmp_path: Path) -> None:
    """A 2400x1800 canvas: the detector sees it with its short side shrunk to 736 (or 480), boxes come back in the
    full image's pixels; shrunk to 32 px the text is gone."""
    path = render(tmp_path / "big.png", LINES, size=(2400, 1800), font="sans 30")
    default = engine.read(str(path))
    smaller = engine.read(str(path), max_resolution=480)
    for result in (default, smaller):
        assert (result.width, result.height) == (2400, 1800)
        assert [line.text for line in result.lines] == LINES
        assert_well_formed(result)
    for a, b in zip(default.lines, smaller.lines, strict=True):
        assert max(abs(p - q) for p, q in zip(a.box, b.box, strict=True)) < 40  # same place, coarser grid
    assert engine.read(str(path), max_resolution=32).lines == []
    with pytest.raises(ValueError):
        engine.read(str(path), max_resolution=0)


@pytest.mark.parametrize(("file", "word"), CORPUS_WORDS, ids=[f for f, _ in CORPUS_WORDS])
def test_reads_printed_words_in_corpus_photos(engine: OcrEngine, file: str, word: str) -> None:
    path = CORPUS / file
    if not path.is_file():
        pytest.skip(f"{path} not found")
    result = engine.read(str(path))
    image = pyvips.Image.new_from_file(str(path))
    assert (result.width, result.height) == (image.width, image.height)
    assert_well_formed(result)
    words = {w.strip(".,:;!?()[]").casefold() for line in result.lines for w in line.text.split()}
    assert word.casefold() in words, [line.text for line in result.lines]


@pytest.mark.parametrize("kind", ["blank", "gradient", "tiny"])
def test_no_text_gives_no_lines(engine: OcrEngine, tmp_path: Path, kind: str) -> None:
    path = tmp_path / f"{kind}.png"
    if kind == "blank":
        image = (pyvips.Image.black(1000, 300) + 255).cast("uchar")
    elif kind == "gradient":
        ramp = pyvips.Image.xyz(1200, 800)
        image = (ramp[0] * 255 / 1200).bandjoin([ramp[1] * 255 / 800, ramp[0] * 0 + 128]).cast("uchar")
    else:  # below upstream's 32 px minimum, even though it holds text
        image = (255 - pyvips.Image.text("Hi", font="sans 6", dpi=72)).cast("uchar").gravity(
            "centre", 40, 20, extend="white")
    image.copy(interpretation="srgb" if image.bands == 3 else "b-w").write_to_file(str(path))
    result = engine.read(str(path))
    assert result.lines == [] and (result.width, result.height) == (image.width, image.height)


def test_score_thresholds_drop_lines(engine: OcrEngine, rendered: Path) -> None:
    # upstream keeps texts scoring strictly above minRecognitionScore: 1.0 keeps nothing
    assert engine.read(str(rendered), min_recognition_score=1.0).lines == []
    assert engine.read(str(rendered), min_detection_score=0.99).lines == []
    loose = engine.read(str(rendered), min_detection_score=0.3, min_recognition_score=0.0)
    assert [line.text for line in loose.lines] == LINES


def test_reads_grayscale_and_alpha(engine: OcrEngine, rendered: Path, tmp_path: Path) -> None:
    image = pyvips.Image.new_from_file(str(rendered))
    image.colourspace("b-w").write_to_file(str(tmp_path / "grey.jpg"), Q=95)
    image.bandjoin(255).write_to_file(str(tmp_path / "alpha.png"))
    for name in ("grey.jpg", "alpha.png"):
        result = engine.read(str(tmp_path / name))
        assert [line.text for line in result.lines] == LINES, name


def test_protocol_has_upstreams_shape_and_round_trips(engine: OcrEngine, rendered: Path) -> None:
    result = engine.read(str(rendered))
    ocr = ml.to_protocol(result)
    assert list(ocr) == ["box", "text", "boxScore", "textScore"]
    assert ocr["text"] == LINES
    assert len(ocr["box"]) == 8 * len(LINES) and len(ocr["boxScore"]) == len(ocr["textScore"]) == len(LINES)
    assert all(0 <= v <= 1 for v in ocr["box"])
    # box and boxScore are float32 upstream, which orjson prints as the shortest float32 text: so do ours
    for v in ocr["box"] + ocr["boxScore"]:
        assert repr(v) == str(np.float32(v)), v
    assert ocr["box"][0] == float(str(np.float32(result.lines[0].box[0]) / np.float32(result.width)))
    answer = {"ocr": ocr, "imageHeight": result.height, "imageWidth": result.width}
    decoded = json.loads(json.dumps(answer))
    back = ml.from_protocol(decoded["ocr"], decoded["imageWidth"], decoded["imageHeight"])
    assert (back.width, back.height) == (result.width, result.height)
    for a, b in zip(result.lines, back.lines, strict=True):
        assert a.text == b.text
        assert a.box == pytest.approx(b.box, abs=1e-3)
        assert a.box_score == pytest.approx(b.box_score, rel=1e-6)
        assert a.text_score == b.text_score
    again = ml.to_protocol(back)
    assert again["text"] == ocr["text"] and again["textScore"] == ocr["textScore"]
    assert again["box"] == pytest.approx(ocr["box"], abs=1e-6)
    assert again["boxScore"] == ocr["boxScore"]


def test_protocol_empty_and_inconsistent() -> None:
    empty = OcrResult(width=640, height=480, lines=[])
    assert ml.to_protocol(empty) == {"box": [], "text": [], "boxScore": [], "textScore": []}
    assert ml.from_protocol(ml.to_protocol(empty), 640, 480) == empty
    assert ml.normalised_rows(empty) == []
    with pytest.raises(ValueError):
        ml.from_protocol({"text": ["a"], "box": [0.1] * 7, "boxScore": [0.9], "textScore": [0.9]}, 640, 480)


def test_normalised_rows_match_upstream_columns(engine: OcrEngine, rendered: Path) -> None:
    result = engine.read(str(rendered))
    rows = ml.normalised_rows(result)
    assert [row["text"] for row in rows] == LINES
    for row, line in zip(rows, result.lines, strict=True):
        assert set(row) == {"x1", "y1", "x2", "y2", "x3", "y3", "x4", "y4", "boxScore", "textScore", "text"}
        for i, name in enumerate(("x1", "y1", "x2", "y2", "x3", "y3", "x4", "y4")):
            assert 0 <= row[name] <= 1
            assert row[name] == pytest.approx(line.box[i] / (result.width if i % 2 == 0 else result.height),
                                              rel=1e-6)
        assert row["boxScore"] == pytest.approx(line.box_score, rel=1e-6)
        assert row["textScore"] == pytest.approx(line.text_score, rel=1e-6)
    line = OcrLine(box=(100.0, 30.0, 900.0, 30.0, 900.0, 120.0, 100.0, 120.0), box_score=0.75, text="x",
                   text_score=0.5)
    row = ml.normalised_rows(OcrResult(width=1000, height=300, lines=[line]))[0]
    assert (row["x1"], row["y1"], row["x3"], row["y3"], row["boxScore"], row["textScore"]) == (0.1, 0.1, 0.9, 0.4,
                                                                                               0.75, 0.5)


def test_unload_then_read_loads_again(rendered: Path) -> None:
    engine = OcrEngine()
    assert not engine.loaded
    first = engine.read(str(rendered))
    assert engine.loaded
    engine.unload()
    assert not engine.loaded
    again = engine.read(str(rendered))
    assert engine.loaded and again == first


def test_idle_unload_after_ttl(rendered: Path) -> None:
    now = [1000.0]
    engine = OcrEngine(clock=lambda: now[0])
    assert not engine.idle_unload(300)  # nothing loaded
    engine.read(str(rendered))
    assert engine.last_used == 1000.0
    now[0] += 299
    assert not engine.idle_unload(300) and engine.loaded
    assert not engine.idle_unload(0)  # 0 disables, as Immich's modelTtl 0
    now[0] += 1
    assert engine.idle_unload(300) and not engine.loaded
    assert not engine.idle_unload(300)


def test_concurrent_first_reads_load_once(monkeypatch: pytest.MonkeyPatch, rendered: Path, tmp_path: Path) -> None:
    loads = []
    real = ml._load_models

    def counting(threads: int) -> ml._Models:
        loads.append(threading.get_ident())
        time.sleep(0.05)  # widen the race window
        return real(threads)

    monkeypatch.setattr(ml, "_load_models", counting)
    other = render(tmp_path / "other.png", ["Hello World"], size=(800, 200))
    engine = OcrEngine()
    results: list[OcrResult] = []
    files = [rendered, rendered, other]
    threads = [threading.Thread(target=lambda f=f: results.append(engine.read(str(f)))) for f in files]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(loads) == 1 and len(results) == 3
    texts = sorted([line.text for line in r.lines] for r in results)
    assert texts == [LINES, LINES, ["Hello World"]]


def _listing(root: Path) -> set[tuple[str, int, int]]:
    if not root.is_dir():
        return set()
    out = set()
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            path = Path(dirpath) / name
            stat = path.stat()
            out.add((str(path), stat.st_size, stat.st_mtime_ns))
    return out


def test_load_fetches_nothing_and_logs_nothing(rendered: Path, tmp_path: Path) -> None:
    """In a fresh interpreter with sockets refused and an empty home: importing the module loads no rapidocr,
    load() + read() open no connection, create nothing under ~/.cache (onnxruntime's telemetry store included) or
    in the rapidocr package, and print nothing."""
    package = ml.model_path(ml.DETECTION_MODEL).parents[1]
    before = _listing(package)
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("XDG_CACHE_HOME", "ORT_DISABLE_TELEMETRY")}
    env["HOME"] = str(home)
    script = (
        "import socket, sys\n"
        "def refuse(*a, **k): raise OSError('network disabled in this test')\n"
        "socket.socket.connect = socket.socket.connect_ex = refuse\n"
        "socket.create_connection = refuse\n"
        "from immich_lite.ml.ocr import OcrEngine\n"
        "assert 'rapidocr' not in sys.modules and 'onnxruntime' not in sys.modules\n"
        "e = OcrEngine(); e.load()\n"
        "assert 'rapidocr' in sys.modules\n"
        f"r = e.read({str(rendered)!r})\n"
        "sys.stdout.write('|'.join(line.text for line in r.lines))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, env=env,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.returncode == 0, out.stderr
    assert out.stdout == "|".join(LINES)
    assert out.stderr == ""  # RapidOCR's INFO lines ("Using engine_name", model paths) stay quiet
    assert _listing(home) == set(), sorted(_listing(home))
    assert _listing(package) == before
    assert {p.name for p in (package / "models").iterdir() if p.suffix == ".onnx"} == {
        "PP-OCRv6_det_small.onnx", "PP-OCRv6_rec_small.onnx", "ch_ppocr_mobile_v2.0_cls_mobile.onnx"}


def test_box_is_a_quadrilateral_of_finite_floats(engine: OcrEngine, rendered: Path) -> None:
    for line in engine.read(str(rendered)).lines:
        assert len(line.box) == 8 and all(isinstance(v, float) and math.isfinite(v) for v in line.box)
