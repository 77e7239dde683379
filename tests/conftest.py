"""Shared fixtures: every fixture records what it starts and stops it at teardown."""

from __future__ import annotations

pytest_plugins = ["tests.fixtures.netns", "tests.fixtures.nats", "tests.fixtures.jinad"]
