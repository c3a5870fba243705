"""A test that skips (a missing wheel, espeak-ng, the BirdNET bundle) says why under plain
pytest; with LIVETAG_PYTEST_NO_SKIP=1, as tools/test.sh and so CI run it, the skip is a
failure, since everything those tests wait for has been installed by then."""

from __future__ import annotations

import os

import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("LIVETAG_PYTEST_NO_SKIP") and \
            not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped where no test may skip (LIVETAG_PYTEST_NO_SKIP): " \
                          f"{report.longrepr}"
