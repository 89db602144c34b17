"""System config (upstream SystemConfigService + utils/config.ts): defaults merged with the admin's overrides.

Only the difference from the defaults is stored (system_metadata 'system-config'), so a new release's defaults
reach every setting the admin never changed.
"""
from __future__ import annotations

import copy
import json
from typing import Any

from immich_lite.ctx import Ctx
from immich_lite.errors import BadRequest, ValidationFailed
from immich_lite.repos import system_metadata
from immich_lite.services import system_config_rules as rules
from immich_lite.services.system_config_defaults import DEFAULTS, STORAGE_PRESETS, STORAGE_TOKENS
from immich_lite.validation import custom

KEY = "system-config"
NO_SMTP = "immich-lite cannot send email"

__all__ = ["DEFAULTS", "get_config", "config_view", "get_defaults", "update_config", "get_storage_template_options",
           "get_custom_css"]

Path = tuple[str, ...]


def _leaves(node: Any, path: Path = ()) -> list[Path]:
    """Immich: getKeysDeep: dotted paths of every non-object value (arrays count as values)."""
    if not isinstance(node, dict):
        return []
    out: list[Path] = []
    for k, v in node.items():
        out.extend(_leaves(v, (*path, k)) if isinstance(v, dict) else [(*path, k)])
    return out


_MISSING = object()


def _get(node: Any, path: Path) -> Any:
    for k in path:
        if not isinstance(node, dict) or k not in node:
            return _MISSING
        node = node[k]
    return node


def _set(node: dict[str, Any], path: Path, value: Any) -> None:
    for k in path[:-1]:
        node = node.setdefault(k, {})
    node[path[-1]] = value


def build_config(partial: dict[str, Any] | None) -> dict[str, Any]:
    """Immich: buildConfig: defaults, then the stored overrides, then the normalisations upstream applies."""
    config = copy.deepcopy(DEFAULTS)
    for path in _leaves(DEFAULTS):
        value = _get(partial or {}, path)
        if value is not _MISSING:
            _set(config, path, copy.deepcopy(value))
    domain = config["server"]["externalDomain"]
    if isinstance(domain, str) and domain and rules.is_url(domain):
        config["server"]["externalDomain"] = rules.url_origin(domain)
    ffmpeg = config["ffmpeg"]
    if ffmpeg["targetVideoCodec"] not in ffmpeg["acceptedVideoCodecs"]:
        ffmpeg["acceptedVideoCodecs"].append(ffmpeg["targetVideoCodec"])
    if ffmpeg["targetAudioCodec"] not in ffmpeg["acceptedAudioCodecs"]:
        ffmpeg["acceptedAudioCodecs"].append(ffmpeg["targetAudioCodec"])
    return config


def diff_from_defaults(config: dict[str, Any]) -> dict[str, Any]:
    """Immich: updateConfig: keep the leaves that differ from the defaults; empty values (None, '') mean default."""
    partial: dict[str, Any] = {}
    for path in _leaves(DEFAULTS):
        value = _get(config, path)
        if value is _MISSING or value is None or value == "" or value == _get(DEFAULTS, path):
            continue
        _set(partial, path, value)
    return partial


# stored JSON text -> (the built config, as JSON text for cheap fresh copies); a handful of recent versions
_built: dict[str | None, tuple[dict[str, Any], str]] = {}
_BUILT_MAX = 4


def _cached(ctx: Ctx, conn: Any) -> tuple[dict[str, Any], str]:
    row = (conn or ctx.db.reader()).execute("SELECT value FROM system_metadata WHERE key = ?", (KEY,)).fetchone()
    raw = row["value"] if row else None
    hit = _built.get(raw)
    if hit is None:
        stored = json.loads(raw) if raw else None
        config = build_config(stored if isinstance(stored, dict) else None)
        hit = (config, json.dumps(config))
        if len(_built) >= _BUILT_MAX:
            _built.pop(next(iter(_built)))
        _built[raw] = hit
    return hit


def get_config(ctx: Ctx, conn: Any = None) -> dict[str, Any]:
    """The effective config (a fresh copy the caller may change). Built once per stored version: job handlers
    read it per job (a clustering pass: per face), and merging onto the defaults costs ~0.3 ms."""
    return json.loads(_cached(ctx, conn)[1])


