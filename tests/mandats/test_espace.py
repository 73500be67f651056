"""The espace aidant: the structure's usagers, search by name, pagination, a mandate's detail and journal."""

from __future__ import annotations

import datetime as dt
import re

from aidants import db
from aidants.mandats import queries
from tests.factories import sign_in
from tests.mandats.helpers import create_mandat, fresh_code, make_usager


def names_on(page: str) -> list[str]:
    return re.findall(r'<a class="fr-link" href="/espace-aidant/usagers/\d+">([^<]+)</a>', page)


def test_list_shows_the_structures_usagers_with_their_mandates_by_status(desk):
    other = make_usager(desk.clock.now(), "Paul", "Martin")
    create_mandat(desk.client, desk.aidant, desk.usager, ["papiers"], desk.clock, "short")
    revoked = create_mandat(desk.client, desk.aidant, desk.usager, ["social"], desk.clock)
    create_mandat(desk.client, desk.aidant, other, ["papiers"], desk.clock, "long")
    desk.client.post(f"/mandats/{revoked.uuid}/revoquer", data={"code": fresh_code(desk.aidant, desk.clock)})
    desk.clock.advance(days=2)
    sign_in(desk.client, desk.aidant, desk.clock.now())
    found = queries.usager_page(desk.organisation.id, desk.clock.now())
    counts = {row.usager.family_name: row.counts for row in found.rows}
    assert counts == {"Dupont": {"active": 0, "expired": 1, "revoked": 1},
                      "Martin": {"active": 1, "expired": 0, "revoked": 0}}
    page = desk.client.get("/espace-aidant/usagers").get_data(as_text=True)
    assert names_on(page) == ["Dupont Jeanne Marie", "Martin Paul"] and "2 usagers" in page


def test_search_matches_the_start_of_any_word_without_accents_or_case(desk):
    for given, family in [("Éloïse", "Lefèvre"), ("Jean-Pierre", "Durand"), ("Anne", "Le Goff")]:
        create_mandat(desk.client, desk.aidant, make_usager(desk.clock.now(), given, family), ["papiers"], desk.clock)
    search = lambda q: names_on(desk.client.get("/espace-aidant/usagers", query_string={"q": q}).get_data(True))  # noqa: E731
    assert search("lefevre") == ["Lefèvre Éloïse"]
    assert search("ELOI") == ["Lefèvre Éloïse"]
    assert search("pierre dur") == ["Durand Jean-Pierre"]
    assert search("goff") == ["Le Goff Anne"]
    assert search("efe") == []  # inside a word: no
    assert search("%") == search("") and len(search("")) == 3  # wildcards are not special
    assert "Aucun usager ne correspond" in desk.client.get("/espace-aidant/usagers?q=zzz").get_data(as_text=True)


def test_pagination(desk):
    for n in range(25):
        usager = make_usager(desk.clock.now(), "Usager", f"Nom{n:02d}")
        db.session().add(usager)
        create_mandat(desk.client, desk.aidant, usager, ["papiers"], desk.clock)
    first = desk.client.get("/espace-aidant/usagers").get_data(as_text=True)
    second = desk.client.get("/espace-aidant/usagers?page=2").get_data(as_text=True)
    assert len(names_on(first)) == 20 and len(names_on(second)) == 5
    assert names_on(first)[0] == "Nom00 Usager" and names_on(second)[-1] == "Nom24 Usager"
    assert "page 2 sur 2" in second and 'rel="prev"' in second and 'rel="next"' in first
    assert names_on(desk.client.get("/espace-aidant/usagers?page=99").get_data(as_text=True)) == names_on(second)
    assert desk.client.get("/espace-aidant/usagers?page=abc").status_code == 200


def test_a_usagers_page_and_a_mandates_detail_with_its_journal(desk):
    mandat = create_mandat(desk.client, desk.aidant, desk.usager, ["papiers", "social"], desk.clock)
    page = desk.client.get(f"/espace-aidant/usagers/{desk.usager.id}").get_data(as_text=True)
    assert f"/mandats/{mandat.uuid}" in page and "Actif" in page and "14/03/1950" in page
    detail = desk.client.get(f"/mandats/{mandat.uuid}").get_data(as_text=True)
    assert "Création d&#39;une autorisation" in detail and "Création du mandat et de son attestation" in detail
    assert desk.aidant.aidant.full_name in detail and "Imprimer l'attestation" in detail
    assert detail.count("/autorisations/") == 2  # one "Révoquer" link per active autorisation


def test_queries_for_the_identity_provider(desk):
    now = desk.clock.now()
    other = make_usager(now, "Paul", "Martin")
    mandat = create_mandat(desk.client, desk.aidant, desk.usager, ["papiers", "social"], desk.clock)
    create_mandat(desk.client, desk.aidant, other, ["famille"], desk.clock, "short")
    now = desk.clock.now()
    org = desk.organisation.id
    assert [u.id for u in queries.usagers_with_active_autorisation(org, now)] == [desk.usager.id, other.id]
    assert [u.id for u in queries.usagers_with_active_autorisation(org, now, query="mart")] == [other.id]
    assert [u.id for u in queries.usagers_with_active_autorisation(org, now, demarches={"social"})] == [desk.usager.id]
    later = now + dt.timedelta(days=2)  # Paul's short mandate has expired
    assert [u.id for u in queries.usagers_with_active_autorisation(org, later)] == [desk.usager.id]
    active = queries.active_autorisations(desk.usager.id, org, now)
    assert [a.demarche for a in active] == ["papiers", "social"] and active[0].mandat.usager.id == desk.usager.id
    assert queries.active_autorisations(desk.usager.id, org + 1000, now) == []
    found = queries.autorisation_with_mandat(active[0].id)
    assert found is not None and found.mandat.uuid == mandat.uuid and found.mandat.organisation.id == org
    assert queries.autorisation_is_active(active[0].id, now)
    assert not queries.autorisation_is_active(active[0].id, mandat.expires_at)
