"""Fixtures for the media adapter tests: the shared real-media corpus and one exiftool process."""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Iterator

import pytest

from immich_lite.media.exif import ExifTool

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"


def corpus_files() -> list[Path]:
    """Every media file of the metadata corpus (relative paths sort the parametrized test ids). faces/ is a set of
    labelled face photos for detection tests, not listed in MANIFEST.tsv / UPSTREAM-METADATA.json."""
    if not CORPUS.is_dir():
        return []
    return sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.suffix not in (".md", ".tsv", ".json")
                  and p.relative_to(CORPUS).parts[0] != "faces")


def upstream() -> dict[str, dict[str, Any]]:
    """UPSTREAM-METADATA.json re-keyed by corpus path."""
    data = json.loads((CORPUS / "UPSTREAM-METADATA.json").read_text()) if CORPUS.is_dir() else {}
    return {entry["path"]: entry for entry in data.values()}


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"media corpus not found at {CORPUS}")
    return CORPUS


@pytest.fixture(scope="session")
def et() -> Iterator[ExifTool]:
    if shutil.which("exiftool") is None:
        pytest.skip("exiftool is not installed (apt: libimage-exiftool-perl)")
    tool = ExifTool()
    yield tool
    tool.close()


@pytest.fixture(scope="session")
def need_ffmpeg() -> None:
    if shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None:
        pytest.skip("ffmpeg/ffprobe are not installed (apt: ffmpeg)")
