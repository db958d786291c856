"""A pytest plugin, copied into the sandbox toolbox: each test's coverage context is its node id.

Loaded with `-p draftsmith_coverage_contexts` under `coverage run`; it switches the running
Coverage's dynamic context to the test's node id for its setup, call and teardown, so
`coverage json --show-contexts` says which test executed each line. Code run outside any test
(imports at collection) keeps the empty context. Without a running Coverage it does nothing.
"""

from __future__ import annotations

from collections.abc import Generator

import coverage
import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(
    item: pytest.Item, nextitem: pytest.Item | None
) -> Generator[None, None, None]:
    """Record everything the test runs under its node id."""
    cov = coverage.Coverage.current()
    if cov is not None:
        cov.switch_context(item.nodeid)
    yield
    if cov is not None:
        cov.switch_context("")
