"""The in-process CLIP engine (immich_lite/ml/clip.py) on the tiny CLIP-shaped model of tests/helpers/tiny_clip.py,
written in upstream Immich's model layout and run on real onnxruntime: loading, colour retrieval, shapes and
normalisation, lazy per-half loading, missing/corrupt models, path traversal, unloading, two models side by side."""
from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

pyvips = pytest.importorskip("pyvips")
pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")
pytest.importorskip("tokenizers")

from immich_lite.ml.clip import ClipEngine, ModelMissing, embedding_to_json, prepare_text  # noqa: E402
from tests.helpers.tiny_clip import OPENAI_MEAN, OPENAI_STD, make_tiny_clip  # noqa: E402

MODEL = "ViT-B-32__openai"
COLOURS = {"red": (220, 30, 40), "green": (30, 200, 50), "blue": (20, 40, 210)}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("models")
    make_tiny_clip(root, MODEL)
    return root


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A mostly-`colour` image per colour: non-square, with a grey and a differently coloured patch."""
    out = tmp_path_factory.mktemp("images")
    paths = {}
    for i, (name, rgb) in enumerate(COLOURS.items()):
        other = list(COLOURS.values())[(i + 1) % len(COLOURS)]
        image = (pyvips.Image.black(400, 260) + list(rgb)).cast("uchar").copy(interpretation="srgb")
        image = image.draw_rect([128, 128, 128], 150, 100, 60, 40, fill=True)
        image = image.draw_rect(list(other), 180, 40, 50, 30, fill=True)
        path = out / f"{name}.{'png' if i % 2 else 'jpg'}"
        image.write_to_file(str(path))
        paths[name] = str(path)
    return paths


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_generated_model_has_upstream_layout_and_io(models_dir: Path) -> None:
    import onnxruntime as ort

    root = models_dir / MODEL
    for name in ("config.json", "visual/model.onnx", "visual/preprocess_cfg.json", "textual/model.onnx",
                 "textual/tokenizer.json", "textual/tokenizer_config.json"):
        assert (root / name).is_file(), name
        assert (root / name).stat().st_size < 1_000_000
    visual = ort.InferenceSession(str(root / "visual/model.onnx"), providers=["CPUExecutionProvider"])
    [image] = visual.get_inputs()
    assert (image.name, image.type, image.shape) == ("image", "tensor(float)", [1, 3, 224, 224])
    [out] = visual.get_outputs()
    assert (out.name, out.type, out.shape) == ("embedding", "tensor(float)", [1, 512])
    textual = ort.InferenceSession(str(root / "textual/model.onnx"), providers=["CPUExecutionProvider"])
    [text] = textual.get_inputs()
    assert (text.name, text.type, text.shape) == ("text", "tensor(int32)", [1, 77])
    assert textual.get_outputs()[0].shape == [1, 512]


def test_encodes_and_ranks_colours(models_dir: Path, images: dict[str, str]) -> None:
    engine = ClipEngine(models_dir)
    assert engine.available(MODEL) and engine.dimension(MODEL) == 512
    assert not engine.loaded
    image_vecs = {name: engine.encode_image(path, MODEL) for name, path in images.items()}
    text_vecs = {name: engine.encode_text(name, MODEL) for name in COLOURS}
    for vec in (*image_vecs.values(), *text_vecs.values()):
        assert vec.dtype == np.float32 and vec.shape == (512,)
        assert abs(float(np.linalg.norm(vec)) - 1) < 1e-5
    for word, text in text_vecs.items():
        scores = {name: cosine(text, vec) for name, vec in image_vecs.items()}
        assert max(scores, key=scores.get) == word, scores
        assert scores[word] > 0.8
    for name, vec in image_vecs.items():  # and the other way round: each image's best text is its colour
        scores = {word: cosine(text, vec) for word, text in text_vecs.items()}
        assert max(scores, key=scores.get) == name, scores
    sentence = engine.encode_text("A photo of a  RED car.", MODEL)
    scores = {name: cosine(sentence, vec) for name, vec in image_vecs.items()}
    assert max(scores, key=scores.get) == "red", scores
    assert cosine(engine.encode_text("sky", MODEL), image_vecs["blue"]) > 0.8
    # upstream's /predict answers the embedding as a JSON array string
    assert embedding_to_json(text_vecs["red"]).startswith("[")
    assert np.allclose(np.array(json.loads(embedding_to_json(text_vecs["red"]))), text_vecs["red"], atol=1e-6)


def test_same_input_same_embedding_across_threads(models_dir: Path, images: dict[str, str]) -> None:
    engine = ClipEngine(models_dir)
    expected = engine.encode_image(images["green"], MODEL), engine.encode_text("green", MODEL)
    got: list[tuple[np.ndarray, np.ndarray]] = []

    def work() -> None:
        got.append((engine.encode_image(images["green"], MODEL), engine.encode_text("green", MODEL)))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 4
    for image, text in got:
        assert np.array_equal(image, expected[0]) and np.array_equal(text, expected[1])


def test_text_query_loads_only_the_textual_half(models_dir: Path, images: dict[str, str]) -> None:
    engine = ClipEngine(models_dir)
    engine.encode_text("red", MODEL)
    assert engine.loaded and engine.loaded_halves == {(MODEL, "textual")}
    engine.encode_image(images["red"], MODEL)
    assert engine.loaded_halves == {(MODEL, "textual"), (MODEL, "visual")}


def test_language_only_matters_for_nllb(models_dir: Path) -> None:
    engine = ClipEngine(models_dir)
    assert np.array_equal(engine.encode_text("red", MODEL, language="de"), engine.encode_text("red", MODEL))
    assert prepare_text("  Test   search\tquery ") == "Test search query"
    assert prepare_text("Test   Search Query!", canonicalize=True) == "test search query"
    assert prepare_text("test", nllb=True, language="de") == "deu_Latntest"
    assert prepare_text("test", nllb=True, language="de-CH") == "deu_Latntest"
    assert prepare_text("test", nllb=True, language="pt-BR") == "por_Latntest"
    assert prepare_text("test", nllb=True, language="xx") == "eng_Latntest"
    assert prepare_text("test", nllb=False, language="de") == "test"


def test_preprocessing_follows_upstream_pil_transform(models_dir: Path, tmp_path: Path) -> None:
    """pyvips resize (shortest side, bicubic) + centre crop + normalise vs upstream's PIL steps, re-done here."""
    image_mod = pytest.importorskip("PIL.Image")
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:300, 0:520]
    pixels = np.stack([xx * 255 / 520, yy * 255 / 300, (xx + yy) % 256], axis=-1)
    pixels = np.clip(pixels + rng.normal(0, 12, pixels.shape), 0, 255).astype(np.uint8)
    path = tmp_path / "gradient.png"
    pyvips.Image.new_from_array(pixels, interpretation="srgb").write_to_file(str(path))

    pil = image_mod.open(path).convert("RGB")
    size = 224
    pil = pil.resize((int(pil.width / pil.height * size), size), resample=image_mod.Resampling.BICUBIC)
    left, top = int(pil.width / 2 - size / 2), int(pil.height / 2 - size / 2)
    pil = pil.crop((left, top, left + size, top + size))
    reference = (np.asarray(pil, dtype=np.float32) / 255 - OPENAI_MEAN) / OPENAI_STD

    got = ClipEngine(models_dir).preprocess(str(path), MODEL)
    assert got.shape == (1, 3, size, size) and got.dtype == np.float32
    diff = np.abs(got[0].transpose(1, 2, 0) - reference) * np.array(OPENAI_STD) * 255  # in grey levels
    assert diff.mean() < 1.0 and np.percentile(diff, 99) <= 4, (diff.mean(), np.percentile(diff, 99))


