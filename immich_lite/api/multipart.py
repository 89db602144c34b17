"""Streaming multipart/form-data → temp files in the data dir, SHA-1 computed on the way, never held in memory.

python-multipart's push parser does the parsing (the well-kept library for it); this module only routes the
bytes: file parts to TempUpload writers (disk work in the threadpool, 1 MiB at a time), small text parts into
a dict. Limits guard against the Starlette/python-multipart DoS classes (RELIABILITY §1.24).
"""
from __future__ import annotations

import asyncio
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from immich_lite.errors import BadRequest, PayloadTooLarge

MAX_PARTS = 100
MAX_FIELD_BYTES = 1024 * 1024
MAX_HEADER_BYTES = 16 * 1024
FLUSH_BYTES = 1024 * 1024


class TempUpload:
    """A file being received: written under the data dir's tmp/, hashed, fsynced on finish."""

    def __init__(self, path: Path, filename: str):
        self.path = path
        self.filename = filename
        self.size = 0
        self._sha1 = hashlib.sha1()  # noqa: S324 (Immich's checksum is SHA-1 by contract)
        # parsed but not yet written: zero-copy views into the received chunks, flushed from the threadpool
        self.pending: list[memoryview] = []
        self.pending_size = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        self._f = open(path, "wb")  # noqa: SIM115 (closed in finish/abort)

    def take_pending(self) -> list[memoryview]:
        chunks, self.pending, self.pending_size = self.pending, [], 0
        return chunks

    def write_many(self, chunks: list[memoryview]) -> None:
        for chunk in chunks:
            self.write(chunk)

    def write(self, data: bytes | memoryview) -> None:
        self._f.write(data)
        self._sha1.update(data)
        self.size += len(data)

    def finish(self) -> bytes:
        """fsync and close; returns the SHA-1 digest."""
        self._f.flush()
        os.fsync(self._f.fileno())
        self._f.close()
        return self._sha1.digest()

    def abort(self) -> None:
        if not self._f.closed:
            self._f.close()
        self.path.unlink(missing_ok=True)


@dataclass
class Form:
    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, TempUpload] = field(default_factory=dict)
    checksums: dict[str, bytes] = field(default_factory=dict)

    def abort(self) -> None:
        for f in self.files.values():
            f.abort()


async def receive(request: Request, *, file_fields: set[str], new_temp: Callable[[str, str], Path],
                  check_file: Callable[[str, str], None] | None = None, max_bytes: int | None = None) -> Form:
    """Parse the body. `new_temp(field, filename)` names the temp path; `check_file(field, filename)` may raise
    before any byte of that file is stored (e.g. unsupported type). On any error every temp file is removed.
    """
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if ctype != b"multipart/form-data" or not boundary:
        raise BadRequest("Expected multipart/form-data")
    form = Form()
    state: dict[str, Any] = {"parts": 0, "headers": {}, "hname": b"", "hval": b"", "hbytes": 0, "done": False}
    current: dict[str, Any] = {}
    errors: list[Exception] = []

    def on_part_begin() -> None:
        state["parts"] += 1
        if state["parts"] > MAX_PARTS:
            errors.append(BadRequest("Too many parts"))
        state["headers"] = {}
        current.clear()

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["hname"] += data[start:end]
        _count(end - start)

    def on_header_value(data: bytes, start: int, end: int) -> None:
        state["hval"] += data[start:end]
        _count(end - start)

    def _count(n: int) -> None:
        state["hbytes"] += n
        if state["hbytes"] > MAX_HEADER_BYTES:
            errors.append(BadRequest("Part headers too large"))

    def on_header_end() -> None:
        state["headers"][state["hname"].lower()] = state["hval"]
        state["hname"], state["hval"] = b"", b""

    def on_headers_finished() -> None:
        _, disp = parse_options_header(state["headers"].get(b"content-disposition", b""))
        name = disp.get(b"name", b"").decode("utf-8", "replace")
        filename = disp.get(b"filename")
        current["name"] = name
        if filename is not None and name in file_fields and name not in form.files:
            fname = filename.decode("utf-8", "replace")
            try:
                if check_file:
                    check_file(name, fname)
            except Exception as e:  # noqa: BLE001 (reported after this parser call returns)
                errors.append(e)
                current["kind"] = "skip"
                return
            form.files[name] = TempUpload(new_temp(name, fname), fname)
            current["kind"] = "file"
            current["upload"] = form.files[name]
        elif filename is not None:
            current["kind"] = "skip"  # unknown file parts are drained, not stored
        else:
            current["kind"] = "field"
            current["value"] = bytearray()

    def on_part_data(data: bytes, start: int, end: int) -> None:
        kind = current.get("kind")
        if kind == "file":
            upload = current["upload"]
            upload.pending.append(memoryview(data)[start:end])
            upload.pending_size += end - start
        elif kind == "field":
            current["value"].extend(data[start:end])
            if len(current["value"]) > MAX_FIELD_BYTES:
                errors.append(PayloadTooLarge(f"Field {current['name']} is too large"))

    def on_part_end() -> None:
        if current.get("kind") == "field":
            form.fields[current["name"]] = current["value"].decode("utf-8", "replace")

    def on_end() -> None:
        state["done"] = True

    parser = MultipartParser(boundary, {
        "on_part_begin": on_part_begin, "on_part_data": on_part_data, "on_part_end": on_part_end,
        "on_header_field": on_header_field, "on_header_value": on_header_value, "on_header_end": on_header_end,
        "on_headers_finished": on_headers_finished, "on_end": on_end,
    })
    total = 0
    # one disk write in flight per file while the next bytes arrive: hashing+writing overlaps receiving
    writing: dict[str, asyncio.Future[None]] = {}

    async def flush(name: str, upload: TempUpload) -> None:
        if name in writing:
            await writing.pop(name)
        writing[name] = asyncio.ensure_future(run_in_threadpool(upload.write_many, upload.take_pending()))

    try:
        async for chunk in request.stream():
            total += len(chunk)
            if max_bytes is not None and total > max_bytes:
                raise BadRequest("Quota has been exceeded!")
            parser.write(chunk)  # calls back synchronously; file bytes collect in each upload's `pending`
            if errors:
                raise errors[0]
            for name, upload in form.files.items():
                if upload.pending_size >= FLUSH_BYTES:
                    await flush(name, upload)
        for name, upload in form.files.items():
            if upload.pending:
                await flush(name, upload)
        for task in writing.values():
            await task
        writing.clear()
        parser.finalize()
        if not state["done"]:
            raise BadRequest("Unexpected end of form")
        for name, upload in form.files.items():
            form.checksums[name] = await run_in_threadpool(upload.finish)
    except BaseException:
        for task in writing.values():
            try:
                await task
            except Exception:  # noqa: BLE001 (the first error is the one being raised)
                pass
        await run_in_threadpool(form.abort)
        raise
    return form
