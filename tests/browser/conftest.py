"""Browser tests: each test's outcome is kept on its item, so a fixture can screenshot the page of a failed one."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    setattr(item, f"rep_{report.when}", report)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """One line per browser flow with its outcome, so a CI log says which flows passed."""
    lines = []
    for outcome in ("passed", "failed", "error", "skipped"):
        for report in terminalreporter.stats.get(outcome, []):
            nodeid = getattr(report, "nodeid", "")
            if "tests/browser/" in nodeid and getattr(report, "when", "call") in ("call", "setup"):
                if outcome == "passed" and report.when != "call":
                    continue
                lines.append(f"browser: {nodeid.rsplit('::', 1)[-1].removeprefix('test_')}: {outcome}")
    if lines:
        terminalreporter.write_line("")
        for line in lines:
            terminalreporter.write_line(line)
