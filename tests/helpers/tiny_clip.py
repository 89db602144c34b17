"""A tiny CLIP-shaped model in upstream Immich's on-disk layout, for tests (a few kB, built in milliseconds).

`make_tiny_clip(models_dir, name)` writes `models_dir/name/` as immich-app/<name> on Hugging Face has it:
config.json, visual/{model.onnx, preprocess_cfg.json}, textual/{model.onnx, tokenizer.json, tokenizer_config.json}
with upstream's input/output names, dtypes and static shapes: visual "image" float32 (1, 3, S, S) -> "embedding"
float32 (1, dim); textual "text" int32 (1, 77) -> "embedding", or for M-CLIP names (XLM-Roberta-..., LABSE-...)
"input_ids" + "attention_mask" int32 (1, 77). Both graphs end in an L2 normalisation, as upstream's exports do.

What the embeddings mean: both towers write into the same few orthonormal directions of R^dim (seeded):
red, green, blue, light, dark, a constant "photo" direction, and four directions for other words.
- Visual: a 1x1 convolution undoes the mean/std normalisation and gives, per pixel, each channel's excess over
  the pixel's grey level (x1.5, so pure red -> 1) plus lightness above / below mid grey; ReLU; global average
  pool; matmul onto the directions; + 0.1 on the constant one. So an image's embedding points at its dominant
  colour(s), weighted by area.
- Textual: a lower-casing word-level tokenizer (CLIP's special tokens; M-CLIP's for M-CLIP names), an embedding
  table Gather, sum over the sequence (masked by attention_mask for M-CLIP), matmul onto the same directions.
  Colour words sit on the colour directions ("yellow" = red + green, "purple" = red + blue, ...), a few nouns
  lean on a colour ("sky" -> blue, "grass" -> green), other words get small seeded vectors on the other
  directions, the start token sits on the constant one, pad/end/unknown are zero.
So encode_text("red") and encode_text("a photo of a red car") are closest to mostly red images, and so on.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

CONTEXT_LENGTH = 77
OPENAI_MEAN = [0.48145466, 0.4578275, 0.40821073]
OPENAI_STD = [0.26862954, 0.26130258, 0.27577711]
MCLIP_MODELS = {"LABSE-Vit-L-14", "XLM-Roberta-Large-Vit-B-16Plus", "XLM-Roberta-Large-Vit-B-32",
                "XLM-Roberta-Large-Vit-L-14"}

# concept axes: red, green, blue, light, dark, constant, other x4
_AXES = 10
_OTHER = slice(6, 10)
_CONSTANT = 0.1

# word -> (red, green, blue, light, dark)
COLOUR_WORDS: dict[str, tuple[float, ...]] = {
    "red": (1, 0, 0, 0, 0), "green": (0, 1, 0, 0, 0), "blue": (0, 0, 1, 0, 0),
    "yellow": (1, 1, 0, 0, 0), "cyan": (0, 1, 1, 0, 0), "magenta": (1, 0, 1, 0, 0), "purple": (1, 0, 1, 0, 0),
    "orange": (1, 0.5, 0, 0, 0), "pink": (1, 0, 0.3, 0.5, 0), "white": (0, 0, 0, 1, 0), "black": (0, 0, 0, 0, 1),
    "bright": (0, 0, 0, 0.7, 0), "dark": (0, 0, 0, 0, 0.7),
    "sky": (0, 0, 0.6, 0, 0), "sea": (0, 0, 0.6, 0, 0), "ocean": (0, 0, 0.6, 0, 0),
    "grass": (0, 0.6, 0, 0, 0), "forest": (0, 0.6, 0, 0, 0), "leaf": (0, 0.6, 0, 0, 0),
    "fire": (0.6, 0, 0, 0, 0), "tomato": (0.6, 0, 0, 0, 0), "banana": (0.6, 0.6, 0, 0, 0),
    "snow": (0, 0, 0, 0.6, 0), "night": (0, 0, 0, 0, 0.6),
}
OTHER_WORDS = ("a an the of in on with and photo picture image car dog cat house tree flower person beach sunset "
               "city mountain road boat bird food").split()


def _directions(dim: int, seed: int) -> np.ndarray:
    """`_AXES` orthonormal rows in R^dim, seeded."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((dim, _AXES)))
    return q.T.astype(np.float32)


