"""Every test has a deadline, so a hang fails the run instead of holding it until CI's own limit.

pytest-timeout gives each test ``timeout`` seconds (pyproject.toml), and those marked ``slow`` ``slow_timeout``
seconds (added here, as an explicit ``@pytest.mark.timeout``). Its signal method cannot interrupt C code that holds
Python's GIL (a deadlocked ``pybullet.connect(GUI)`` is one: grasp_env/display.py), so a backstop that needs no GIL
stands behind it: `faulthandler` dumps every thread's stack and ends the session ``timeout_backstop_grace`` seconds
after the test's deadline. tests/test_timeouts.py checks both.

Ray: every process of the session shares one auth token. Since Ray 2.5x a cluster that finds a token turns token
authentication on, and a client reads whether to send one when it first imports ray. Without a token here, the
session's `ray start` (tests/test_ray.py) wrote ``~/.ray/auth_token``, and the clusters started after it required a
token that this process, having imported ray before, never sent: on a fresh machine the cluster tests failed. A
token for the session in the environment (``RAY_AUTH_TOKEN``, inherited by every node the tests start), set before
any import of ray, keeps both sides in token mode from the start; one the user has is kept.
"""

from __future__ import annotations

import faulthandler
import os
import secrets
from collections.abc import Iterator
from typing import IO

import pytest

from sac.run.ray import auth_token_available, prepare_client_auth

if not os.environ.get("RAY_AUTH_MODE") and not auth_token_available():
    os.environ["RAY_AUTH_TOKEN"] = secrets.token_hex(32)
prepare_client_auth()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("slow_timeout", "seconds a test marked slow may take (pytest-timeout's timeout for the rest)")
    parser.addini("timeout_backstop_grace", "seconds past a test's timeout before faulthandler ends the session")


_terminal: IO[str] | None = None


def pytest_configure(config: pytest.Config) -> None:
    # The backstop writes where the user looks: the terminal's stderr as it was before pytest captured fd 2.
    global _terminal
    capman = config.pluginmanager.getplugin("capturemanager")
    err = getattr(getattr(capman, "_global_capturing", None), "err", None)
    fd = getattr(err, "targetfd_save", None)
    _terminal = os.fdopen(os.dup(fd if isinstance(fd, int) else 2), "w")


def pytest_unconfigure(config: pytest.Config) -> None:
    if _terminal is not None:
        _terminal.close()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    slow_timeout = float(config.getini("slow_timeout") or 0)
    for item in items:
        if slow_timeout and item.get_closest_marker("slow") and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(slow_timeout))


def _deadline(item: pytest.Item) -> float:
    marker = item.get_closest_marker("timeout")
    if marker is not None and marker.args:
        return float(marker.args[0])
    return float(item.config.getini("timeout") or 0)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    deadline = _deadline(item)
    if deadline > 0:  # setup, call and teardown, as pytest-timeout counts them
        grace = float(item.config.getini("timeout_backstop_grace") or 60)
        faulthandler.dump_traceback_later(deadline + grace, exit=True, file=_terminal)
    try:
        yield
    finally:
        if deadline > 0:
            faulthandler.cancel_dump_traceback_later()
