"""The layout's links built once per worker (``aidants.routing.fixed_link``) are exactly ``url_for``'s."""

from __future__ import annotations

import re
from pathlib import Path

from flask import Flask, url_for

from aidants.routing import fixed_link

BASE = Path(__file__).resolve().parent.parent.parent / "templates" / "base.html"
CALL = re.compile(r"fixed_link\('([^']+)'(?:, filename='([^']+)')?\)")


def _calls() -> list[tuple[str, dict[str, str]]]:
    calls = [(endpoint, {"filename": filename} if filename else {}) for endpoint, filename in
             CALL.findall(BASE.read_text(encoding="utf-8"))]
    assert len(calls) >= 18  # every link of the layout, not a regex that matches nothing
    return calls


def test_every_layout_link_is_url_for_s_under_each_script_root(app: Flask) -> None:
    for script_root in ("", "/sous-dossier"):
        with app.test_request_context("/", base_url="http://localhost" + script_root):
            for endpoint, values in _calls():
                expected = url_for(endpoint, **values)
                assert expected.startswith(script_root + "/")
                assert fixed_link(endpoint, **values) == expected
                assert fixed_link(endpoint, **values) == expected  # the kept one too


def test_a_page_s_links_follow_the_script_root_of_its_request(app: Flask) -> None:
    client = app.test_client()
    plain = client.get("/connexion").get_data(as_text=True)
    prefixed = client.get("/connexion", base_url="http://localhost/sous-dossier").get_data(as_text=True)
    again = client.get("/connexion").get_data(as_text=True)
    assert 'href="/mentions-legales"' in plain and 'href="/mentions-legales"' in again
    assert 'href="/sous-dossier/mentions-legales"' in prefixed
    assert "/sous-dossier/" not in again


def test_a_render_outside_a_request_builds_the_url_each_time(app: Flask) -> None:
    app.config["SERVER_NAME"] = "aidants.exemple.fr"
    with app.app_context():
        assert fixed_link("legal.mentions") == url_for("legal.mentions")
    assert "fixed_links" not in app.extensions