def _normalise_nodes(x: str, out: str, helper: Any) -> list[Any]:
    return [
        helper.make_node("ReduceL2", [x], ["norm"], axes=[1], keepdims=1),
        helper.make_node("Max", ["norm", "eps"], ["safe_norm"]),
        helper.make_node("Div", [x, "safe_norm"], [out]),
    ]


def _visual_model(directions: np.ndarray, image_size: int) -> bytes:
    import onnx  # noqa: PLC0415
    from onnx import TensorProto, helper, numpy_helper  # noqa: PLC0415

    mean, std = np.array(OPENAI_MEAN, dtype=np.float64), np.array(OPENAI_STD, dtype=np.float64)
    # per pixel rgb = std * x + mean; features: 1.5 * (c - grey) per channel, 2 * grey - 1, 1 - 2 * grey
    grey = np.full(3, 1 / 3)
    features = np.vstack([1.5 * (np.eye(3) - grey), 2 * grey, -2 * grey])
    offsets = np.array([0, 0, 0, -1, 1], dtype=np.float64)
    weight = (features * std).reshape(5, 3, 1, 1)
    bias = features @ mean + offsets
    dim = directions.shape[1]
    inits = [
        numpy_helper.from_array(weight.astype(np.float32), "conv_w"),
        numpy_helper.from_array(bias.astype(np.float32), "conv_b"),
        numpy_helper.from_array(directions[:5], "proj"),
        numpy_helper.from_array((_CONSTANT * directions[5])[None], "proj_b"),
        numpy_helper.from_array(np.array(1e-12, dtype=np.float32), "eps"),
    ]
    nodes = [
        helper.make_node("Conv", ["image", "conv_w", "conv_b"], ["conv"], kernel_shape=[1, 1]),
        helper.make_node("Relu", ["conv"], ["relu"]),
        helper.make_node("GlobalAveragePool", ["relu"], ["pool"]),
        helper.make_node("Flatten", ["pool"], ["flat"], axis=1),
        helper.make_node("MatMul", ["flat", "proj"], ["mm"]),
        helper.make_node("Add", ["mm", "proj_b"], ["features"]),
        *_normalise_nodes("features", "embedding", helper),
    ]
    graph = helper.make_graph(
        nodes, "tiny_clip_visual",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, image_size, image_size])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, [1, dim])], inits)
    return _serialise(onnx, helper, graph)


def _textual_model(directions: np.ndarray, table: np.ndarray, mclip: bool) -> bytes:
    import onnx  # noqa: PLC0415
    from onnx import TensorProto, helper, numpy_helper  # noqa: PLC0415

    dim = directions.shape[1]
    ids = "input_ids" if mclip else "text"
    inputs = [helper.make_tensor_value_info(ids, TensorProto.INT32, [1, CONTEXT_LENGTH])]
    inits = [
        numpy_helper.from_array(table.astype(np.float32), "token_table"),
        numpy_helper.from_array(directions, "proj"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "seq_axis"),
        numpy_helper.from_array(np.array([2], dtype=np.int64), "last_axis"),
        numpy_helper.from_array(np.array(1e-12, dtype=np.float32), "eps"),
    ]
    nodes = [helper.make_node("Gather", ["token_table", ids], ["tokens"], axis=0)]
    if mclip:  # M-CLIP: masked pooling over the sequence
        inputs.append(helper.make_tensor_value_info("attention_mask", TensorProto.INT32, [1, CONTEXT_LENGTH]))
        nodes += [
            helper.make_node("Cast", ["attention_mask"], ["mask_f"], to=TensorProto.FLOAT),
            helper.make_node("Unsqueeze", ["mask_f", "last_axis"], ["mask3"]),
            helper.make_node("Mul", ["tokens", "mask3"], ["masked"]),
            helper.make_node("ReduceSum", ["masked", "seq_axis"], ["pooled"], keepdims=0),
        ]
    else:
        nodes.append(helper.make_node("ReduceSum", ["tokens", "seq_axis"], ["pooled"], keepdims=0))
    nodes += [helper.make_node("MatMul", ["pooled", "proj"], ["features"]),
              *_normalise_nodes("features", "embedding", helper)]
    graph = helper.make_graph(nodes, "tiny_clip_textual", inputs,
                              [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, [1, dim])], inits)
    return _serialise(onnx, helper, graph)


