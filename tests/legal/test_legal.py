"""Public legal pages linked from the footer, the help page, and the CGU accepted at first sign-in and at each new
version (journaled)."""

from __future__ import annotations

import re

import sqlalchemy as sa

from aidants import db
from aidants.journal.models import JournalEntry
from aidants.legal import cgu
from aidants.retention_periods import RETENTION_PERIODS
from tests.factories import make_aidant, sign_in

PAGES = {
    "/mentions-legales": "Mentions légales",
    "/donnees-personnelles": "Données personnelles",
    "/accessibilite": "Déclaration d'accessibilité",
    "/cgu": "Conditions générales d'utilisation",
    "/aide/connexion": "Je n'arrive pas à me connecter",
}


def text(response) -> str:  # type: ignore[no-untyped-def]
    return response.get_data(as_text=True)


def cgu_entries() -> list[dict]:
    statement = sa.select(JournalEntry.extra).where(JournalEntry.action == "accept_cgu").order_by(JournalEntry.seq)
    return list(db.session().scalars(statement))


def test_every_legal_page_answers_anyone_and_is_linked_from_the_full_footer(client):
    home = text(client.get("/"))
    footer = home[home.index('<footer'):]
    for path, title in PAGES.items():
        response = client.get(path)
        assert response.status_code == 200 and f"<h1>{title}</h1>" in text(response), path
        assert f'href="{path}"' in footer, path
    assert "fr-footer__bottom-list" in footer and "fr-footer__content-list" in footer
    for host in ("info.gouv.fr", "service-public.fr", "legifrance.gouv.fr", "data.gouv.fr"):
        assert f'href="https://www.{host}"' in footer
    assert "Accessibilité : non conforme" in footer


def test_personal_data_page_lists_each_retention_period_from_the_one_dict(client):
    page = text(client.get("/donnees-personnelles"))
    for kind, period in RETENTION_PERIODS.items():
        row = re.search(rf'<tr id="duree-{kind}">(.*?)</tr>', page, re.S)
        assert row, kind
        years, rest = divmod(period["days"], 365)
        expected = (f"{years} an" if not rest else f"{period['days']} jour")
        assert expected in row.group(1)
    for section in ("Finalités et bases légales", "Destinataires", "Vos droits", "Contact"):
        assert f"<h2>{section}</h2>" in page
    assert "5 ans" in page and "mailto:" in page


def test_accessibility_statement_is_honest_about_what_is_not_verified(client):
    page = text(client.get("/accessibilite"))
    assert "non conforme" in page and "RGAA" in page and "aucun audit" in page.lower()


def test_cgu_are_versioned_and_an_unknown_version_is_not_found(client):
    page = text(client.get("/cgu"))
    assert f"Version {cgu.CURRENT_CGU_VERSION}" in page and "1er décembre 2026" in page
    assert client.get(f"/cgu?version={cgu.CURRENT_CGU_VERSION}").status_code == 200
    assert client.get("/cgu?version=v0").status_code == 404


def test_first_sign_in_asks_the_cgu_before_anything_else_then_goes_on(client, fixed_clock):
    now = fixed_clock.now()
    who = make_aidant(now)
    who.aidant.cgu_version = None
    db.commit()
    sign_in(client, who, now)
    for path in ("/espace-aidant", "/espace-aidant/usagers", "/mandats/nouveau"):
        response = client.get(path)
        assert response.status_code == 303 and response.location.startswith("/cgu/acceptation"), path
    assert client.get("/mentions-legales").status_code == 200  # reading the legal pages stays possible
    page = client.get("/cgu/acceptation?next=/espace-aidant/usagers")
    assert page.status_code == 200 and "Avant d'utiliser Aidants Connect pour la première fois" in text(page)
    refused = client.post("/cgu/acceptation", data={"version": cgu.CURRENT_CGU_VERSION, "next": "/espace-aidant"})
    assert refused.status_code == 422 and "Cochez cette case" in text(refused)
    db.session().expire_all()
    assert who.aidant.cgu_version is None and cgu_entries() == []
    accepted = client.post("/cgu/acceptation", data={"version": cgu.CURRENT_CGU_VERSION, "accept": "y",
                                                      "next": "/espace-aidant/usagers"})
    assert accepted.status_code == 302 and accepted.location == "/espace-aidant/usagers"
    db.session().expire_all()
    assert who.aidant.cgu_version == cgu.CURRENT_CGU_VERSION
    assert cgu_entries() == [{"version": cgu.CURRENT_CGU_VERSION, "previous": None}]
    assert client.get("/espace-aidant").status_code == 200
    assert client.get("/cgu/acceptation").status_code == 302  # nothing left to accept


def test_a_new_version_is_asked_again_and_an_outdated_form_is_refused(client, fixed_clock, monkeypatch):
    now = fixed_clock.now()
    who = make_aidant(now)
    sign_in(client, who, now)
    assert client.get("/espace-aidant").status_code == 200
    monkeypatch.setitem(cgu.CGU_VERSIONS, "v2", cgu.CGU_VERSIONS["v1"])
    monkeypatch.setattr(cgu, "CURRENT_CGU_VERSION", "v2")
    monkeypatch.setattr("aidants.legal.services.CURRENT_CGU_VERSION", "v2")
    monkeypatch.setattr(cgu, "template_of", lambda version: "legal/cgu/v1.html")
    response = client.get("/espace-aidant")
    assert response.status_code == 303
    page = text(client.get(response.location))
    assert "ont changé depuis que vous les avez acceptées (version v1)" in page
    stale = client.post("/cgu/acceptation", data={"version": "v1", "accept": "y"})
    assert stale.status_code == 409 and "nouvelle version" in text(stale)
    accepted = client.post("/cgu/acceptation", data={"version": "v2", "accept": "y"})
    assert accepted.status_code == 302 and accepted.location == "/espace-aidant"
    assert cgu_entries() == [{"version": "v2", "previous": "v1"}]


def test_help_is_linked_from_sign_in_and_error_pages_and_citizens_are_signposted(client):
    login = text(client.get("/connexion"))
    assert 'href="/aide/connexion"' in login and "Vous êtes un particulier ?" in login
    assert "Vous êtes un particulier ?" in text(client.get("/"))
    missing = client.get("/nulle-part")
    assert missing.status_code == 404 and 'id="error-help" href="/aide/connexion"' in text(missing)
    help_page = text(client.get("/aide/connexion"))
    for topic in ("expiré ou a déjà servi", "carte est refusé", "perdu ma carte ou mon téléphone", "bloqué",
                  "Qui contacter"):
        assert topic in help_page
