"""Streaming multipart/form-data → temp files in the data dir, SHA-1 computed on the way, never held in memory.

python-multipart's push parser does the parsing (the well-kept library for it); this module only routes the
bytes: file parts to TempUpload writers (a writer thread per file; the event loop hands over 1 MiB of zero-copy
views at a time, with back-pressure), small text parts into a dict. Limits guard against the Starlette /
python-multipart DoS classes (RELIABILITY §1.24).
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import queue
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from immich_lite.errors import BadRequest, PayloadTooLarge, disk_full_error, is_disk_full
from immich_lite.storage import start_writeback

log = logging.getLogger("immich_lite.upload")
MAX_PARTS = 100
INVALID = "Invalid multipart/form-data request"
MAX_FIELD_BYTES = 1024 * 1024
MAX_HEADER_BYTES = 16 * 1024
FLUSH_BYTES = 1024 * 1024
MAX_QUEUED = 8 * 1024 * 1024  # received but not yet on disk, per file


class TempUpload:
    """A file being received: written under the data dir's tmp/, hashed, fsynced, by its own writer thread.

    The event loop only parses and hands over zero-copy views of the received chunks (`feed`); one thread per
    file opens, writes, hashes and fsyncs. Hand-offs are a C-level SimpleQueue.put, and the loop is woken just
    twice per file (back-pressure aside): when the digest is ready and if it must wait for the disk. A pool
    round trip per flushed MiB cost the loop thread more than parsing the whole body (bench/upload.py).
    """

    _ABORT = object()

    def __init__(self, path: Path, filename: str):
        self.path = path
        self.filename = filename
        self.size = 0
        # parsed but not yet handed to the writer: views into the received chunks
        self.pending: list[memoryview] = []
        self.pending_size = 0
        self._loop = asyncio.get_running_loop()
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._queued = 0  # bytes handed over (event loop writes it; the writer counts `size`)
        self._waiter: asyncio.Future[None] | None = None
        self._result: asyncio.Future[Any] = self._loop.create_future()
        _WRITERS.submit(self._run)

    async def feed(self) -> None:
        """Hand the pending views to the writer; waits only while more than MAX_QUEUED bytes are unwritten."""
        if self._result.done():  # the writer stopped early (disk full, I/O error): stop receiving now
            self._result.result()
            raise RuntimeError("upload writer stopped")
        if not self.pending:
            return
        self._queued += self.pending_size
        self._queue.put(self.pending)
        self.pending, self.pending_size = [], 0
        if self._queued - self.size > MAX_QUEUED and not self._result.done():
            self._waiter = self._loop.create_future()
            if self._queued - self.size > MAX_QUEUED:  # the writer may have caught up meanwhile
                await self._waiter
            self._waiter = None
            if self._result.done() and self._result.exception() is not None:
                raise self._result.exception()  # type: ignore[misc]

    async def finish(self, then: Callable[[bytes], Any] | None = None) -> Any:
        """All parts fed: fsync and close; returns the SHA-1 digest, or `then(digest)` run by the writer thread
        right after the fsync (its result or exception), which saves the caller a thread hop."""
        await self.feed()
        self._queue.put(_Done(then))
        return await self._result

    async def abort(self) -> None:
        """Stop the writer and remove the temp file (also after finish: a no-op once the file was moved)."""
        if not self._result.done():
            self._queue.put(self._ABORT)
            try:
                await self._result
            except Exception:  # noqa: BLE001 (the error being handled is the caller's)
                pass
        elif not self._result.cancelled():
            self._result.exception()  # retrieved: not "never retrieved" noise
        await run_in_threadpool(_remove, self.path)

    def _run(self) -> None:
        sha1 = hashlib.sha1()  # noqa: S324 (Immich's checksum is SHA-1 by contract)
        try:
            try:
                f = open(self.path, "wb")  # noqa: SIM115 (closed by the with below)
            except FileNotFoundError:  # tmp/ removed under us: temp files need no durable directory
                self.path.parent.mkdir(parents=True, exist_ok=True)
                f = open(self.path, "wb")  # noqa: SIM115
            with f:
                while True:
                    item = self._queue.get()
                    if item is self._ABORT:
                        raise _Aborted
                    if isinstance(item, _Done):
                        f.flush()
                        os.fsync(f.fileno())
                        then = item.then
                        break
                    # one buffer per hand-off: one write and one hash call, so one GIL round trip each
                    chunk = item[0] if len(item) == 1 else b"".join(item)
                    f.write(chunk)
                    # writeback starts while the rest arrives, so the closing fsync waits for little
                    start_writeback(f.fileno(), self.size, len(chunk))
                    sha1.update(chunk)
                    self.size += len(chunk)
                    if (waiter := self._waiter) is not None and self._queued - self.size <= MAX_QUEUED:
                        self._loop.call_soon_threadsafe(_settle, waiter, None)
            digest = sha1.digest()
            result = digest if then is None else then(digest)
            self._loop.call_soon_threadsafe(self._ended, result, None)
        except BaseException as e:  # noqa: BLE001 (handed to the event loop)
            self._loop.call_soon_threadsafe(self._ended, None, e)

    def _ended(self, result: Any, error: BaseException | None) -> None:
        """On the event loop: the writer thread has exited."""
        if not self._result.done():
            if error is not None:
                self._result.set_exception(error)
            else:
                self._result.set_result(result)
        if self._waiter is not None:  # a feed waiting for the disk must not outlive the writer
            _settle(self._waiter, None)


class _WriterThreads:
    """Long-lived daemon threads, one per file being received. Starting a thread per upload made the event loop
    wait for each new thread to come up; a writer is held for a whole upload, so the pool grows to the peak
    number of files received at once and never makes a file wait. Daemon threads: a writer still waiting for
    bytes never holds up the process's exit (concurrent.futures joins its threads at exit)."""

    def __init__(self) -> None:
        self._tasks: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0

    def submit(self, fn: Callable[[], None]) -> None:
        with self._lock:
            grow = self._idle == 0
            if not grow:
                self._idle -= 1
        self._tasks.put(fn)
        if grow:
            threading.Thread(target=self._work, name="upload-writer", daemon=True).start()

    def _work(self) -> None:
        while True:
            fn = self._tasks.get()
            try:
                fn()
            except BaseException:  # noqa: BLE001 (fn reports its own errors to the event loop)
                log.exception("upload writer failed")
            with self._lock:
                self._idle += 1


