"""No input ever gets a 5xx: schemathesis (PyPI) generates requests for every operation of the pinned spec, valid
and invalid, against a real `immich-lite serve` as its admin, for a bounded time, and fails on any 5xx.

Left out: the operations that end the run's own session or put the server in a mode where it answers 503 on
purpose (logout, password change, deleting all sessions, maintenance mode, database restore).
The figures (cases, operations, seed) are printed into the test output; the server's log must hold no
unhandled error.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SHARED
from tests.helpers.live import LiveServer, live_server  # noqa: F401

SPEC = SHARED / "immich" / "immich-openapi-specs.json"
BUDGET_S = int(os.environ.get("IMMICH_LITE_FUZZ_SECONDS", "150"))
EXCLUDED = ("logout", "changePassword", "deleteAllSessions", "setMaintenanceMode", "startDatabaseRestoreFlow")
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


def test_no_input_gets_a_server_error(live_server: LiveServer, tmp_path: Path,  # noqa: F811
                                      capsys: pytest.CaptureFixture[str]) -> None:
    admin = live_server.sign_up_admin()
    cmd = [str(SCHEMATHESIS), "run", str(SPEC), "--url", f"{live_server.url}/api",
           "-H", f"Authorization: Bearer {admin.token}", "--checks", "not_a_server_error",
           "--max-examples", "10", "--workers", "2", "--max-time", str(BUDGET_S), "--request-timeout", "30",
           "--generation-database", "none", "--no-color", "--output-truncate", "true",
           *(arg for op in EXCLUDED for arg in ("--exclude-operation-id", op))]
    p = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=BUDGET_S + 300)
    out = p.stdout + p.stderr
    if p.returncode != 0 and _only_a_tool_error(out):
        # schemathesis itself failed (seen once: CPython 3.11's "AST constructor recursion depth mismatch" in its
        # coverage phase under threads) while every case passed: run it once more rather than fail on its bug
        with capsys.disabled():
            print(f"\nfuzz: schemathesis hit an internal error with every case passed; running it again:\n"
                  f"{_error_lines(out)}")
        p = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=BUDGET_S + 300)
        out = p.stdout + p.stderr
    tested = re.search(r"Tested: (\d+)", out)
    cases = re.search(r"(\d+) generated", out)
    seed = re.search(r"Seed: (\d+)", out)
    with capsys.disabled():
        print(f"\nfuzz: schemathesis, {cases.group(1) if cases else '?'} cases over "
              f"{tested.group(1) if tested else '?'} operations in <= {BUDGET_S} s, seed "
              f"{seed.group(1) if seed else '?'}, exit {p.returncode}")
    assert p.returncode == 0, out[-6000:]
    assert tested and int(tested.group(1)) >= 240 and cases and int(cases.group(1)) > 1000, out[-3000:]
    assert "unhandled error" not in live_server.log_tail(100_000), live_server.log_tail(200)


def _only_a_tool_error(out: str) -> bool:
    """A run whose only problem is schemathesis's own runtime error: no failed check, every case passed."""
    done = re.search(r"(\d+) generated, (\d+) passed", out)
    return ("Runtime Error" in out and done is not None and done.group(1) == done.group(2)
            and "not_a_server_error" not in out.split("SUMMARY")[-1])


def _error_lines(out: str) -> str:
    return "\n".join(line for line in out.splitlines() if "Error" in line)[:1500]