def test_missing_model(tmp_path: Path, images: dict[str, str]) -> None:
    engine = ClipEngine(tmp_path / "models")
    assert not engine.available(MODEL)
    expected = str(tmp_path / "models" / MODEL / "visual" / "model.onnx")
    with pytest.raises(ModelMissing, match=f"{MODEL} not found") as info:
        engine.encode_image(images["red"], MODEL)
    assert expected in str(info.value)
    with pytest.raises(ModelMissing, match="textual"):
        engine.encode_text("red", MODEL)
    with pytest.raises(ModelMissing):
        engine.dimension(MODEL)
    assert not engine.loaded


def test_missing_or_corrupt_file(tmp_path: Path, images: dict[str, str]) -> None:
    root = make_tiny_clip(tmp_path, MODEL)
    engine = ClipEngine(tmp_path)
    (root / "textual" / "tokenizer.json").unlink()
    assert not engine.available(MODEL)
    with pytest.raises(ModelMissing, match="tokenizer.json is missing") as info:
        engine.encode_text("red", MODEL)
    assert str(root / "textual" / "tokenizer.json") in str(info.value)
    engine.encode_image(images["red"], MODEL)  # the visual half is whole and works alone

    (root / "visual" / "model.onnx").write_bytes(b"not an onnx model")
    engine.unload()
    assert not engine.loaded
    with pytest.raises(ModelMissing, match="not a loadable ONNX model") as info:
        engine.encode_image(images["red"], MODEL)
    assert str(root / "visual" / "model.onnx") in str(info.value)

    (root / "visual" / "preprocess_cfg.json").write_text("{")
    with pytest.raises(ModelMissing, match="preprocess_cfg.json cannot be read"):
        engine.encode_image(images["red"], MODEL)
    (root / "visual" / "preprocess_cfg.json").write_text('{"size": 224}')
    with pytest.raises(ModelMissing, match="preprocess_cfg.json has no usable"):
        engine.encode_image(images["red"], MODEL)


