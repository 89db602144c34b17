"""Anonymous pulls over the OCI distribution API (registry HTTP API v2), with the standard library only.

What `immich-lite web install` needs of a container image: resolve a tag to the manifest for this machine's
platform (through an OCI index / Docker manifest list), follow the registry's Bearer challenge for an anonymous
token, and read each layer blob as a stream whose digest is checked as it passes (`VerifyingReader`). The token
is never sent along a blob redirect (object stores refuse it).
"""
from __future__ import annotations

import hashlib
import http.client
import json
import platform
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from immich_lite import __version__

Progress = Callable[[str, int], None]
CHUNK = 1 << 20
TIMEOUT = 60.0
UA = f"immich-lite/{__version__}"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
_REPO_NAME = re.compile(r"[a-z0-9]+(?:[._-]+[a-z0-9]+)*(?:/[a-z0-9]+(?:[._-]+[a-z0-9]+)*)*")  # distribution spec
_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64", "armv7l": "arm",
         "armv6l": "arm", "i386": "386", "i686": "386", "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64"}




class RegistryError(Exception):
    """A registry refusal, network failure or digest mismatch, with a message for the user."""


@dataclass(frozen=True)
class ImageRef:
    host: str
    name: str
    reference: str  # a tag or a digest

    @classmethod
    def parse(cls, text: str) -> ImageRef:
        """`host[:port]/name[:tag][@sha256:...]`, e.g. ghcr.io/immich-app/immich-server:v3.1.0. The registry host
        is required (no default registry is assumed).

        :raises RegistryError: when text is not such a reference.
        """
        rest = text.removeprefix("docker://")
        rest, _, digest = rest.partition("@")
        host, _, rest = rest.partition("/")
        if not rest or not ("." in host or ":" in host or host == "localhost"):
            raise RegistryError(f"{text}: not a directory, a tarball or an image reference with its registry host "
                                f"(e.g. ghcr.io/immich-app/immich-server:v3.1.0)")
        name, tag = rest, "latest"
        if ":" in rest.rpartition("/")[2]:
            name, _, tag = rest.rpartition(":")
        valid = (_REPO_NAME.fullmatch(name) and re.fullmatch(r"\w[\w.-]{0,127}", tag)
                 and (not digest or re.fullmatch(r"sha(256|512):[0-9a-f]+", digest)))
        if not valid:
            raise RegistryError(f"{text}: not a directory, a tarball or an image reference")
        return cls(host=host, name=name, reference=digest or tag)

    @property
    def base(self) -> str:
        hostname = urllib.parse.urlsplit(f"//{self.host}").hostname or ""
        scheme = "http" if hostname in ("localhost", "127.0.0.1") else "https"
        return f"{scheme}://{self.host}/v2/{self.name}"


