"""The référent's rules on a real database: people, cards and apps, démarches, the structure switch."""

from __future__ import annotations

import pytest

from aidants import db
from aidants.accounts import devices
from aidants.mandats import services as mandats
from aidants.referents import queries, services
from aidants.referents.services import NotManaged, ReferentError
from tests.factories import Card
from tests.referents.conftest import World, journal_actions, last_entry, snapshot


def refused(call, message: str) -> None:  # type: ignore[no-untyped-def]
    """The call raises a ReferentError saying ``message``, and nothing is left changed."""
    before = snapshot()
    with pytest.raises(ReferentError) as raised:
        call()
    db.session().rollback()
    assert message in str(raised.value)
    assert snapshot() == before


# --- scope -----------------------------------------------------------------------------------------


def test_a_referent_reaches_only_their_structures_and_their_people(world: World):
    referent = world.referent_a.aidant
    assert services.organisation_for(referent, world.a2.id) == world.a2
    assert services.person_for(referent, world.a.id, world.aidant_a.aidant.id)[1] == world.aidant_a.aidant
    assert services.person_for(referent, world.a2.id, referent.id)[1] == referent  # référent, not aidant, of A2
    for organisation_id, aidant_id in [
        (world.b.id, world.aidant_b.aidant.id),  # another structure
        (world.a.id, world.aidant_b.aidant.id),  # our structure, someone else's aidant
        (world.a2.id, world.aidant_a.aidant.id),  # our other structure, where this aidant does not work
        (world.a.id, 999_999),  # nobody
    ]:
        with pytest.raises(NotManaged):
            services.person_for(referent, organisation_id, aidant_id)
    with pytest.raises(NotManaged):
        services.device_for(world.aidant_a.aidant, world.aidant_b.device.id)


# --- people ----------------------------------------------------------------------------------------


def test_a_requested_aidant_waits_inactive_for_training_and_only_the_staff_activates(world: World):
    referent, now = world.referent_a.aidant, world.now()
    aidant = services.request_aidant(referent, world.a, first_name=" Léa ", last_name="Martin",
                                     email="Lea.Martin@Exemple.fr", profession="Conseillère numérique", now=now)
    db.commit()
    assert (aidant.email, aidant.is_active, aidant.organisations, aidant.current_organisation) == (
        "lea.martin@exemple.fr", False, [world.a], world.a)
    assert services.status_of(aidant) == queries.AWAITING_TRAINING
    entry = last_entry()
    assert (entry.action, entry.aidant_id, entry.organisation_id) == ("request_aidant", aidant.id, world.a.id)
    assert entry.extra == {"referent_id": referent.id, "awaiting_training": True, "aidant_type": ""}
    refused(lambda: services.reactivate(referent, world.a, aidant, now), "attend la formation")
    refused(lambda: services.request_aidant(referent, world.a, first_name="L", last_name="M",
                                            email="LEA.martin@exemple.fr ", profession="x", now=now),
            "Un compte existe déjà")


def test_deactivation_and_reactivation_are_journaled_and_stop_the_sign_in(world: World):
    referent, aidant, now = world.referent_a.aidant, world.aidant_a.aidant, world.now()
    assert services.deactivate(referent, world.a, aidant, now) == "deactivated"
    db.commit()
    assert world.fresh(world.aidant_a).is_active is False
    assert services.status_of(aidant) == queries.DEACTIVATED  # never signed in, yet not awaiting training
    assert last_entry().action == "deactivate_aidant"
    refused(lambda: services.deactivate(referent, world.a, aidant, now), "déjà désactivé")
    services.reactivate(referent, world.a, aidant, now)
    db.commit()
    assert world.fresh(world.aidant_a).is_active is True
    assert (last_entry().action, last_entry().extra) == ("reactivate_aidant", {"referent_id": referent.id})
    refused(lambda: services.reactivate(referent, world.a, aidant, now), "déjà actif")
    refused(lambda: services.deactivate(referent, world.a, referent, now), "vous désactiver vous-même")


def test_an_aidant_of_several_structures_is_only_taken_out_of_this_one(world: World):
    referent, aidant, now = world.referent_a.aidant, world.aidant_a.aidant, world.now()
    aidant.organisations.append(world.b)
    db.commit()
    assert services.deactivate(referent, world.a, aidant, now) == "removed"
    db.commit()
    fresh = world.fresh(world.aidant_a)
    assert (fresh.is_active, fresh.organisations, fresh.current_organisation) == (True, [world.b], world.b)
    assert last_entry().action == "remove_aidant_from_organisation"
    with pytest.raises(NotManaged):  # gone from A: the référent of A no longer reaches them
        services.person_for(referent, world.a.id, aidant.id)


