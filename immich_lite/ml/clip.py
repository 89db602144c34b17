"""CLIP image and text embeddings for smart search, in process on onnxruntime, from the model directories upstream
Immich's machine-learning service uses (immich-app/<model> on Hugging Face, exported from OpenCLIP / M-CLIP).

Layout of `<models_dir>/<model_name>/` (upstream: `<cache_folder>/clip/<model_name>/`, models/base.py `model_dir`,
models/clip/visual.py and textual.py for the files each half reads):
- `config.json`: the OpenCLIP model config; `embed_dim`, `text_cfg.context_length` (default 77) and
  `text_cfg.tokenizer_kwargs.clean` ("canonicalize": strip punctuation and lower-case the query).
- `visual/model.onnx`: input "image" float32 (1, 3, S, S) NCHW RGB, first output the embedding (1, embed_dim).
- `visual/preprocess_cfg.json`: `size` (int or [S, S]; the first value is used), `mean`, `std`, `interpolation`
  (a PIL resampling name, "bicubic" for every upstream model). `resize_mode` is present but upstream ignores it.
- `textual/model.onnx`: OpenCLIP: input "text" int32 (1, context_length) token ids; M-CLIP (XLM-R / LaBSE text
  towers): "input_ids" and "attention_mask", int32. First output the embedding (1, embed_dim).
- `textual/tokenizer.json` (a Hugging Face `tokenizers` file: its normalizer lower-cases for CLIP's BPE and its
  post-processor adds the start/end tokens) and `textual/tokenizer_config.json` (`pad_token`).

Image preprocessing (upstream transforms.py, PIL there, pyvips here): decode to RGB (alpha dropped, no
autorotation: the server sends the upright preview) -> resize the shortest side to S with the configured kernel
(the other side int(long / short * S)) -> centre crop S x S (offsets int(side / 2 - S / 2)) -> /255 ->
(x - mean) / std -> CHW. pyvips' cubic reduce with `gap=0` (pure convolution, no box pre-shrink) follows PIL's
BICUBIC resize: on the corpus JPEGs the 224 px crops differ by 0.15-0.2 grey levels on average (p99 1).

Text: whitespace runs collapsed to one space (canonicalize: punctuation removed, lower-cased), for NLLB models
(name starting "nllb") the FLORES-200 code of `language` (Immich's web locale) prefixed without a space, then
tokenised, padded with `pad_token` and truncated to `context_length`.

Normalisation: upstream's exported ONNX graphs already end in an L2 normalisation (the exporter called OpenCLIP's
`encode_image/encode_text(normalize=True)`; M-CLIP's forward ends in `F.normalize`), the ML service passes the
first output through untouched (serialised as a JSON array string) and the server compares with cosine distance.
`ClipEngine` normalises again, a no-op up to float rounding for upstream models, so its output is unit length
for any model.
"""
from __future__ import annotations

import json
import math
import string
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyvips

from immich_lite.ml.lifecycle import release_heap

Half = Literal["visual", "textual"]

CONFIG_FILE = "config.json"
VISUAL_FILES = ("visual/model.onnx", "visual/preprocess_cfg.json")
TEXTUAL_FILES = ("textual/model.onnx", "textual/tokenizer.json", "textual/tokenizer_config.json", CONFIG_FILE)
DEFAULT_CONTEXT_LENGTH = 77  # upstream textual.py: text_cfg.get("context_length", 77)

# PIL resampling names (preprocess_cfg.json "interpolation") -> pyvips resize kernels
_KERNELS = {"bicubic": "cubic", "bilinear": "linear", "nearest": "nearest", "lanczos": "lanczos3",
            "hamming": "linear", "box": "linear"}

_PUNCTUATION = str.maketrans("", "", string.punctuation)