def config_view(ctx: Ctx, conn: Any = None) -> dict[str, Any]:
    """The effective config shared, not copied: for hot paths that only read it. Never change what it returns."""
    return _cached(ctx, conn)[0]


def get_defaults() -> dict[str, Any]:
    return copy.deepcopy(DEFAULTS)


def get_storage_template_options() -> dict[str, Any]:
    return {**copy.deepcopy(STORAGE_TOKENS), "presetOptions": list(STORAGE_PRESETS)}


def get_custom_css(ctx: Ctx) -> str:
    """Body of GET /custom.css (upstream serves theme.customCss there)."""
    return str(get_config(ctx)["theme"]["customCss"])


# --- validation beyond the OpenAPI schema ---------------------------------------------------------

_CRON_PATHS: list[Path] = [
    ("backup", "database", "cronExpression"),
    ("library", "scan", "cronExpression"),
    ("integrityChecks", "missingFiles", "cronExpression"),
    ("integrityChecks", "untrackedFiles", "cronExpression"),
    ("integrityChecks", "checksumFiles", "cronExpression"),
]
_OPTIONAL_URLS: list[tuple[Path, str]] = [
    (("oauth", "issuerUrl"), "Issuer URL must be an empty string or a valid URL"),
    (("oauth", "endSessionEndpoint"), "endSessionEndpoint must be an empty string or a valid URL"),
    (("server", "externalDomain"), "External domain must be an empty string or a valid URL"),
]


def _schema_errors(dto: dict[str, Any]) -> list[dict[str, Any]]:
    """Immich: the zod refinements of SystemConfigSchema (a 400 listing every failure as a custom issue)."""
    errors: list[dict[str, Any]] = []
    for path in _CRON_PATHS:
        reason = rules.cron_error(_get(dto, path))
        if reason is not None:
            errors.append(custom(list(path), f"Invalid cron expression. {reason}"))
    for path, message in _OPTIONAL_URLS:
        value = _get(dto, path)
        if value and not rules.is_url(value):
            errors.append(custom(list(path), message))
    oauth = dto["oauth"]
    if oauth["mobileOverrideEnabled"] and oauth["mobileRedirectUri"] and not rules.is_url(oauth["mobileRedirectUri"]):
        errors.append(custom(["oauth"], "Mobile redirect URI must be an empty string or a valid URL"))
    return errors


def _validate_change(new: dict[str, Any], old: dict[str, Any]) -> None:
    """Immich: the ConfigValidate handlers; each failure is a 400 with its one message."""
    model = new["machineLearning"]["clip"]["modelName"]
    if not rules.clip_model_ok(model):
        raise BadRequest(f"Unknown CLIP model: {model}. Please check the model name for typos and confirm this is "
                         "a supported model.")
    if not rules.storage_template_ok(new["storageTemplate"]["template"]):
        raise BadRequest("Invalid storage template")
    # features immich-lite does not have yet cannot be switched on (they would silently do nothing)
    for path, what in ((("oauth", "enabled"), "OAuth"), (("ffmpeg", "realtime", "enabled"), "Real-time transcoding"),
                       (("storageTemplate", "enabled"), "The storage template")):
        if _get(new, path) and not _get(old, path):
            raise BadRequest(f"{what} is not supported by immich-lite yet")
    smtp = new["notifications"]["smtp"]
    if smtp["enabled"] and smtp != old["notifications"]["smtp"]:
        # upstream verifies the SMTP server here; immich-lite has no mail transport, so it cannot pass
        raise BadRequest(f"Invalid SMTP configuration: {NO_SMTP}")


def update_config(ctx: Ctx, dto: dict[str, Any]) -> dict[str, Any]:
    """Validate, store the difference from the defaults, tell the clients; returns the new effective config.

    :raises ValidationFailed: a refinement of upstream's schema failed.
    :raises BadRequest: a rule upstream checks on a change failed.
    """
    errors = _schema_errors(dto)
    if errors:
        raise ValidationFailed(errors)
    with ctx.db.write() as conn:
        old = get_config(ctx, conn)
        _validate_change(dto, old)
        system_metadata.set(conn, KEY, diff_from_defaults(dto))
        new = get_config(ctx, conn)
        from immich_lite.services import smart_search  # noqa: PLC0415 (import cycle)

        smart_search.on_config_change(conn, old, new)
    if ctx.events:
        ctx.events.emit("on_config_update", "all", None)
    return new