class Registry:
    def __init__(self, ref: ImageRef):
        self.ref = ref
        self.token: str | None = None
        self.opener = urllib.request.build_opener()

    def get(self, path: str, accept: tuple[str, ...] = ()) -> http.client.HTTPResponse:
        url = f"{self.ref.base}/{path}"
        for attempt in range(2):
            req = urllib.request.Request(url, headers={"User-Agent": UA, **({"Accept": ", ".join(accept)}
                                                                           if accept else {})})
            if self.token:  # unredirected: blob redirects to S3-like stores must not carry it (they refuse it)
                req.add_unredirected_header("Authorization", f"Bearer {self.token}")
            try:
                return self.opener.open(req, timeout=TIMEOUT)  # type: ignore[no-any-return]
            except urllib.error.HTTPError as e:
                challenge = e.headers.get("WWW-Authenticate", "")
                e.close()
                if e.code == 401 and attempt == 0 and challenge.lower().startswith("bearer "):
                    self.token = self._token(challenge)
                    continue
                raise RegistryError(self._explain(e, path)) from None
            except (OSError, http.client.HTTPException) as e:
                raise RegistryError(f"network error talking to {self.ref.host}: {getattr(e, 'reason', e)}") from None
        raise AssertionError("unreachable")

    def _token(self, challenge: str) -> str:
        params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
        realm = params.pop("realm", "")
        params.setdefault("scope", f"repository:{self.ref.name}:pull")
        query = urllib.parse.urlencode({k: v for k, v in params.items() if k in ("service", "scope")})
        req = urllib.request.Request(f"{realm}?{query}", headers={"User-Agent": UA})
        try:
            with self.opener.open(req, timeout=TIMEOUT) as r:
                body = json.loads(r.read(1 << 20))
        except urllib.error.HTTPError as e:
            raise RegistryError(f"{self.ref.host} refused an anonymous pull token (HTTP {e.code})") from None
        except (OSError, http.client.HTTPException, ValueError) as e:
            raise RegistryError(f"could not get a pull token from {realm}: {getattr(e, 'reason', e)}") from None
        token = body.get("token") or body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str):
            raise RegistryError(f"{realm} answered no token")
        return token

    def _explain(self, e: urllib.error.HTTPError, path: str) -> str:
        what = f"{self.ref.host}/{self.ref.name}"
        if e.code == 404:
            thing = f"{what}:{self.ref.reference}" if path.startswith("manifests/") else f"{what} blob {path[6:]}"
            return f"not found: {thing} (HTTP 404)"
        if e.code in (401, 403):
            return f"{what}: access denied (HTTP {e.code}); only public images can be pulled"
        return f"{what}: HTTP {e.code} for {path}"

    def manifest(self, reference: str, digest: str | None = None) -> dict[str, Any]:
        accept = (OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST)
        with self.get(f"manifests/{reference}", accept) as r:
            body = r.read(8 << 20)
        if digest:
            check_digest(digest, body, f"manifest {digest}")
        try:
            doc = json.loads(body)
        except ValueError:
            doc = None
        if not isinstance(doc, dict):
            raise RegistryError(f"{self.ref.host}/{self.ref.name}:{reference}: not a JSON manifest")
        return doc


def check_digest(digest: str, data: bytes, what: str) -> None:
    alg, _, want = digest.partition(":")
    if alg not in ("sha256", "sha512") or hashlib.new(alg, data).hexdigest() != want:
        raise RegistryError(f"digest mismatch for {what}")


def pick_platform(manifests: list[dict[str, Any]]) -> dict[str, Any]:
    usable = [m for m in manifests if m.get("platform", {}).get("os") != "unknown"]  # skip attestations
    arch = _ARCH.get(platform.machine().lower(), platform.machine().lower())
    for os_, want in (("linux", arch), ("linux", "amd64")):
        for m in usable:
            p = m.get("platform", {})
            if p.get("os") == os_ and p.get("architecture") == want:
                return m
    if not (usable or manifests):
        raise RegistryError("the image index lists no manifests")
    return (usable or manifests)[0]


class VerifyingReader:
    """A blob's bytes as a file for tarfile's stream mode: counted, hashed as they pass, cut-offs detected."""

    def __init__(self, resp: http.client.HTTPResponse, digest: str, size: int | None, progress: Progress):
        alg, _, self.want = digest.partition(":")
        if alg not in ("sha256", "sha512"):
            raise RegistryError(f"unsupported digest algorithm: {digest}")
        self.resp, self.digest, self.size, self.progress = resp, digest, size, progress
        self.hash = hashlib.new(alg)
        self.done = 0

    def read(self, n: int = -1) -> bytes:
        left = None if self.size is None else self.size - self.done
        if left == 0:
            return b""
        want = CHUNK if n is None or n < 0 else n
        try:
            chunk = self.resp.read(want if left is None else min(want, left))
        except (OSError, http.client.HTTPException) as e:
            raise RegistryError(f"network error while downloading layer {self.digest}: {e}") from None
        if not chunk and left is not None:
            raise RegistryError(f"download of layer {self.digest} was cut off after {self.done:,} of "
                                  f"{self.size:,} bytes")
        self.hash.update(chunk)
        self.done += len(chunk)
        self.progress("bytes", len(chunk))
        return chunk

    def finish(self) -> None:
        """Read what tarfile left (end-of-archive padding, the gzip trailer), then check the digest."""
        while self.read(CHUNK):
            pass
        if self.hash.hexdigest() != self.want:
            raise RegistryError(f"digest mismatch for layer {self.digest}: the registry sent other bytes")