_WRITERS = _WriterThreads()


def _remove(path: Path) -> None:
    """Best-effort removal of a temp file: a failure here must not hide the error being reported."""
    try:
        path.unlink()
    except (FileNotFoundError, NotADirectoryError):
        pass
    except OSError:
        log.warning("could not remove %s", path, exc_info=True)


class _Aborted(Exception):
    pass


@dataclass(frozen=True)
class _Done:
    """The last hand-off of a file: fsync, then `then(digest)` if given."""
    then: Callable[[bytes], Any] | None


def _settle(fut: asyncio.Future[Any], value: Any) -> None:
    if not fut.done():
        fut.set_result(value)


@dataclass
class Form:
    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, TempUpload] = field(default_factory=dict)
    checksums: dict[str, bytes] = field(default_factory=dict)
    result: Any = None  # what `receive(commit=...)` returned

    async def abort(self) -> None:
        for f in self.files.values():
            await f.abort()


async def receive(request: Request, *, file_fields: set[str], new_temp: Callable[[str, str], Path],
                  check_file: Callable[[str, str], None] | None = None, max_bytes: int | None = None,
                  commit: tuple[str, Callable[[Form], Any]] | None = None) -> Form:
    """Parse the body. `new_temp(field, filename)` names the temp path; `check_file(field, filename)` may raise
    before any byte of that file is stored (e.g. unsupported type). On any error every temp file is removed.

    `commit=(field, fn)`: once every file is fsynced, `fn(form)` runs in a worker thread and its result is
    `form.result` (an exception aborts like any other error). It runs in the writer thread of `field`'s file,
    right after that file's fsync, when there is one: one thread hop per upload instead of two. Measured with
    3 parallel uploaders, the hop from the event loop to a pool thread and back cost 3-5 ms of latency each.
    """
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if ctype != b"multipart/form-data" or not boundary:
        raise BadRequest(INVALID)
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
    try:
        async for chunk in request.stream():
            total += len(chunk)
            if max_bytes is not None and total > max_bytes:
                raise BadRequest("Quota has been exceeded!")
            parser.write(chunk)  # calls back synchronously; file bytes collect in each upload's `pending`
            if errors:
                raise errors[0]
            for upload in form.files.values():
                if upload.pending_size >= FLUSH_BYTES:
                    await upload.feed()
        parser.finalize()
        if not state["done"]:
            raise BadRequest("Unexpected end of form")
        last = form.files.get(commit[0]) if commit else None
        for name, upload in form.files.items():
            if upload is not last:
                form.checksums[name] = await upload.finish()
        if commit is not None:
            if last is None:
                form.result = await run_in_threadpool(commit[1], form)
            else:
                def then(digest: bytes) -> Any:  # in the writer thread, after its fsync
                    form.checksums[commit[0]] = digest
                    return commit[1](form)

                form.result = await last.finish(then)
    except BaseException as e:
        await asyncio.shield(form.abort())
        if isinstance(e, MultipartParseError):  # a malformed body is the client's error, not a crash
            raise BadRequest(INVALID) from None
        if is_disk_full(e):  # the upload is refused whole; its temp files are gone (abort above)
            raise disk_full_error(f"upload of {total} bytes stopped: {e}") from None
        raise
    return form


async def receive_file(request: Request, field: str, temp_path: Callable[[], Path],
                       check: Callable[[str], None]) -> TempUpload:
    """Receive a body whose one file part `field` matters (profile image, database backup): the first such part
    goes to `temp_path()` (fsynced, hashed), `check(filename)` may refuse it before a byte is stored. The caller
    removes the file (`await upload.abort()`) or moves it away."""
    form = await receive(request, file_fields={field}, new_temp=lambda _field, _name: temp_path(),
                         check_file=lambda _field, name: check(name))
    upload = form.files.get(field)
    if upload is None:
        raise BadRequest(f"Field(s) {field} should not be empty")  # upstream FileNotEmptyValidator
    return upload