def test_moving_an_aidant_between_the_referents_structures(world: World):
    referent, aidant, now = world.referent_a.aidant, world.aidant_a.aidant, world.now()
    refused(lambda: services.move(referent, world.a, aidant, world.b.id, keep=False, now=now), "une autre de vos")
    refused(lambda: services.move(referent, world.a, aidant, world.a.id, keep=False, now=now), "une autre de vos")
    assert services.move(referent, world.a, aidant, world.a2.id, keep=True, now=now) == world.a2
    db.commit()
    fresh = world.fresh(world.aidant_a)
    assert ({o.id for o in fresh.organisations}, fresh.current_organisation_id) == ({world.a.id, world.a2.id},
                                                                                    world.a.id)
    assert last_entry().extra == {"referent_id": referent.id, "to_organisation_id": world.a2.id, "kept": True}
    services.move(referent, world.a, fresh, world.a2.id, keep=False, now=now)
    db.commit()
    fresh = world.fresh(world.aidant_a)
    assert (fresh.organisations, fresh.current_organisation) == ([world.a2], world.a2)


def test_co_referents_manage_but_never_create_mandates(world: World):
    referent, now = world.referent_a.aidant, world.now()
    co = services.create_co_referent(referent, world.a, first_name="Noé", last_name="Gestion",
                                     email="noe@exemple.fr", profession="Directeur", now=now)
    db.commit()
    assert (co.is_active, co.can_create_mandats, co.referent_of, co.organisations) == (True, False, [world.a],
                                                                                      [world.a])
    with pytest.raises(mandats.MandatError, match="ne permet pas de créer des mandats"):
        mandats.check_may_create(co)
    assert (last_entry().action, last_entry().extra["new_account"]) == ("appoint_referent", True)

    aidant = world.aidant_a.aidant
    services.appoint_referent(referent, world.a, aidant, now)
    db.commit()
    assert world.a in world.fresh(world.aidant_a).referent_of and aidant.can_create_mandats is True
    refused(lambda: services.appoint_referent(referent, world.a, aidant, now), "déjà référente")
    services.revoke_referent(referent, world.a, aidant, now)
    db.commit()
    assert world.fresh(world.aidant_a).referent_of == []
    refused(lambda: services.revoke_referent(referent, world.a, referent, now), "votre propre rôle")


# --- cards -----------------------------------------------------------------------------------------


def test_a_card_assigned_by_serial_signs_in_only_once_validated_by_a_code(world: World):
    referent, aidant, now = world.referent_a.aidant, world.aidant_a.aidant, world.now()
    card = Card("SN-0001", now, ahead=4)
    services.assign_card(referent, world.a, aidant, " SN-0001 ", now)
    db.commit()
    row = card.row()
    assert (row.status, row.aidant_id) == ("stock", aidant.id)
    assert devices.check_aidant_code(aidant, card.shows(now), now) is None  # not validated yet: no sign-in
    assert last_entry().extra == {"referent_id": referent.id, "serial_number": "SN0001"}

    refused(lambda: services.validate_card(referent, world.a, aidant, card.shows(now, 40), now),
            "ne correspond pas")
    refused(lambda: services.validate_card(referent, world.a, aidant, world.aidant_a.code(now), now),
            "ne correspond pas")
    services.validate_card(referent, world.a, aidant, card.shows(now), now)
    db.commit()
    row = card.row()
    assert (row.status, row.drift, row.activated_at) == ("active", 4, now)
    assert (last_entry().action, last_entry().extra["drift_steps"]) == ("validate_card", 4)
    assert devices.check_aidant_code(aidant, card.shows(now), now) is None  # the validation code is spent
    world.clock.advance(seconds=60)
    assert devices.check_aidant_code(aidant, card.shows(world.now()), world.now()) == row


def test_unknown_taken_or_retired_serials_are_refused_and_change_nothing(world: World):
    referent, now = world.referent_a.aidant, world.now()
    Card("SN-LIBRE", now)
    Card("SN-PRISE", now)
    Card("SN-HS", now)
    services.assign_card(world.referent_b.aidant, world.b, world.aidant_b.aidant, "SN-PRISE", now)
    hs = devices.find_card("SN-HS")
    assert hs is not None
    hs.status, hs.retired_reason = "retired", "broken"
    db.commit()
    target = world.aidant_a.aidant
    refused(lambda: services.assign_card(referent, world.a, target, "SN-INCONNUE", now), "Aucune carte")
    refused(lambda: services.assign_card(referent, world.a, target, "SN-PRISE", now), "déjà attribuée")
    refused(lambda: services.assign_card(referent, world.a, target, "SN-HS", now), "déjà attribuée")
    refused(lambda: services.validate_card(referent, world.a, target, "123456", now), "Aucune carte n'attend")
    services.assign_card(referent, world.a, target, "SN-LIBRE", now)
    db.commit()
    refused(lambda: services.assign_card(referent, world.a, target, "SN-HS", now), "déjà une carte")


