"""The aidant's daily work: dashboard, usager tabs and search by birth date, "expire bientôt", renewal shown as
"remplacé", the creation pages that inform the usager, and the dead ends that say what to do next."""

from __future__ import annotations

import re

from aidants import db
from aidants.mandats import queries
from aidants.mandats.models import DEMARCHE_DESCRIPTIONS, Mandat
from tests.factories import make_aidant, make_organisation, sign_in
from tests.mandats.helpers import create_mandat, fresh_code, make_usager, set_draft
from tests.mandats.test_renewal_revocation import renew


def text(response) -> str:  # type: ignore[no-untyped-def]
    return response.get_data(as_text=True)


def names_on(page: str) -> list[str]:
    return re.findall(r'<a class="fr-link" href="/espace-aidant/usagers/\d+">([^<]+)</a>', page)


def test_dashboard_has_tiles_the_mandates_ending_within_30_days_devices_and_help(desk):
    soon = create_mandat(desk.client, desk.aidant, desk.usager, ["papiers"], desk.clock, "month")
    later = make_usager(desk.clock.now(), "Paul", "Martin")
    create_mandat(desk.client, desk.aidant, later, ["social"], desk.clock, "long")
    desk.clock.advance(days=2)  # 31 days at first: 29 left now
    sign_in(desk.client, desk.aidant, desk.clock.now())
    page = text(desk.client.get("/espace-aidant"))
    for tile in ("tile-new-mandat", "tile-usagers", "tile-structure", "tile-help"):
        assert f'id="{tile}"' in page
    expiring = page[page.index('id="expiring"'):page.index("</table>", page.index('id="expiring"'))]
    assert "Dupont Jeanne Marie" in expiring and "Martin" not in expiring
    assert f"/mandats/{soon.uuid}" in expiring and "Papiers - Citoyenneté - Élections" in expiring
    assert 'id="devices"' in page and "Application" in page and 'href="/aide/connexion"' in page


def test_dashboard_says_so_when_nothing_ends_soon(desk):
    create_mandat(desk.client, desk.aidant, desk.usager, ["papiers"], desk.clock, "long")
    assert 'id="expiring-none"' in text(desk.client.get("/espace-aidant"))


def test_tabs_active_ended_revoked_and_the_expire_bientot_badge(desk):
    now = desk.clock.now()
    active, ended, revoked = (make_usager(now, "A", "Actif"), make_usager(now, "B", "Expire"),
                              make_usager(now, "C", "Revoque"))
    create_mandat(desk.client, desk.aidant, active, ["papiers"], desk.clock, "month")
    create_mandat(desk.client, desk.aidant, ended, ["papiers"], desk.clock, "short")
    gone = create_mandat(desk.client, desk.aidant, revoked, ["social"], desk.clock, "long")
    desk.client.post(f"/mandats/{gone.uuid}/revoquer", data={"code": fresh_code(desk.aidant, desk.clock)})
    desk.clock.advance(days=2)
    sign_in(desk.client, desk.aidant, desk.clock.now())
    listed = lambda tab: names_on(text(desk.client.get("/espace-aidant/usagers", query_string={"filtre": tab})))  # noqa: E731
    assert listed("tous") == ["Actif A", "Expire B", "Revoque C"]
    assert listed("actifs") == ["Actif A"]
    assert listed("termines") == ["Expire B"]
    assert listed("revoques") == ["Revoque C"]
    assert listed("n-importe-quoi") == listed("tous")
    page = text(desk.client.get("/espace-aidant/usagers?filtre=actifs"))
    assert page.count("Expire bientôt") == 1 and 'aria-current="page">Mandats actifs' in page
    assert "1 usager (mandats actifs)" in page


def test_search_by_birth_date_as_people_type_it(desk):
    now = desk.clock.now()
    for given, family, born in [("Jeanne", "Dupont", "1950-03-14"), ("Paul", "Martin", "1950-11-02"),
                                ("Anne", "Durand", "1962-00-00")]:
        create_mandat(desk.client, desk.aidant, make_usager(now, given, family, born), ["papiers"], desk.clock)
    search = lambda q: names_on(text(desk.client.get("/espace-aidant/usagers", query_string={"q": q})))  # noqa: E731
    assert search("14/03/1950") == ["Dupont Jeanne"] == search("14-3-1950") == search("1950-03-14")
    assert search("1950") == ["Dupont Jeanne", "Martin Paul"]
    assert search("11/1950") == ["Martin Paul"]
    assert search("1962") == ["Durand Anne"]
    assert search("martin 1950") == ["Martin Paul"] and search("dupont 11/1950") == []
    assert search("31/02/1950") == [] and search("45/13/1950") == []  # not a date: searched as a name, no match
    assert queries.birthdate_pattern("14/03/1950") == "1950-03-14" and queries.birthdate_pattern("dupont") is None


