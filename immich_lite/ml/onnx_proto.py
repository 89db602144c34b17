"""A minimal ONNX (protobuf) writer, for the graphs this server builds itself (ml/dlib_onnx.py's face ResNet,
search/vectors.py's quantised scan)."""
from __future__ import annotations

from typing import Any

import numpy as np

# The graph is written here rather than with the `onnx` package: importing it costs ~17 MB RSS and its model objects
# hold every weight twice more while serialising; this writes each weight's bytes once. Field numbers from
# onnx/onnx.proto (ModelProto, GraphProto, NodeProto, AttributeProto, TensorProto, ValueInfoProto, TypeProto).

def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1  # int64 as protobuf encodes it (two's complement for negatives)
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _int(field: int, n: int) -> bytes:
    return _varint(field << 3) + _varint(n)


def _bytes(field: int, data: bytes) -> bytes:
    return _varint(field << 3 | 2) + _varint(len(data)) + data


def _str(field: int, text: str) -> bytes:
    return _bytes(field, text.encode())


def _attribute(name: str, value: int | list[int]) -> bytes:
    if isinstance(value, list):  # AttributeProto.INTS = 7
        return _str(1, name) + _int(20, 7) + b"".join(_int(8, v) for v in value)
    return _str(1, name) + _int(20, 2) + _int(3, value)  # AttributeProto.INT = 2


def _node(op: str, inputs: list[str], outputs: list[str], **attrs: int | list[int]) -> bytes:
    return (b"".join(_str(1, i) for i in inputs) + b"".join(_str(2, o) for o in outputs) + _str(3, outputs[0])
            + _str(4, op) + b"".join(_bytes(5, _attribute(k, v)) for k, v in attrs.items()))


# TensorProto.DataType
ELEM_TYPES = {np.dtype(np.float32): 1, np.dtype(np.uint8): 2, np.dtype(np.int8): 3, np.dtype(np.int32): 6,
              np.dtype(np.int64): 7}


def _tensor(name: str, array: np.ndarray) -> bytes:
    kind = ELEM_TYPES[array.dtype]
    return (b"".join(_int(1, d) for d in array.shape) + _int(2, kind) + _str(8, name)
            + _bytes(9, np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<"), copy=False).tobytes()))


def _value_info(name: str, dims: list[int | str], dtype: Any = np.float32) -> bytes:
    shape = b"".join(_bytes(1, _int(1, d) if isinstance(d, int) else _str(2, d)) for d in dims)
    tensor_type = _int(1, ELEM_TYPES[np.dtype(dtype)]) + _bytes(2, shape)  # elem_type, shape
    return _str(1, name) + _bytes(2, _bytes(1, tensor_type))




def model(nodes: list[bytes], inits: list[bytes], inputs: list[bytes], outputs: list[bytes], name: str,
          opset: int = 17) -> bytes:
    """A serialized ModelProto of one graph (nodes from _node, initializers from _tensor, value infos)."""
    graph = (b"".join(_bytes(1, n) for n in nodes) + _str(2, name) + b"".join(_bytes(5, t) for t in inits)
             + b"".join(_bytes(11, v) for v in inputs) + b"".join(_bytes(12, v) for v in outputs))
    return _int(1, 8) + _str(2, "immich-lite") + _bytes(7, graph) + _bytes(8, _str(1, "") + _int(2, opset))


node, tensor, value_info = _node, _tensor, _value_info
