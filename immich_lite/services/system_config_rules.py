"""The SystemConfigDto rules the OpenAPI schema cannot express (Immich: system-config.dto.ts refinements and the
ConfigValidate handlers), each returning a message or None.
"""
from __future__ import annotations

import re
from urllib.parse import urlsplit

from immich_lite.services.system_config_defaults import CLIP_MODELS, STORAGE_VARIABLES

# --- URLs (zod z.url(): anything `new URL()` accepts) -----------------------------------------------

_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.\-]*$")
_SPECIAL_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443, "ftp": 21}


def is_url(value: str) -> bool:
    if not value or value != value.strip() or any(c in value for c in " \t\n"):
        return False
    scheme, sep, _rest = value.partition(":")
    if not sep or not _SCHEME.match(scheme):
        return False
    try:
        parts = urlsplit(value)
        if scheme.lower() in _SPECIAL_PORTS:
            _ = parts.port  # raises on a bad port
            return bool(parts.hostname)
    except ValueError:
        return False
    return True


def url_origin(value: str) -> str:
    """WHATWG `new URL(value).origin`, keeping user:password as upstream's buildConfig does."""
    parts = urlsplit(value)
    scheme = parts.scheme.lower()
    if scheme not in _SPECIAL_PORTS:
        return "null"
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    hostport = host if port in (None, _SPECIAL_PORTS[scheme]) else f"{host}:{port}"
    if parts.username and parts.password:
        return f"{scheme}://{parts.username}:{parts.password}@{hostport}"
    return f"{scheme}://{hostport}"


# --- cron (the `cron` package's validateCronExpression: 5 or 6 fields, names, ranges, steps) ---------------

_CRON_ALIASES = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@hourly", "@minutely", "@secondly",
                 "@weekdays", "@weekends"}
_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
_DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
_FIELDS = [("second", 0, 59), ("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12),
           ("day of week", 0, 7)]
_PART = re.compile(r"^(\*|\d+)(?:-(\d+))?(?:/(\d+))?$")


def cron_error(expression: str) -> str | None:
    """None when valid, else the reason."""
    text = expression.strip().lower()
    if text in _CRON_ALIASES:
        return None
    fields = text.split()
    if len(fields) < 5:
        return "Too few fields"
    if len(fields) > 6:
        return "Too many fields"
    if len(fields) == 5:
        fields.insert(0, "0")
    for i, (name, low, high) in enumerate(_FIELDS):
        value = fields[i]
        if name == "month":
            value = re.sub(r"[a-z]{3}", lambda m: str(_MONTHS.index(m[0]) + 1) if m[0] in _MONTHS else m[0], value)
        if name == "day of week":
            value = re.sub(r"[a-z]{3}", lambda m: str(_DAYS.index(m[0])) if m[0] in _DAYS else m[0], value)
        for part in value.split(","):
            m = _PART.match(part)
            if not m:
                return f"Invalid {name} field: {fields[i]}"
            start = low if m[1] == "*" else int(m[1])
            end = int(m[2]) if m[2] is not None else (high if m[1] == "*" or m[3] else start)
            if m[1] == "*" and m[2] is not None:
                return f"Invalid {name} field: {fields[i]}"
            if not (low <= start <= high and low <= end <= high):
                return f"Field value out of range in {name}: {fields[i]}"
            if start > end:
                return f"Invalid range in {name}: {fields[i]}"
            if m[3] is not None and int(m[3]) == 0:
                return f"Step of zero in {name}: {fields[i]}"
    return None


# --- storage template (handlebars, compiled strict, rendered with sample values) -------------------

_TAG = re.compile(r"\{\{\{(.*?)\}\}\}|\{\{(?!\{)(.*?)\}\}(?!\})", re.S)
_BLOCK_HELPERS = {"if", "unless", "each", "with"}
_HELPERS = _BLOCK_HELPERS | {"lookup", "log"}


def _known_path(token: str) -> bool:
    if token in ("this", ".") or token.startswith(("this.", "this/", "@", '"', "'")) or token.isdigit():
        return True
    return token in STORAGE_VARIABLES


def storage_template_ok(template: str) -> bool:
    """Would upstream's strict handlebars compile + sample render succeed?"""
    stack: list[str] = []
    rest = _TAG.sub("", template)
    if "{{" in rest:
        return False  # an unclosed mustache is a parse error
    for m in _TAG.finditer(template):
        body = (m[1] if m[1] is not None else m[2]).strip().strip("~").strip()
        if not body or body.startswith("!"):
            continue  # comment
        head, *args = body.split()
        if head.startswith(">"):
            return False  # no partials are registered
        if head.startswith("#") or head.startswith("^") and len(head) > 1:
            name = head[1:]
            if name in _BLOCK_HELPERS:
                if len(args) != 1:
                    return False
            elif args or not _known_path(name):
                return False
            stack.append(name)
        elif head.startswith("/"):
            if not stack or stack.pop() != head[1:]:
                return False
        elif head in ("else", "^"):
            if not stack:
                return False
        elif args:
            if head not in _HELPERS:
                return False  # "Missing helper"
        elif not _known_path(head):
            return False  # strict: "<name>" not defined
    return not stack


# --- CLIP model names (smart-info.service.ts onConfigValidate) --------------------------------------

def clip_model_ok(model_name: str) -> bool:
    token = model_name.split("/")[-1]
    return bool(token) and token.replace(":", "_") in CLIP_MODELS
