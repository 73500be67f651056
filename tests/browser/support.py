"""Helpers for browser journeys: the live server, axe-core checks, CSP watching, a quick sign-in.

The fixtures that use them are in ``tests/browser/conftest.py`` (read its docstring first).
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from aidants.clock import FixedClock

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from tests.factories import AidantWithDevice

#: Chromium switches for a headless run in a container, with nothing fetched from the network.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]

#: Injected by the driver before any page script (so the page's CSP does not apply to it): forwards every
#: ``securitypolicyviolation`` event to Python through the exposed binding below.
CSP_BINDING = "__aidantsCspViolation"
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.%s(`${event.effectiveDirective} refused ${event.blockedURI || "(inline)"} `
            + `at ${event.sourceFile || event.documentURI}:${event.lineNumber}`);
}, true);
""" % CSP_BINDING  # noqa: UP031 (the JS template literal braces make an f-string unreadable)


#: True once the DSFR's script has set up the header menu (or when the page has none).
DSFR_READY = """() => {
  const menu = document.querySelector(".fr-header__menu.fr-modal");
  return !menu || menu.hasAttribute("data-fr-js-header-modal");
}"""


class _QuietHandler(WSGIRequestHandler):
    """No access log line per request (pytest shows the test's own output instead)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


@dataclass
class LiveServer:
    """The real app served over HTTP on 127.0.0.1, in a thread of the test process."""

    app: Flask
    clock: FixedClock
    url: str = ""
    _server: BaseWSGIServer | None = field(default=None, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    def start(self) -> LiveServer:
        self._server = make_server("127.0.0.1", 0, self.app, threaded=True, request_handler=_QuietHandler)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self.app.config["PUBLIC_URL"] = self.url  # links and the issuer name this server, as in production
        self._thread = threading.Thread(target=self._server.serve_forever, name="live-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join()

    def now(self) -> dt.datetime:
        """The time the app believes it is (its FixedClock)."""
        return self.clock.now()


@dataclass
class PageWatch:
    """What went wrong in the browser during a test, besides what the test itself asserts."""

    csp_violations: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def on_console(self, message: Any) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            self.csp_violations.append(f"console: {message.text}")

    def on_request(self, request: Any) -> None:
        if request.method == "POST" and request.url.split("?")[0].endswith("/csp-report"):
            self.csp_violations.append(f"report sent to /csp-report: {request.post_data}")

    def on_event(self, description: str) -> None:
        self.csp_violations.append(f"event: {description}")

    def on_page_error(self, error: Any) -> None:
        stack = "\n".join((getattr(error, "stack", "") or "").splitlines()[:4])
        self.page_errors.append(f"{error}\n{stack}" if stack else str(error))


def axe_script() -> str:
    """axe-core as shipped inside axe-playwright-python (a pinned Python dependency; no network)."""
    from axe_playwright_python.base import AXE_SCRIPT

    return AXE_SCRIPT


def axe_violations(page: Page, context: Any = None, options: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Run axe-core on the page as it is now; its violations (every rule axe runs by default)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(axe_script())
    results = page.evaluate(
        "([context, options]) => axe.run(context || document, options)",
        [context, {"resultTypes": ["violations"], **(options or {})}],
    )
    return list(results["violations"])


def describe_violations(violations: list[dict[str, Any]], limit: int = 5) -> str:
    """A readable list: rule, impact, help, link, and the first offending elements with axe's advice."""
    lines = []
    for violation in violations:
        lines.append(f"- {violation['id']} ({violation.get('impact') or 'n/a'}): {violation['help']}")
        lines.append(f"  {violation['helpUrl']}")
        for node in violation["nodes"][:limit]:
            target = " ".join(json.dumps(part) if not isinstance(part, str) else part for part in node["target"])
            summary = (node.get("failureSummary") or "").replace("\n", " / ")
            lines.append(f"    at {target}: {summary}")
            lines.append(f"       {node['html'][:200]}")
        if len(violation["nodes"]) > limit:
            lines.append(f"    … and {len(violation['nodes']) - limit} more element(s)")
    return "\n".join(lines)


def assert_accessible(page: Page, context: Any = None, options: dict[str, Any] | None = None) -> None:
    """Fail with a readable list when axe-core finds any violation on the page as it is now.

    The DSFR's script first finishes setting up the page (it adapts the header menu's ARIA to the screen
    size): axe then judges the page a person meets, not the instant before the script ran.
    """
    page.wait_for_function(DSFR_READY)
    violations = axe_violations(page, context, options)
    if violations:
        raise AssertionError(
            f"axe-core found {len(violations)} accessibility violation(s) on {page.url} "
            f"({page.title()!r}):\n{describe_violations(violations)}"
        )


def assert_no_csp_violation(watch: PageWatch, page: Page | None = None) -> None:
    """Fail when the browser refused anything because of the CSP (so far in this test)."""
    if page is not None:
        page.evaluate("0")  # a round trip, so that events the page already sent have reached Python
    if watch.csp_violations:
        raise AssertionError("CSP violation(s):\n" + "\n".join(f"- {v}" for v in watch.csp_violations))


def open_login_link_from_outbox(page: Page, email: str) -> None:
    """Open the latest login link emailed to ``email``, from the development outbox, like a person would."""
    page.goto("/dev/outbox")
    message = page.locator("article", has_text=email).first
    message.get_by_role("link").first.click()


def sign_in(page: Page, who: AidantWithDevice, now: dt.datetime) -> None:
    """The whole sign-in in the browser (email + code, the outbox link, the confirm button): the dashboard."""
    page.goto("/connexion")
    page.get_by_label("Adresse e-mail professionnelle").fill(who.aidant.email)
    page.get_by_label("Code à usage unique").fill(who.code(now))
    page.get_by_role("button", name="Recevoir mon lien de connexion").click()
    page.get_by_role("heading", name="Consultez votre messagerie").wait_for()
    open_login_link_from_outbox(page, who.aidant.email)
    page.get_by_role("button", name="Me connecter").click()
    page.get_by_role("heading", name="Espace aidant").wait_for()