# Immich web locale -> FLORES-200 code, for NLLB text towers (upstream models/constants.py WEBLATE_TO_FLORES200)
_FLORES = dict(pair.split("=") for pair in """
af=afr_Latn ar=arb_Arab az=azj_Latn be=bel_Cyrl bg=bul_Cyrl ca=cat_Latn cs=ces_Latn da=dan_Latn de=deu_Latn
el=ell_Grek en=eng_Latn es=spa_Latn et=est_Latn fa=pes_Arab fi=fin_Latn fr=fra_Latn he=heb_Hebr hi=hin_Deva
hr=hrv_Latn hu=hun_Latn hy=hye_Armn id=ind_Latn it=ita_Latn ja=jpn_Hira kmr=kmr_Latn ko=kor_Hang lb=ltz_Latn
lt=lit_Latn lv=lav_Latn mfa=zsm_Latn mk=mkd_Cyrl mn=khk_Cyrl mr=mar_Deva ms=zsm_Latn nb-NO=nob_Latn nn=nno_Latn
nl=nld_Latn pl=pol_Latn pt-BR=por_Latn pt=por_Latn ro=ron_Latn ru=rus_Cyrl sk=slk_Latn sl=slv_Latn
sr-Cyrl=srp_Cyrl sv=swe_Latn ta=tam_Taml te=tel_Telu th=tha_Thai tr=tur_Latn uk=ukr_Cyrl ur=urd_Arab vi=vie_Latn
zh-CN=zho_Hans zh-Hans=zho_Hans zh-TW=zho_Hant
""".split())
_FLORES_DEFAULT = "eng_Latn"


class ModelMissing(Exception):
    """A CLIP model, or one of its files, is absent, unreadable or invalid (the message names the path)."""


def prepare_text(text: str, *, canonicalize: bool = False, nllb: bool = False, language: str | None = None) -> str:
    """The query string as upstream hands it to the tokenizer (see the module docstring)."""
    text = " ".join(text.split())
    if canonicalize:
        text = text.translate(_PUNCTUATION).lower()
    if nllb and language is not None:
        code = _FLORES.get(language) or _FLORES.get(language.split("-")[0]) or _FLORES_DEFAULT
        text = code + text
    return text


def embedding_to_json(embedding: np.ndarray) -> str:
    """An embedding as upstream's /predict answers it: a JSON array in a string, e.g. '[0.1,-0.2,...]'."""
    import orjson  # noqa: PLC0415

    return orjson.dumps(np.asarray(embedding, dtype=np.float32), option=orjson.OPT_SERIALIZE_NUMPY).decode()


def _normalise(vector: np.ndarray) -> np.ndarray:
    vector = np.asarray(vector, dtype=np.float32).reshape(-1)
    norm = float(np.linalg.norm(vector.astype(np.float64)))
    return (vector / norm).astype(np.float32) if norm > 0 and math.isfinite(norm) else vector


@dataclass
class _Visual:
    session: Any
    input_name: str
    size: int
    kernel: str
    mean: np.ndarray
    std: np.ndarray
    last_used: float


@dataclass
class _Textual:
    session: Any
    tokenizer: Any
    feeds: tuple[str, ...]  # ("text",) or ("input_ids", "attention_mask")
    dtypes: tuple[Any, ...]
    canonicalize: bool
    nllb: bool
    last_used: float


@dataclass
class _Loaded:
    visual: dict[str, _Visual] = field(default_factory=dict)
    textual: dict[str, _Textual] = field(default_factory=dict)


