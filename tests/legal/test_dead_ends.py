"""Dead ends say what happened and what to do next: a used or expired login link, the sandbox service's refusals."""

from __future__ import annotations

from tests.factories import last_login_path, make_aidant


def test_a_used_or_expired_login_link_says_so_and_offers_a_new_one(client, fixed_clock):
    now = fixed_clock.now()
    who = make_aidant(now)
    client.post("/connexion", data={"email": who.aidant.email, "code": who.code(now)})
    path = last_login_path(who.aidant.email)
    assert client.post(path).status_code == 302
    for method in (client.get, client.post):
        response = method(path)
        page = response.get_data(as_text=True)
        assert response.status_code == 400 and "<h1>Ce lien a expiré ou a déjà servi</h1>" in page
        assert 'id="new-link" href="/connexion">Recevoir un nouveau lien</a>' in page
        assert 'href="/aide/connexion"' in page


def test_the_sandbox_service_explains_a_refusal_in_french_as_a_page(client):
    response = client.get("/sandbox/service/retour?code=x&state=y")
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and response.mimetype == "text/html"
    assert "<h1>Identification introuvable</h1>" in page and "no_pending" not in page
    assert "Rien n&#39;a été enregistré" in page or "Rien n'a été enregistré" in page
    assert 'href="/sandbox/service/"' in page
