"""Browser journeys: the real app over HTTP, Debian's Chromium driven by Playwright, axe-core on every page.

Every test under ``tests/browser/`` is marked ``browser`` automatically (``-m "not browser"`` leaves them out).

Fixtures:

``live_server``
    ``LiveServer`` with ``.url`` (``http://127.0.0.1:<free port>``), ``.app`` (the real app on this test's
    database, CSRF **on**, the test's ``fixed_clock`` installed) and ``.now()``. werkzeug serves it in a thread.
    Its app context is pushed for the whole test, so factories work directly:
    ``who = make_aidant(live_server.now())``, codes from ``who.code(live_server.now())``; time moves only when
    the test advances ``fixed_clock``. Do not also ask for ``app``/``client``: they are another app.
``browser`` (per worker)
    Chromium from ``$CHROMIUM`` or ``/usr/bin/chromium``, launched once. Missing: skipped locally, a failure
    with ``CI=true`` (``tests.conftest.require``). ``playwright install`` is never needed.
``browser_page``
    A ``Page`` in a fresh context (its own cookies), ``base_url`` set to the live server so that
    ``page.goto("/connexion")`` works, French locale, Paris time zone, 30 s default timeout (a bound only).
    It is watched: CSP violations (the ``securitypolicyviolation`` events, forwarded by a script that the
    driver injects; console messages about the CSP; reports posted to ``/csp-report``) and uncaught
    JavaScript errors are collected, and **the test fails at teardown if any occurred**.
``csp_violations``
    The list of CSP violations seen so far (strings), to assert on mid-journey; ``page_watch`` has
    them with the uncaught page errors.
``assert_accessible``
    ``assert_accessible(page, context=None, options=None)``: runs axe-core (bundled in the pinned
    ``axe-playwright-python``, so offline) on the page as it is, every default rule (WCAG A/AA and best
    practices), and fails with a readable list: rule, impact, link, offending elements and axe's advice.
``assert_no_csp_violation``
    ``assert_no_csp_violation()``: fails now, with the list, if the page was refused anything by the CSP.

``tests.browser.support.sign_in(page, who, now)`` signs an aidant in through the real pages (email + code,
the link from ``/dev/outbox``, the confirm button) for journeys that start from the dashboard.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from aidants import clock
from tests.browser.support import (
    CHROMIUM_ARGS,
    CSP_BINDING,
    CSP_LISTENER,
    LiveServer,
    PageWatch,
)
from tests.browser.support import (
    assert_accessible as _assert_accessible,
)
from tests.browser.support import (
    assert_no_csp_violation as _assert_no_csp_violation,
)
from tests.conftest import build_app, require


def chromium_path() -> str:
    return os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Chromium, launched once per test worker."""
    path = chromium_path()
    require(Path(path).is_file() and os.access(path, os.X_OK),
            f"Chromium not found at {path} (apt-get install chromium, or set CHROMIUM)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require(False, "the playwright package is not installed (pip install -e '.[test]')")
        raise
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def live_server(database_url: str, tmp_path: Path, fixed_clock: clock.FixedClock) -> Iterator[LiveServer]:
    app = build_app(database_url, tmp_path, WTF_CSRF_ENABLED=True)
    clock.set_clock(app, fixed_clock)
    server = LiveServer(app=app, clock=fixed_clock).start()
    try:
        with app.app_context():
            yield server
    finally:
        server.stop()
        app.extensions["db_engine"].dispose()


@pytest.fixture
def page_watch() -> PageWatch:
    return PageWatch()


@pytest.fixture
def csp_violations(page_watch: PageWatch) -> list[str]:
    return page_watch.csp_violations


@pytest.fixture
def browser_page(browser: Any, live_server: LiveServer, page_watch: PageWatch) -> Iterator[Any]:
    context = browser.new_context(base_url=live_server.url, locale="fr-FR", timezone_id="Europe/Paris")
    context.expose_function(CSP_BINDING, page_watch.on_event)
    context.add_init_script(script=CSP_LISTENER)
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.on("console", page_watch.on_console)
    page.on("request", page_watch.on_request)
    page.on("pageerror", page_watch.on_page_error)
    yield page
    try:
        if not page.is_closed():
            page.evaluate("0")  # let events already sent by the page reach Python
    finally:
        context.close()
    problems = [f"CSP: {v}" for v in page_watch.csp_violations] + [f"JS error: {e}" for e in page_watch.page_errors]
    if problems:
        pytest.fail("the browser reported:\n" + "\n".join(f"- {p}" for p in problems))


@pytest.fixture
def assert_accessible() -> Callable[..., None]:
    return _assert_accessible


@pytest.fixture
def assert_no_csp_violation(browser_page: Any, page_watch: PageWatch) -> Callable[[], None]:
    return lambda: _assert_no_csp_violation(page_watch, browser_page)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/browser/ is a browser test (``-m "not browser"`` leaves them out)."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.path).parents:
            item.add_marker(pytest.mark.browser)
