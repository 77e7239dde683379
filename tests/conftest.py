"""Shared fixtures: every fixture records what it starts and stops it at teardown.

Every test carries one kind marker (``unit``, ``integration``, ``mesh``, ``container``; a
module's ``pytestmark`` gives it to all its tests), so ``-m`` selects by what a test needs.
"""

from __future__ import annotations

import pytest

pytest_plugins = ["tests.fixtures.netns", "tests.fixtures.nats", "tests.fixtures.jinad"]

KINDS = ("unit", "integration", "mesh", "container")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Refuse the run when a collected test has no kind marker, naming its module."""
    unmarked = sorted({item.nodeid.split("::")[0] for item in items
                       if not any(item.get_closest_marker(kind) for kind in KINDS)})
    if unmarked:
        raise pytest.UsageError(f"tests without one of the markers {', '.join(KINDS)} "
                                f"(set pytestmark in the module): {', '.join(unmarked)}")