def test_a_stale_read_cannot_assign_a_card_twice(world: World):
    """Two référents typing one serial: the conditional UPDATE lets one through, whatever each had read."""
    card = Card("SN-COURSE", world.now())
    row = card.row()
    assert row.aidant_id is None  # this session now holds the card as free
    with world.app.extensions["db_engine"].begin() as other:  # another request assigns it meanwhile
        other.execute(devices.TotpDevice.__table__.update().where(devices.TotpDevice.id == row.id)
                      .values(aidant_id=world.aidant_b.aidant.id))
    with pytest.raises(devices.CardError, match="vient d'être attribuée"):
        devices.assign_card(world.aidant_a.aidant, "SN-COURSE")
    db.session().rollback()
    assert card.row().aidant_id == world.aidant_b.aidant.id


def test_retiring_a_lost_card_stops_it_and_a_mistaken_one_goes_back_to_stock(world: World):
    referent, aidant, now = world.referent_a.aidant, world.aidant_a.aidant, world.now()
    card = Card("SN-PERDUE", now)
    services.assign_card(referent, world.a, aidant, "SN-PERDUE", now)
    services.validate_card(referent, world.a, aidant, card.shows(now), now)
    db.commit()
    refused(lambda: services.retire_device(referent, world.a, aidant, card.row(), "oubli", now), "raison")
    assert services.retire_device(referent, world.a, aidant, card.row(), "lost", now) == "retired"
    db.commit()
    row = card.row()
    assert (row.status, row.retired_reason, row.aidant_id) == ("retired", "lost", aidant.id)
    world.clock.advance(seconds=60)
    assert devices.check_aidant_code(aidant, card.shows(world.now()), world.now()) is None
    assert last_entry().extra == {"referent_id": referent.id, "reason": "lost", "status": "retired",
                                  "device_id": row.id, "kind": "card", "serial_number": "SNPERDUE"}
    refused(lambda: services.retire_device(referent, world.a, aidant, card.row(), "other", now), "plus actif")

    Card("SN-ERREUR", now)
    mistaken = services.assign_card(referent, world.a, aidant, "SN-ERREUR", now)
    assert services.retire_device(referent, world.a, aidant, mistaken, "error", now) == "stock"
    db.commit()
    assert (mistaken.status, mistaken.aidant_id) == ("stock", None)
    services.assign_card(world.referent_b.aidant, world.b, world.aidant_b.aidant, "SN-ERREUR", now)  # reusable

    services.retire_device(referent, world.a, aidant, world.aidant_a.device, "lost", now)  # the app, too
    db.commit()
    assert devices.usable_devices(world.fresh(world.aidant_a)) == []


def test_a_referent_enrols_an_app_for_an_aidant(world: World):
    referent, aidant, now = world.referent_a.aidant, world.aidant_a.aidant, world.now()
    enrolment = services.app_enrolment(aidant, now)
    db.commit()
    assert services.app_enrolment(aidant, now).secret == enrolment.secret  # the same one on reload
    refused(lambda: services.confirm_app(referent, world.a, aidant, "000000", now), "ne correspond pas")
    seed = devices.seed_of(enrolment.device)
    from aidants.security import totp

    services.confirm_app(referent, world.a, aidant, totp.code_for_step(seed, totp.step_at(now, 30)), now)
    db.commit()
    assert enrolment.device.status == "active"
    assert journal_actions()[-2:] == ["enrol_app", "referent_enrol_app"]


# --- the structure and the switch ---------------------------------------------------------------------


def test_restricting_the_demarches_applies_to_new_mandates(world: World):
    referent, now = world.referent_a.aidant, world.now()
    services.set_demarches(referent, world.a, ["social", "papiers"], now)
    db.commit()
    assert world.a.demarches == ["papiers", "social"]
    entry = last_entry()
    assert (entry.action, entry.demarches, entry.extra["before"][:2]) == ("update_demarches", "papiers,social",
                                                                           ["papiers", "famille"])
    with pytest.raises(mandats.MandatError, match="pas habilitée pour : argent"):
        mandats.check_choices(world.a, ["argent"], "month")
    refused(lambda: services.set_demarches(referent, world.a, [], now), "au moins une")
    refused(lambda: services.set_demarches(referent, world.a, ["papiers", "casino"], now), "au moins une")


def test_switching_the_current_structure_is_journaled_and_limited_to_ones_own(world: World):
    aidant, now = world.aidant_a.aidant, world.now()
    aidant.organisations.append(world.a2)
    db.commit()
    assert services.switch_organisation(aidant, world.a2.id, now) == world.a2
    db.commit()
    assert world.fresh(world.aidant_a).current_organisation_id == world.a2.id
    entry = last_entry()
    assert (entry.action, entry.aidant_id, entry.organisation_id, entry.extra) == (
        "switch_organisation", aidant.id, world.a2.id, {"from_organisation_id": world.a.id})
    count = len(journal_actions())
    services.switch_organisation(aidant, world.a2.id, now)  # already current: nothing to journal
    assert len(journal_actions()) == count
    refused(lambda: services.switch_organisation(aidant, world.b.id, now), "l'une de vos structures")
    world.a.is_active = False
    db.commit()
    refused(lambda: services.switch_organisation(aidant, world.a.id, now), "l'une de vos structures")
