"""The espace aidant: the structure's usagers, search by name, pagination, a mandate's detail and journal."""

from __future__ import annotations

import datetime as dt
import html
import re

import sqlalchemy as sa

from aidants import db
from aidants.mandats import queries
from aidants.usagers.models import Usager
from tests.factories import sign_in
from tests.mandats.helpers import confirm_recap, create_mandat, fresh_code, make_usager, set_draft


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


def link(page: str, rel: str) -> str | None:
    found = re.search(rf'href="([^"]+)" rel="{rel}"', page)
    return html.unescape(found.group(1)) if found else None


def test_pagination_by_cursor_next_and_previous(desk):
    for n in range(45):
        usager = make_usager(desk.clock.now(), "Usager", f"Nom{n:02d}")
        db.session().add(usager)
        create_mandat(desk.client, desk.aidant, usager, ["papiers"], desk.clock)
    first = desk.client.get("/espace-aidant/usagers").get_data(as_text=True)
    assert names_on(first) == [f"Nom{n:02d} Usager" for n in range(20)] and "45 usagers" in first
    assert link(first, "prev") is None and "curseur=" in (link(first, "next") or "")
    second = desk.client.get(link(first, "next")).get_data(as_text=True)
    assert names_on(second) == [f"Nom{n:02d} Usager" for n in range(20, 40)]
    third = desk.client.get(link(second, "next")).get_data(as_text=True)
    assert names_on(third) == [f"Nom{n:02d} Usager" for n in range(40, 45)] and link(third, "next") is None
    back = desk.client.get(link(third, "prev")).get_data(as_text=True)
    assert names_on(back) == names_on(second)
    assert names_on(desk.client.get(link(back, "prev")).get_data(as_text=True)) == names_on(first)
    # A row added before the cursor's position does not shift the next page (OFFSET would repeat a name).
    create_mandat(desk.client, desk.aidant, make_usager(desk.clock.now(), "Usager", "Aaa"), ["papiers"], desk.clock)
    assert names_on(desk.client.get(link(first, "next")).get_data(as_text=True)) == names_on(second)
    # The cursor keeps the search; a malformed cursor is the first page, never an error.
    searched = desk.client.get("/espace-aidant/usagers", query_string={"q": "usager"}).get_data(as_text=True)
    assert "q=usager" in (link(searched, "next") or "")
    for bad in ["abc", "W10", "WyJuIiwxLDJd", "!!", "x" * 2000]:
        response = desk.client.get("/espace-aidant/usagers", query_string={"curseur": bad})
        assert response.status_code == 200 and names_on(response.get_data(as_text=True))[0] == "Aaa Usager"


def test_cursors_are_opaque_positions_in_the_order():
    cursor = queries.encode_cursor("n", "dupont jeanne", 42)
    assert "dupont" not in cursor and queries.decode_cursor(cursor) == ("n", "dupont jeanne", 42)
    assert queries.decode_cursor(queries.encode_cursor("x", "a", 1)) is None
    assert queries.decode_cursor(None) is None and queries.decode_cursor("") is None


def test_the_count_stops_at_its_cap(desk, monkeypatch):
    monkeypatch.setattr(queries, "COUNT_CAP", 3)
    for n in range(4):
        create_mandat(desk.client, desk.aidant, make_usager(desk.clock.now(), "Usager", f"Cap{n}"), ["papiers"],
                      desk.clock)
    page = desk.client.get("/espace-aidant/usagers").get_data(as_text=True)
    assert "Plus de 3 usagers" in page and len(names_on(page)) == 4


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


def test_an_erased_usager_has_no_active_autorisation_for_the_provider_and_gets_no_new_mandate(desk):
    mandat = create_mandat(desk.client, desk.aidant, desk.usager, ["papiers"], desk.clock, "long")
    now, org = desk.clock.now(), desk.organisation.id
    autorisation_id = mandat.autorisations[0].id
    assert queries.usager_of_active_autorisation(autorisation_id, now) is not None
    # Erased while the mandate still runs (erasure refuses it; a row left by another path must not count).
    db.session().execute(sa.update(Usager).where(Usager.id == desk.usager.id).values(erased_at=now))
    db.commit()
    assert queries.usagers_with_active_autorisation(org, now) == []
    assert queries.active_autorisations(desk.usager.id, org, now) == []
    assert queries.usager_of_active_autorisation(autorisation_id, now) is None
    assert not queries.autorisation_is_active(autorisation_id, now)
    set_draft(desk.client, org, desk.usager.id, ["social"])
    page = confirm_recap(desk.client, desk.aidant, desk.clock).get_data(as_text=True)
    assert "ont été effacées à sa demande" in html.unescape(page)
    assert len(queries.mandats_of_usager(desk.usager.id, org)) == 1