def _serialise(onnx: Any, helper: Any, graph: Any) -> bytes:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="immich-lite-tests")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def _specials(mclip: bool) -> dict[str, str]:
    if mclip:  # XLM-R's
        return {"bos": "<s>", "eos": "</s>", "pad": "<pad>", "unk": "<unk>"}
    return {"bos": "<|startoftext|>", "eos": "<|endoftext|>", "pad": "<|endoftext|>", "unk": "<|endoftext|>"}


def _tokenizer(specials: dict[str, str], words: list[str]) -> tuple[Any, dict[str, int]]:
    from tokenizers import AddedToken, Tokenizer, normalizers, pre_tokenizers, processors  # noqa: PLC0415
    from tokenizers.models import WordLevel  # noqa: PLC0415

    special_tokens = list(dict.fromkeys(specials.values()))
    vocab = {token: i for i, token in enumerate(special_tokens + words)}
    tokenizer = Tokenizer(WordLevel(vocab=vocab, unk_token=specials["unk"]))
    tokenizer.normalizer = normalizers.Sequence([normalizers.NFC(), normalizers.Lowercase()])
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    bos, eos = specials["bos"], specials["eos"]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", special_tokens=[(bos, vocab[bos]), (eos, vocab[eos])])
    tokenizer.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in special_tokens])
    return tokenizer, vocab


def _tokenizer_config(specials: dict[str, str], vocab: dict[str, int], mclip: bool) -> dict:
    added = {str(vocab[t]): {"content": t, "lstrip": False, "normalized": False, "rstrip": False,
                             "single_word": False, "special": True} for t in dict.fromkeys(specials.values())}
    cfg = {"added_tokens_decoder": added, "bos_token": specials["bos"], "eos_token": specials["eos"],
           "pad_token": specials["pad"], "unk_token": specials["unk"], "clean_up_tokenization_spaces": True}
    if mclip:
        return {**cfg, "cls_token": "<s>", "sep_token": "</s>", "model_max_length": 512,
                "tokenizer_class": "XLMRobertaTokenizer"}
    return {**cfg, "add_prefix_space": False, "do_lower_case": True, "errors": "replace", "model_max_length": 77,
            "tokenizer_class": "CLIPTokenizer"}


def _write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n")


def make_tiny_clip(models_dir: Path, model_name: str = "ViT-B-32__openai", *, dim: int = 512, image_size: int = 224,
                   seed: int = 0) -> Path:
    """Write a tiny CLIP model to `models_dir / model_name` in upstream's layout; returns that directory.
    M-CLIP names get M-CLIP's text input names and special tokens. `dim` must be at least 10."""
    if dim < _AXES:
        raise ValueError(f"dim must be >= {_AXES}")
    mclip = model_name in MCLIP_MODELS
    root = Path(models_dir) / model_name
    (root / "visual").mkdir(parents=True, exist_ok=True)
    (root / "textual").mkdir(parents=True, exist_ok=True)
    directions = _directions(dim, seed)

    specials = _specials(mclip)
    words = sorted(set(COLOUR_WORDS) | set(OTHER_WORDS))
    tokenizer, vocab = _tokenizer(specials, words)
    rng = np.random.default_rng(seed + 1)
    table = np.zeros((len(vocab), _AXES), dtype=np.float32)
    table[vocab[specials["bos"]], 5] = _CONSTANT
    for word in words:
        if word in COLOUR_WORDS:
            table[vocab[word], :5] = COLOUR_WORDS[word]
        else:
            table[vocab[word], _OTHER] = 0.1 * rng.standard_normal(_OTHER.stop - _OTHER.start)

    (root / "visual" / "model.onnx").write_bytes(_visual_model(directions, image_size))
    (root / "textual" / "model.onnx").write_bytes(_textual_model(directions, table, mclip))
    tokenizer.save(str(root / "textual" / "tokenizer.json"))
    _write_json(root / "textual" / "tokenizer_config.json", _tokenizer_config(specials, vocab, mclip))
    _write_json(root / "visual" / "preprocess_cfg.json", {
        "size": [image_size, image_size], "mode": "RGB", "mean": OPENAI_MEAN, "std": OPENAI_STD,
        "interpolation": "bicubic", "resize_mode": "shortest", "fill_color": 0})
    _write_json(root / "config.json", {
        "embed_dim": dim,
        "vision_cfg": {"image_size": image_size, "layers": 1, "width": 5, "patch_size": 1},
        "text_cfg": {"context_length": CONTEXT_LENGTH, "vocab_size": len(vocab), "width": _AXES, "heads": 1,
                     "layers": 1}})
    return root
