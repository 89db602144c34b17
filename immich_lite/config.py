"""Settings: one table feeds the CLI flags, the IMMICH_LITE_* environment names and the README."""
from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str
    type: Callable[[str], Any] = str

    @property
    def env(self) -> str:
        return "IMMICH_LITE_" + self.name.upper()

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


def _bool(v: str) -> bool:
    return v.strip().lower() in ("1", "true", "yes", "on")


SETTINGS: tuple[Setting, ...] = (
    Setting("host", "0.0.0.0", "Address to listen on."),
    Setting("port", 2283, "Port to listen on (Immich's port).", int),
    Setting("data_dir", "./immich-data", "Where the database, originals and derived files live; created on first start."),
    Setting("web_root", "", "Directory of the Immich web app build to serve at / (default: <data-dir>/www when it "
            "exists; `immich-lite web install` puts it there)."),
    Setting("models_dir", "", "Machine-learning models (CLIP in upstream's layout: <dir>/<modelName>/visual/model.onnx "
            "...) (default: <data-dir>/models); faces and OCR use models that ship in their packages."),
    Setting("workers", 2, "Background job threads (thumbnails, metadata, video).", int),
    Setting("log_level", "info", "Logging level: debug, info, warning, error."),
    Setting("allow_setup", True, "Allow the first admin to sign up through the API (Immich's IMMICH_ALLOW_SETUP).", _bool),
    Setting("trusted_proxies", "", "Comma-separated proxy addresses whose X-Forwarded-For is believed (login throttling)."),
    Setting("login_max_failures", 10, "Failed logins per account or per address within 15 minutes before 429.", int),
)


@dataclass(frozen=True)
class Settings:
    host: str = "0.0.0.0"
    port: int = 2283
    data_dir: str = "./immich-data"
    web_root: str = ""
    models_dir: str = ""
    workers: int = 2
    log_level: str = "info"
    allow_setup: bool = True
    trusted_proxies: str = ""
    login_max_failures: int = 10
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir).expanduser().resolve()

    @property
    def web_path(self) -> Path:
        """The web app's directory: --web-root, else <data-dir>/www (served only when it holds a build)."""
        return Path(self.web_root).expanduser().resolve() if self.web_root else self.data_path / "www"

    @property
    def models_path(self) -> Path:
        """CLIP models: --models-dir, else <data-dir>/models."""
        return Path(self.models_dir).expanduser().resolve() if self.models_dir else self.data_path / "models"

    @classmethod
    def load(cls, overrides: dict[str, Any] | None = None, environ: dict[str, str] | None = None) -> "Settings":
        """Defaults, then IMMICH_LITE_* environment variables, then explicit overrides (CLI flags)."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for s in SETTINGS:
            if s.env in env:
                values[s.name] = s.type(env[s.env])
        for k, v in (overrides or {}).items():
            if v is not None:
                values[k] = v
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})