def test_a_renewed_mandate_counts_as_ended_and_the_counts_match_each_mandates_status(desk):
    from tests.mandats.test_renewal_revocation import renew

    old = create_mandat(desk.client, desk.aidant, desk.usager, ["papiers", "social"], desk.clock, "month")
    renewed, _ = renew(desk, old, ["papiers", "social"], "long")
    assert renewed.status_code == 302
    short = make_usager(desk.clock.now(), "Paul", "Martin")
    create_mandat(desk.client, desk.aidant, short, ["papiers"], desk.clock, "month")
    desk.clock.advance(days=2)  # the month-long mandate now ends within 30 days
    now = desk.clock.now()
    row = {r.usager.family_name: r for r in queries.usager_window(desk.organisation.id, now).rows}
    # The renewal's old mandate is replaced: ended, not revoked; the new one is active.
    assert row["Dupont"].counts == {"active": 1, "expired": 1, "revoked": 0}
    assert row["Martin"].counts == {"active": 1, "expired": 0, "revoked": 0}
    assert row["Martin"].expires_soon(now) and not row["Dupont"].expires_soon(now)
    for listed in row.values():  # the database's counts agree with each mandate's own status
        statuses = [m.status(now) for m in queries.mandats_of_usager(listed.usager.id, desk.organisation.id)]
        assert listed.counts["active"] == statuses.count("active")
        assert sum(listed.counts.values()) == len(statuses)
    staff = {r.usager.family_name: r.counts for r in queries.usager_page(desk.organisation.id, now).rows}
    assert staff == {name: r.counts for name, r in row.items()}


def test_a_page_is_one_statement_and_its_links_lead_to_each_usager(desk, app):
    from flask import url_for
    from sqlalchemy import event

    for n in range(25):
        create_mandat(desk.client, desk.aidant, make_usager(desk.clock.now(), "Usager", f"Nom{n:02d}"),
                      ["papiers"], desk.clock)
    first = desk.client.get("/espace-aidant/usagers").get_data(as_text=True)
    filters, now = queries.UsagerFilters(search="usager"), desk.clock.now()
    cursor = queries.usager_window(desk.organisation.id, now, filters).next_cursor
    statements: list[str] = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(db.engine(), "before_cursor_execute", listener)
    try:  # a page past the first: its rows, their counts and the list's count in one round trip
        window = queries.usager_window(desk.organisation.id, now, filters, cursor)
    finally:
        event.remove(db.engine(), "before_cursor_execute", listener)
    assert len(statements) == 1 and window.total == 25 and len(window.rows) == 5
    with app.test_request_context():
        expected = url_for("mandats.usager", usager_id=window.rows[0].usager.id)
    second = desk.client.get(link(first, "next")).get_data(as_text=True)
    assert f'href="{expected}"' in second


def test_searches_of_every_shape_on_every_tab_with_cursors(desk):
    now = desk.clock.now()
    for n in range(23):
        born = "1950-03-14" if n % 2 else "1962-00-00"
        create_mandat(desk.client, desk.aidant, make_usager(now, f"Anne{n % 3}", f"Durand{n:02d}", born), ["papiers"],
                      desk.clock)
    for search, expected in [("durand", 23), ("anne durand", 23), ("anne1 durand", 8), ("durand 14/03/1950", 11),
                             ("1962 anne0", 4), ("anne2 durand 1950", 3)]:
        seen: list[tuple[str, str]] = []
        cursor = None
        for _ in range(5):
            window = queries.usager_window(desk.organisation.id, now, queries.UsagerFilters(search, "actifs"), cursor)
            seen += [(row.usager.given_name, row.usager.family_name) for row in window.rows]  # the list's order
            assert window.total == expected
            cursor = window.next_cursor
            if cursor is None:
                break
        assert len(seen) == expected == len(set(seen)) and seen == sorted(seen), search
        assert queries.usager_window(desk.organisation.id, now, queries.UsagerFilters(search, "revoques")).rows == []