class ClipEngine:
    """CLIP models from `models_dir`, loaded lazily per model name and half, safe to call from worker threads.

    The visual and textual halves load independently on first use (a text query never loads the image tower),
    under one lock; inference runs outside it (onnxruntime sessions are thread-safe). Several model names may be
    loaded side by side. `unload` frees everything; `idle_unload(ttl)` frees each half unused for `ttl` seconds
    (upstream keeps each half in its model cache with its own TTL, `MACHINE_LEARNING_MODEL_TTL`, default 300 s),
    so a model switched away from goes after `ttl` while the new one stays.
    Any problem with a model directory or its files raises `ModelMissing`; an undecodable image raises
    `pyvips.Error`.
    """

    def __init__(self, models_dir: str | Path, *, clock: Callable[[], float] = time.monotonic,
                 threads: int = 1) -> None:
        self.models_dir = Path(models_dir)
        self.threads = max(1, threads)
        self._clock = clock
        self._models = _Loaded()
        self._load_lock = threading.Lock()
        self._dims: dict[str, int] = {}
        self.last_used = clock()

    # --- model files -------------------------------------------------------------------------------------------

    def model_dir(self, model_name: str) -> Path:
        """`models_dir / model_name`; the name must be one plain directory name (no separators, "." or "..").

        :raises ModelMissing: the name could leave `models_dir`.
        """
        if (not isinstance(model_name, str) or not model_name or model_name in (".", "..")
                or any(c in model_name for c in "/\\\0") or Path(model_name).is_absolute()
                or Path(model_name).name != model_name):
            raise ModelMissing(f"CLIP model name {model_name!r} is not a directory name under {self.models_dir}")
        return self.models_dir / model_name

    def available(self, model_name: str) -> bool:
        """Both halves' files are present (nothing is loaded or parsed)."""
        try:
            root = self.model_dir(model_name)
        except ModelMissing:
            return False
        return all((root / name).is_file() for name in (*VISUAL_FILES, *TEXTUAL_FILES))

    def _file(self, model_name: str, relative: str) -> Path:
        path = self.model_dir(model_name) / relative
        if not path.is_file():
            raise ModelMissing(f"CLIP model {model_name} not found: {path} is missing")
        return path

    def _json(self, model_name: str, relative: str) -> dict[str, Any]:
        path = self._file(model_name, relative)
        try:
            data = json.loads(path.read_bytes())
        except (OSError, ValueError) as e:
            raise ModelMissing(f"CLIP model {model_name}: {path} cannot be read ({e})") from e
        if not isinstance(data, dict):
            raise ModelMissing(f"CLIP model {model_name}: {path} is not a JSON object")
        return data

    def _session(self, model_name: str, relative: str) -> Any:
        import onnxruntime as ort  # noqa: PLC0415 (loaded with the first model: the server starts without it)

        path = self._file(model_name, relative)
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:  # a path, not bytes, so an external-data file next to model.onnx (models > 2 GB) would be found
            return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own classes (InvalidProtobuf, Fail, NoSuchFile, ...)
            raise ModelMissing(f"CLIP model {model_name}: {path} is not a loadable ONNX model ({e})") from e

    # --- loading -----------------------------------------------------------------------------------------------

    @property
    def loaded(self) -> bool:
        return bool(self._models.visual or self._models.textual)

    @property
    def loaded_halves(self) -> frozenset[tuple[str, Half]]:
        """(model_name, "visual" | "textual") for each half in memory."""
        models = self._models
        return frozenset([(name, "visual") for name in list(models.visual)]
                         + [(name, "textual") for name in list(models.textual)])

    def load(self, model_name: str, *, visual: bool = True, textual: bool = True) -> None:
        """Load the model's halves now (otherwise the first encode of each does)."""
        if visual:
            self._visual(model_name)
        if textual:
            self._textual(model_name)

    def unload(self) -> None:
        """Free every loaded model; the next encode loads again."""
        with self._load_lock:
            self._models = _Loaded()
            self._dims.clear()
        release_heap()

    def idle_unload(self, ttl_seconds: float) -> bool:
        """Free each half unused for `ttl_seconds` (<= 0 disables). True if anything was unloaded."""
        if ttl_seconds <= 0:
            return False
        with self._load_lock:
            now = self._clock()
            old = self._models
            keep = _Loaded(
                visual={k: v for k, v in old.visual.items() if now - v.last_used < ttl_seconds},
                textual={k: t for k, t in old.textual.items() if now - t.last_used < ttl_seconds})
            dropped = len(keep.visual) < len(old.visual) or len(keep.textual) < len(old.textual)
            if dropped:
                self._models = keep
        if dropped:
            release_heap()
        return dropped

    def _visual(self, model_name: str) -> _Visual:
        found = self._models.visual.get(model_name)
        if found is None:
            with self._load_lock:
                found = self._models.visual.get(model_name)
                if found is None:
                    found = self._load_visual(model_name)
                    self._models.visual[model_name] = found
        found.last_used = self.last_used = self._clock()
        return found

    def _textual(self, model_name: str) -> _Textual:
        found = self._models.textual.get(model_name)
        if found is None:
            with self._load_lock:
                found = self._models.textual.get(model_name)
                if found is None:
                    found = self._load_textual(model_name)
                    self._models.textual[model_name] = found
        found.last_used = self.last_used = self._clock()
        return found

    def _load_visual(self, model_name: str) -> _Visual:
        for name in VISUAL_FILES:  # report the model file first when the whole directory is absent
            self._file(model_name, name)
        cfg_path = self._file(model_name, VISUAL_FILES[1])
        cfg = self._json(model_name, VISUAL_FILES[1])
        try:
            size = cfg["size"][0] if isinstance(cfg["size"], list) else cfg["size"]
            kernel = _KERNELS[str(cfg.get("interpolation", "bicubic")).lower()]
            mean = np.asarray(cfg["mean"], dtype=np.float32).reshape(-1)
            std = np.asarray(cfg["std"], dtype=np.float32).reshape(-1)
            if int(size) != size or size <= 0 or mean.size not in (1, 3) or std.size not in (1, 3) or np.any(std == 0):
                raise ValueError("bad size, mean or std")
        except (KeyError, IndexError, TypeError, ValueError) as e:
            raise ModelMissing(f"CLIP model {model_name}: {cfg_path} has no usable size/interpolation/mean/std "
                               f"({type(e).__name__}: {e})") from e
        session = self._session(model_name, VISUAL_FILES[0])
        names = [i.name for i in session.get_inputs()]
        return _Visual(session=session, input_name="image" if "image" in names else names[0], size=int(size),
                       kernel=kernel, mean=mean, std=std, last_used=self._clock())

    def _load_textual(self, model_name: str) -> _Textual:
        from tokenizers import Tokenizer  # noqa: PLC0415

        for name in TEXTUAL_FILES:
            self._file(model_name, name)
        config_path = self._file(model_name, CONFIG_FILE)
        text_cfg = self._json(model_name, CONFIG_FILE).get("text_cfg")
        tok_cfg_path = self._file(model_name, TEXTUAL_FILES[2])
        pad_token = self._json(model_name, TEXTUAL_FILES[2]).get("pad_token")
        if isinstance(pad_token, dict):  # some tokenizer_config.json files store AddedToken objects
            pad_token = pad_token.get("content")
        if not isinstance(text_cfg, dict):
            raise ModelMissing(f"CLIP model {model_name}: {config_path} has no text_cfg")
        context_length = text_cfg.get("context_length", DEFAULT_CONTEXT_LENGTH)
        if not isinstance(context_length, int) or context_length <= 0:
            raise ModelMissing(f"CLIP model {model_name}: {config_path} has a bad context_length")
        if not isinstance(pad_token, str):
            raise ModelMissing(f"CLIP model {model_name}: {tok_cfg_path} has no pad_token")
        tok_path = self._file(model_name, TEXTUAL_FILES[1])
        try:
            tokenizer = Tokenizer.from_file(str(tok_path))
        except Exception as e:  # tokenizers raises plain Exception on bad files
            raise ModelMissing(f"CLIP model {model_name}: {tok_path} is not a tokenizer file ({e})") from e
        pad_id = tokenizer.token_to_id(pad_token)
        if pad_id is None:
            raise ModelMissing(f"CLIP model {model_name}: pad token {pad_token!r} of {tok_cfg_path} is not in "
                               f"the vocabulary of {tok_path}")
        tokenizer.enable_padding(length=context_length, pad_id=pad_id, pad_token=pad_token)
        tokenizer.enable_truncation(max_length=context_length)
        kwargs = text_cfg.get("tokenizer_kwargs")
        canonicalize = isinstance(kwargs, dict) and kwargs.get("clean") == "canonicalize"

        session = self._session(model_name, TEXTUAL_FILES[0])
        inputs = {i.name: i for i in session.get_inputs()}
        feeds = ("input_ids", "attention_mask") if "input_ids" in inputs else ("text",)
        if not set(feeds) <= set(inputs):
            raise ModelMissing(f"CLIP model {model_name}: {self.model_dir(model_name) / TEXTUAL_FILES[0]} has "
                               f"inputs {sorted(inputs)}, expected 'text' or 'input_ids' + 'attention_mask'")
        dtypes = tuple(np.int64 if inputs[name].type == "tensor(int64)" else np.int32 for name in feeds)
        return _Textual(session=session, tokenizer=tokenizer, feeds=feeds, dtypes=dtypes, canonicalize=canonicalize,
                        nllb=model_name.startswith("nllb"), last_used=self._clock())

    # --- inference ---------------------------------------------------------------------------------------------

    def dimension(self, model_name: str) -> int:
        """Embedding size: `embed_dim` of config.json, else the visual model's output shape (loads it)."""
        dim = self._dims.get(model_name)
        if dim is not None:
            return dim
        root = self.model_dir(model_name)
        if (root / CONFIG_FILE).is_file():
            embed_dim = self._json(model_name, CONFIG_FILE).get("embed_dim")
            if isinstance(embed_dim, int) and embed_dim > 0:
                dim = embed_dim
        if dim is None:
            shape = self._visual(model_name).session.get_outputs()[0].shape
            if not shape or not isinstance(shape[-1], int):
                raise ModelMissing(f"CLIP model {model_name}: no embed_dim in {root / CONFIG_FILE} and "
                                   f"{root / VISUAL_FILES[0]} has no fixed output size ({shape})")
            dim = shape[-1]
        self._dims[model_name] = dim
        return dim

    def preprocess(self, image_path: str, model_name: str) -> np.ndarray:
        """The model's input for an image: float32 (1, 3, S, S), normalised (loads the visual half)."""
        return _preprocess(image_path, self._visual(model_name))

    def encode_image(self, image_path: str, model_name: str) -> np.ndarray:
        """Unit-length float32 embedding of the image file.

        :raises ModelMissing: the visual half or its config is absent or invalid.
        :raises pyvips.Error: the file cannot be decoded.
        """
        visual = self._visual(model_name)
        batch = _preprocess(image_path, visual)
        output = visual.session.run(None, {visual.input_name: batch})[0]
        self.last_used = visual.last_used = self._clock()
        return _normalise(output[0])

    def encode_text(self, text: str, model_name: str, language: str | None = None) -> np.ndarray:
        """Unit-length float32 embedding of a search query; `language` (Immich locale, e.g. "de") only matters
        for NLLB models.

        :raises ModelMissing: the textual half, its tokenizer or config.json is absent or invalid.
        """
        textual = self._textual(model_name)
        encoding = textual.tokenizer.encode(prepare_text(text, canonicalize=textual.canonicalize,
                                                         nllb=textual.nllb, language=language))
        values = (encoding.ids,) if len(textual.feeds) == 1 else (encoding.ids, encoding.attention_mask)
        feed = {name: np.asarray([v], dtype=dtype) for name, v, dtype in zip(textual.feeds, values, textual.dtypes,
                                                                             strict=True)}
        output = textual.session.run(None, feed)[0]
        self.last_used = textual.last_used = self._clock()
        return _normalise(output[0])


