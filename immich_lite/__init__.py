"""immich-lite: a one-process, SQLite-backed server that speaks the Immich API."""

__version__ = "0.1.0"
# The upstream API version whose protocol we implement; the apps gate features on it (API-NOTES §7).
IMMICH_VERSION = (3, 1, 0)
