"""The tests' one bounded wait: what it returns, and what its failure says."""

from __future__ import annotations

import itertools
import time

import pytest

from tests.fixtures.waiting import async_wait_for, wait_for

pytestmark = pytest.mark.unit


def test_returns_the_first_truthy_value() -> None:
    values = iter([0, [], "ready"])
    assert wait_for(lambda: next(values), timeout_s=5, interval_s=0.001, what="a value") == "ready"


def test_fails_at_the_deadline_naming_what_and_the_last_value() -> None:
    counter = itertools.count()
    began = time.monotonic()
    with pytest.raises(AssertionError) as err:
        wait_for(lambda: next(counter) < 0, timeout_s=0.2, interval_s=0.01, what="a negative count")
    assert 0.2 <= time.monotonic() - began < 2
    assert str(err.value) == "timed out after 0.2 s waiting for a negative count (last: False)"


def test_ignored_errors_count_as_not_yet_and_the_last_one_is_reported() -> None:
    calls = itertools.count()

    def flaky() -> str:
        if next(calls) < 3:
            raise ConnectionRefusedError("not listening yet")
        return "up"

    assert wait_for(flaky, timeout_s=5, interval_s=0.001, ignore=(OSError,), what="up") == "up"

    def down() -> str:
        raise ConnectionRefusedError("not listening")

    with pytest.raises(AssertionError, match=r"waiting for the port \(last: ConnectionRefused") as err:
        wait_for(down, timeout_s=0.05, interval_s=0.01, ignore=(OSError,), what="the port")
    assert isinstance(err.value.__cause__, ConnectionRefusedError)


def test_other_errors_end_the_wait_at_once() -> None:
    def broken() -> bool:
        raise KeyError("no such thing")

    with pytest.raises(KeyError):
        wait_for(broken, timeout_s=5, ignore=(OSError,), what="anything")


async def test_async_twin_awaits_coroutine_predicates_and_takes_plain_ones() -> None:
    values = iter([None, None, 42])

    async def probe() -> int | None:
        return next(values)

    assert await async_wait_for(probe, timeout_s=5, interval_s=0.001, what="42") == 42
    assert await async_wait_for(lambda: "plain", timeout_s=5, what="a plain value") == "plain"
    with pytest.raises(AssertionError, match=r"waiting for nothing \(last: None\)"):
        await async_wait_for(lambda: None, timeout_s=0.05, interval_s=0.01, what="nothing")