def _decode(image_path: str) -> pyvips.Image:
    """sRGB, 8-bit, 3 bands (alpha dropped as PIL's convert('RGB') does), no autorotation."""
    image = pyvips.Image.new_from_file(str(image_path), access="sequential").colourspace("srgb")
    if image.format != "uchar":
        image = image.cast("uchar")
    if image.bands > 3:
        image = image.extract_band(0, n=3)
    elif image.bands < 3:
        image = image.bandjoin([image] * (3 - image.bands))
    return image


def _preprocess(image_path: str, visual: _Visual) -> np.ndarray:
    image = _decode(image_path)
    size, width, height = visual.size, image.width, image.height
    if width < height:
        new_width, new_height = size, max(size, int(height / width * size))
    else:
        new_width, new_height = max(size, int(width / height * size)), size
    image = image.resize(new_width / width, vscale=new_height / height, kernel=visual.kernel, gap=0.0)
    left = max(0, int(image.width / 2 - size / 2))
    top = max(0, int(image.height / 2 - size / 2))
    pixels = image.crop(left, top, min(size, image.width - left), min(size, image.height - top)).numpy()
    if pixels.shape[:2] != (size, size):  # vips rounded a side down by one pixel: pad by repeating the edge
        pixels = np.pad(pixels, ((0, size - pixels.shape[0]), (0, size - pixels.shape[1]), (0, 0)), mode="edge")
    x = pixels.astype(np.float32) / 255.0
    x = (x - visual.mean) / visual.std
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None], dtype=np.float32)