@pytest.mark.parametrize("name", ["..", ".", "", "../models", "a/b", "/etc", "..\\x", "x\0y", "/", "sub/.."])
def test_model_names_cannot_leave_models_dir(models_dir: Path, images: dict[str, str], name: str) -> None:
    engine = ClipEngine(models_dir / MODEL / "visual")  # "..": a real model dir one level up
    assert not engine.available(name)
    with pytest.raises(ModelMissing, match="not a directory name"):
        engine.encode_image(images["red"], name)
    with pytest.raises(ModelMissing, match="not a directory name"):
        engine.encode_text("red", name)
    with pytest.raises(ModelMissing):
        engine.dimension(name)
    assert not engine.loaded


def test_unload_and_idle_unload(models_dir: Path, images: dict[str, str]) -> None:
    clock = FakeClock()
    engine = ClipEngine(models_dir, clock=clock)
    red = engine.encode_text("red", MODEL)
    assert engine.loaded and engine.last_used == clock.now
    engine.unload()
    assert not engine.loaded
    assert np.array_equal(engine.encode_text("red", MODEL), red)  # loads again
    assert engine.loaded

    clock.now += 100
    engine.encode_image(images["red"], MODEL)
    assert engine.last_used == clock.now
    assert not engine.idle_unload(0)  # disabled
    assert not engine.idle_unload(300)
    clock.now += 250  # the textual half idle for 350 s, the visual one for 250 s
    assert engine.idle_unload(300)
    assert engine.loaded_halves == {(MODEL, "visual")}
    assert not engine.idle_unload(300)
    clock.now += 50
    assert engine.idle_unload(300)
    assert not engine.loaded
    assert not engine.idle_unload(300)
    engine.encode_image(images["red"], MODEL)
    assert engine.loaded_halves == {(MODEL, "visual")}


def test_two_models_side_by_side(models_dir: Path, tmp_path: Path, images: dict[str, str]) -> None:
    shutil.copytree(models_dir / MODEL, tmp_path / MODEL)
    make_tiny_clip(tmp_path, "ViT-L-14__openai", dim=768, image_size=160, seed=7)
    engine = ClipEngine(tmp_path)
    assert engine.dimension(MODEL) == 512 and engine.dimension("ViT-L-14__openai") == 768
    small = engine.encode_image(images["blue"], MODEL), engine.encode_text("blue", MODEL)
    large = engine.encode_image(images["blue"], "ViT-L-14__openai"), engine.encode_text("blue", "ViT-L-14__openai")
    assert small[0].shape == small[1].shape == (512,) and large[0].shape == large[1].shape == (768,)
    assert cosine(*small) > 0.8 and cosine(*large) > 0.8
    assert engine.preprocess(images["blue"], "ViT-L-14__openai").shape == (1, 3, 160, 160)
    assert {name for name, _ in engine.loaded_halves} == {MODEL, "ViT-L-14__openai"}
    engine.unload()
    assert not engine.loaded


def test_mclip_layout_uses_input_ids_and_attention_mask(tmp_path: Path, images: dict[str, str]) -> None:
    import onnxruntime as ort

    name = "XLM-Roberta-Large-Vit-B-32"
    root = make_tiny_clip(tmp_path, name)
    session = ort.InferenceSession(str(root / "textual/model.onnx"), providers=["CPUExecutionProvider"])
    assert [(i.name, i.type) for i in session.get_inputs()] == [("input_ids", "tensor(int32)"),
                                                                 ("attention_mask", "tensor(int32)")]
    engine = ClipEngine(tmp_path)
    texts = {word: engine.encode_text(word, name) for word in COLOURS}
    for word, path in images.items():
        image = engine.encode_image(path, name)
        assert max(texts, key=lambda w: cosine(texts[w], image)) == word
