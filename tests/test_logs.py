"""The server's log at the default level: one line per meaningful event, each once, nothing per library step."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

from tests.conftest import CORPUS
from tests.helpers.live import LiveServer, live_server, wait_for  # noqa: F401


def test_default_log_is_quiet_and_has_no_doubled_lines(live_server: LiveServer) -> None:  # noqa: F811
    admin = live_server.sign_up_admin()
    for name in ("mongolia.jpeg",):
        r = admin.upload((CORPUS / "jpeg" / name).read_bytes(), name)
        assert r.status_code == 201, r.text
    wait_for(lambda: not live_server.query("SELECT 1 FROM job WHERE status IN ('waiting', 'active')"), 120, 0.1,
             "every job to finish")
    with live_server.client() as c:
        assert c.post("/api/search/metadata", json={"originalFileName": "mongolia"},
                      headers=admin.headers).json()["assets"]["total"] == 1
        assert c.get("/api/users/me").status_code == 401  # a refused request is not an event worth a line
    code, _ = live_server.terminate()
    assert code == 0
    lines = [line for p in sorted(Path(live_server.log_dir).glob("server-*.log"))
             for line in p.read_text(errors="replace").splitlines() if line.strip()]
    doubled = [line for line, n in Counter(lines).items() if n > 1]
    assert not doubled, "\n".join(lines)
    assert sum("Running on" in line for line in lines) == 1, "\n".join(lines)
    noisy = [line for line in lines if any(w in line.lower() for w in ("pyvips", "exiftool", "vips-", "debug"))]
    assert not noisy, "\n".join(lines)
    assert len(lines) <= 12, "\n".join(lines)