def test_renewal_shows_the_old_mandate_as_replaced_not_revoked(desk):
    old = create_mandat(desk.client, desk.aidant, desk.usager, ["papiers", "social"], desk.clock, "month")
    desk.clock.advance(days=3)
    sign_in(desk.client, desk.aidant, desk.clock.now())
    response, _ = renew(desk, old, ["papiers", "social"], "long")
    assert response.status_code == 302
    db.session().expire_all()
    new = queries.mandat_by_uuid(response.location.rsplit("/", 1)[-1])
    assert new is not None
    old = db.session().get(Mandat, old.id)
    assert {a.replaced_by_id for a in old.autorisations} == {new.id}
    assert old.display_status(desk.clock.now()) == "replaced" and old.replacement() == new
    detail = text(desk.client.get(f"/mandats/{old.uuid}"))
    assert "Remplacé" in detail and "remplacé par le" in detail and "Révoqué" not in detail
    assert f'href="/mandats/{new.uuid}">mandat du 30 novembre 2026</a>' in detail
    assert "Remplacement d'une autorisation par un nouveau mandat" in detail
    usager = text(desk.client.get(f"/espace-aidant/usagers/{desk.usager.id}"))
    assert "Remplacé" in usager and "par le mandat du 30 novembre 2026" in usager
    public = text(desk.client.get(f"/verifier/{old.uuid}"))
    assert "Mandat remplacé" in public and "remplacé par le mandat du 30 novembre 2026" in public
    assert "révoqué" not in public.lower()
    status = desk.client.get(f"/verifier/{old.uuid}/statut.json").get_json()
    assert status["status"] == "replaced" and status["revoked_at"] is None
    assert status["replaced_by"]["created_at"].startswith("2026-11-30") and new.uuid not in str(status)
    assert {d["status"] for d in status["demarches"]} == {"replaced"}


def test_a_partial_renewal_replaces_only_the_demarches_it_covers(desk):
    old = create_mandat(desk.client, desk.aidant, desk.usager, ["papiers", "social"], desk.clock, "month")
    response, _ = renew(desk, old, ["papiers"], "long")
    assert response.status_code == 302
    db.session().expire_all()
    old = db.session().get(Mandat, old.id)
    now = desk.clock.now()
    assert old.display_status(now) == "active" and old.replacement() is None
    by_demarche = {a.demarche: a.display_status(now) for a in old.autorisations}
    assert by_demarche == {"papiers": "replaced", "social": "active"}


def test_a_revocation_stays_a_revocation(desk):
    mandat = create_mandat(desk.client, desk.aidant, desk.usager, ["papiers"], desk.clock)
    desk.client.post(f"/mandats/{mandat.uuid}/revoquer", data={"code": fresh_code(desk.aidant, desk.clock)})
    status = desk.client.get(f"/verifier/{mandat.uuid}/statut.json").get_json()
    assert status["status"] == "revoked" and status["replaced_by"] is None and status["revoked_at"]


def test_the_new_mandate_page_informs_the_usager_and_uses_the_franceconnect_button(desk):
    page = text(desk.client.get("/mandats/nouveau"))
    assert 'id="read-aloud"' in page and "À lire à l'usager" in page
    for description in DEMARCHE_DESCRIPTIONS.values():
        assert description.replace("'", "&#39;") in page
    assert 'class="fr-connect"' in page and 'class="fr-connect__brand">FranceConnect</span>' in page


def test_recap_previews_the_mandate_text_and_offers_modifier_and_annuler(desk):
    set_draft(desk.client, desk.organisation.id, desk.usager.id, ["papiers", "social"], "month")
    page = text(desk.client.get("/mandats/recapitulatif"))
    preview = page[page.index('id="mandat-preview"'):page.index("</section>", page.index('id="mandat-preview"'))]
    assert "Je soussignée, <strong>Jeanne Marie Dupont</strong>, née le 14/03/1950" in preview
    assert "prend effet le 27 novembre 2026" in preview and "Social - Santé" in preview
    assert 'id="edit-draft" href="/mandats/nouveau"' in page and 'action="/mandats/annuler"' in page
    # Modifier: the form again with the choices made, and a way back to the recap without FranceConnect
    edit = text(desk.client.get("/mandats/nouveau"))
    assert re.search(r'<input checked id="demarches-\d+" name="demarches" type="checkbox" value="social">', edit)
    assert 'id="keep-usager"' in edit
    back = desk.client.post("/mandats/nouveau", data={"demarches": ["logement"], "duration": "long",
                                                       "garder_usager": "1"})
    assert back.status_code == 302 and back.location == "/mandats/recapitulatif"
    recap = text(desk.client.get("/mandats/recapitulatif"))
    assert "Logement" in recap and "Social - Santé" not in recap and "1 an (365 jours)" in recap
    # Annuler: nothing recorded, the draft forgotten
    cancelled = desk.client.post("/mandats/annuler")
    assert cancelled.status_code == 302 and cancelled.location == "/espace-aidant"
    assert db.session().query(Mandat).count() == 0
    assert 'id="keep-usager"' not in text(desk.client.get("/mandats/nouveau"))


def test_a_recap_without_a_draft_says_what_happened_and_what_to_do(desk):
    response = desk.client.get("/mandats/recapitulatif")
    page = text(response)
    assert response.status_code == 400 and "<h1>Aucun mandat en préparation</h1>" in page
    assert 'href="/mandats/nouveau">Créer un mandat</a>' in page and 'href="/espace-aidant/usagers"' in page


def test_usagers_list_create_button_is_labelled_with_its_icon_on_the_left(desk):
    page = text(desk.client.get("/espace-aidant/usagers"))
    assert re.search(r'<ul class="fr-btns-group [^"]*fr-btns-group--icon-left">\s*<li><a class="fr-btn '
                     r'fr-icon-add-line" id="create-mandat" href="/mandats/nouveau">Créer un mandat</a>', page)


def test_structure_statistics_are_reachable_from_the_referent_pages(client, fixed_clock):
    now = fixed_clock.now()
    organisation = make_organisation(now, "Association Élan")
    referent = make_aidant(now, organisation, is_referent=True)
    sign_in(client, referent, now)
    page = text(client.get(f"/referent/structures/{organisation.id}"))
    link = re.search(r'id="structure-stats" href="([^"]+)"', page)
    assert link, page
    stats = client.get(link.group(1).replace("&amp;", "&"))
    assert stats.status_code == 200 and "Statistiques d&#39;Association Élan" in text(stats)
    assert 'href="/statistiques/structure">Statistiques de la structure</a>' in text(client.get("/espace-aidant"))
