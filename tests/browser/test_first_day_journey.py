"""A structure's first day in a real browser: from the issuer's first email to a mandate created by an aidant of the
new structure. Request → staff acceptance → référent activation (an app) → the référent asks for an aidant → the staff
note the training → aidant activation (a card received by post) → the aidant signs in with the card and creates a
mandate. axe-core on every page; no CSP violation."""

from __future__ import annotations

import re

import pytest

from aidants import db
from aidants.accounts.services import find_aidant
from aidants.clock import FixedClock
from aidants.security import totp
from tests.browser.support import open_login_link_from_outbox
from tests.browser.test_habilitation_journey import open_emailed_link, save, sign_out, staff_sign_in
from tests.factories import Card, activation_path, luhn_siret, make_aidant

pytestmark = pytest.mark.browser

ISSUER = "direction@mairie-premier-jour.example.org"
REFERENT = "referent@mairie-premier-jour.example.org"
AIDANT = "lou.martin@mairie-premier-jour.example.org"
SIRET = luhn_siret("2145000770001")
SHOTS = "/tmp/shots/structures"


def choose(page, label: str) -> None:  # type: ignore[no-untyped-def]
    """Tick a DSFR checkbox or radio by clicking its label (drawn over the input), as a person does."""
    page.locator("label.fr-label", has_text=label).first.click()


def file_the_request(page, assert_accessible) -> None:  # type: ignore[no-untyped-def]
    page.goto("/habilitation")
    page.get_by_label("Adresse e-mail professionnelle").fill(ISSUER)
    page.get_by_role("button", name="Recevoir mon lien d'accès").click()
    page.get_by_role("heading", name="Consultez votre messagerie").wait_for()
    open_emailed_link(page, "confirmez votre adresse")  # the issuer's first email
    page.get_by_role("button", name="Confirmer et continuer").click()
    page.get_by_text("Étape 1 sur 5").wait_for()
    page.get_by_label("Prénom").fill("Dominique")
    page.get_by_label("Nom", exact=True).fill("Garnier")
    page.get_by_label("Fonction").fill("Directrice générale des services")
    save(page)
    page.get_by_text("Étape 2 sur 5").wait_for()
    page.get_by_label("Numéro SIRET").fill(SIRET)
    page.get_by_label("Nom de la structure").fill("Mairie de Premier-Jour")
    page.get_by_label("Type de structure").select_option("commune")
    page.get_by_label("Adresse").fill("2 rue de la Mairie")
    page.get_by_label("Code postal").fill("45100")
    page.get_by_label("Commune").fill("Premier-Jour")
    save(page)
    page.get_by_text("Étape 3 sur 5").wait_for()
    page.get_by_label("Prénom").fill("Yanis")
    page.get_by_label("Nom", exact=True).fill("Référent")
    page.get_by_label("Adresse e-mail professionnelle").fill(REFERENT)
    page.get_by_label("Fonction").fill("Responsable de l'accueil")
    save(page)
    page.get_by_text("Étape 4 sur 5").wait_for()
    page.get_by_label("Prénom").fill("Alex")
    page.get_by_label("Nom", exact=True).fill("Dupuis")
    page.get_by_label("Adresse e-mail professionnelle").fill("alex@mairie-premier-jour.example.org")
    page.get_by_label("Fonction").fill("Secrétaire de mairie")
    page.get_by_label("Type d'aidant").select_option("secretaire_mairie")
    page.get_by_role("button", name="Ajouter cet aidant").click()
    page.get_by_text("Alex Dupuis est ajouté").wait_for()
    assert "Secrétaire de mairie" in page.inner_text("#aidants")
    assert_accessible(page)
    page.get_by_role("link", name="Continuer", exact=True).click()
    page.get_by_text("Étape 5 sur 5").wait_for()
    page.locator("label.fr-label", has_text="J'ai lu et j'accepte").click()
    page.get_by_role("button", name="Envoyer la demande").click()
    page.get_by_text("Votre demande est envoyée.").wait_for()


def start_activation(page, email: str, assert_accessible) -> None:  # type: ignore[no-untyped-def]
    """Open the emailed activation link; the token leaves the address bar at the first click."""
    path = activation_path(email)
    page.goto(path)
    page.get_by_role("heading", name="Activer mon compte Aidants Connect").wait_for()
    assert_accessible(page)
    page.get_by_role("button", name="Commencer l'activation").click()
    page.get_by_role("heading", name="Choisir mon moyen de connexion").wait_for()
    assert page.url.endswith("/activation") and path.rsplit("/", 1)[1] not in page.url
    assert_accessible(page)


def accept_cgu(page, assert_accessible) -> None:  # type: ignore[no-untyped-def]
    page.get_by_role("heading", name="Accepter les conditions générales d'utilisation").wait_for()
    assert_accessible(page)
    page.get_by_role("button", name="Accepter et me connecter").click()
    page.get_by_role("alert").get_by_text("Cochez la case").wait_for()  # refused first, accessibly
    assert_accessible(page)
    choose(page, "J'ai lu et j'accepte les conditions générales d'utilisation")
    page.get_by_role("button", name="Accepter et me connecter").click()


def card_code(card: Card, clock: FixedClock) -> str:
    clock.advance(seconds=60)  # the card shows a new code each minute; a code serves once
    return card.shows(clock.now())


def test_from_the_first_email_to_the_first_mandate(live_server, fixed_clock, browser_page, assert_accessible,
                                                    assert_no_csp_violation):
    page = browser_page
    staff = make_aidant(live_server.now(), is_staff=True)
    card = Card("PJ-0042", live_server.now(), ahead=1)  # in stock, then posted to the aidant

    # 1. The issuer files the request, from their first email.
    file_the_request(page, assert_accessible)

    # 2. The staff accept it: the référent is sent an activation link.
    staff_sign_in(page, staff, fixed_clock)
    page.goto("/staff/habilitations?status=submitted")
    page.get_by_role("link", name="Mairie de Premier-Jour").click()
    page.get_by_role("button", name="Accepter la demande").click()
    page.get_by_text("La demande est acceptée").wait_for()
    assert_accessible(page)
    sign_out(page)

    # 3. The référent (who creates no mandate) activates an app and lands on their space.
    start_activation(page, REFERENT, assert_accessible)
    page.get_by_role("link", name="Une application d'authentification").click()
    page.get_by_role("heading", name="Ajouter une application d'authentification").wait_for()
    assert_accessible(page)
    seed = totp.parse_seed("".join(page.locator("#totp-secret").inner_text().split()))
    page.get_by_label("Code à usage unique").fill(totp.code_for_step(seed, totp.step_at(fixed_clock.now(), 30)))
    page.get_by_role("button", name="Activer l'application").click()
    accept_cgu(page, assert_accessible)
    page.get_by_role("heading", name="Mairie de Premier-Jour").wait_for()
    assert "/referent/structures/" in page.url
    page.screenshot(path=f"{SHOTS}/first-day-referent-space.png", full_page=True)
    assert_accessible(page)

    # 4. The référent asks for a new aidant; the request shows as awaiting training.
    page.get_by_role("link", name="Demander un nouvel aidant").click()
    page.get_by_role("heading", name="Demander un nouvel aidant").wait_for()
    assert_accessible(page)
    page.get_by_label("Prénom").fill("Lou")
    page.get_by_label("Nom", exact=True).fill("Martin")
    page.get_by_label("Adresse e-mail professionnelle").fill(AIDANT)
    page.get_by_label("Profession", exact=True).fill("Agente d'accueil")
    page.get_by_label("Type d'aidant").select_option("agent_accueil")
    page.get_by_role("button", name="Envoyer la demande").click()
    page.get_by_text("La demande pour Lou Martin est transmise").wait_for()
    assert "en attente de formation" in page.inner_text("#aidant-requests").lower()  # a DSFR badge, upper-cased
    assert_accessible(page)
    sign_out(page)

    # 5. The staff find the request in their queue and note the training: the aidant is sent a link.
    staff_sign_in(page, staff, fixed_clock)
    page.goto("/staff/demandes-aidants")
    page.get_by_role("heading", name="Demandes de nouveaux aidants").wait_for()
    row = page.locator("#aidant-requests tbody tr").first.inner_text()
    assert "Mairie de Premier-Jour" in row and "Lou Martin" in row and "Agent d'accueil" in row
    page.screenshot(path=f"{SHOTS}/first-day-staff-queue.png", full_page=True)
    assert_accessible(page)
    page.get_by_role("button", name="Formation suivie : Lou Martin").click()
    page.get_by_text("un lien d'activation lui est envoyé").wait_for()
    assert_accessible(page)
    sign_out(page)

    # 6. The aidant activates the card received by post (serial typed loosely, two consecutive codes).
    start_activation(page, AIDANT, assert_accessible)
    page.get_by_role("link", name="La carte reçue par courrier").click()
    page.get_by_role("heading", name="Activer ma carte").wait_for()
    assert_accessible(page)
    page.get_by_label("Numéro de série de la carte").fill("pj 0042")
    page.get_by_label("Premier code").fill(card.shows(fixed_clock.now()))
    page.get_by_label("Code suivant").fill(card.shows(fixed_clock.now(), 1))
    page.get_by_role("button", name="Activer la carte").click()
    accept_cgu(page, assert_accessible)
    page.get_by_role("heading", name="Espace aidant").wait_for()
    page.screenshot(path=f"{SHOTS}/first-day-aidant-signed-in.png", full_page=True)
    assert_accessible(page)
    sign_out(page)

    # 7. The ordinary sign-in with the card, then the first mandate.
    fixed_clock.advance(seconds=60)  # the activation spent the card's current codes
    page.get_by_label("Adresse e-mail professionnelle").fill(AIDANT)
    page.get_by_label("Code à usage unique").fill(card_code(card, fixed_clock))
    page.get_by_role("button", name="Recevoir mon lien de connexion").click()
    page.get_by_role("heading", name="Consultez votre messagerie").wait_for()
    open_login_link_from_outbox(page, AIDANT)
    page.get_by_role("button", name="Me connecter").click()
    page.get_by_role("heading", name="Espace aidant").wait_for()
    page.goto("/espace-aidant/usagers")
    page.get_by_role("link", name="Créer un mandat").click()
    page.get_by_role("heading", name="Créer un mandat").wait_for()
    choose(page, "Social - Santé")
    choose(page, "6 mois (182 jours)")
    page.get_by_role("button", name="S’identifier avec FranceConnect").click()
    choose(page, "Angela Claire Louise DUBOIS")
    page.get_by_role("button", name="Se connecter avec cette identité").click()
    page.get_by_role("heading", name="Récapitulatif du mandat").wait_for()
    choose(page, "J'ai informé l'usager")
    page.get_by_label("Votre code à usage unique").fill(card_code(card, fixed_clock))
    page.get_by_role("button", name="Créer le mandat").click()
    page.get_by_role("heading", name=re.compile("Mandat d.Angela Claire Louise DUBOIS")).wait_for()
    assert "Le mandat est créé" in page.inner_text("main")
    page.screenshot(path=f"{SHOTS}/first-day-first-mandate.png", full_page=True)
    assert_accessible(page)

    db.session().expire_all()
    aidant, referent = find_aidant(AIDANT), find_aidant(REFERENT)
    assert aidant is not None and referent is not None
    assert aidant.aidant_type == "agent_accueil" and aidant.cgu_version and referent.cgu_version
    assert [o.name for o in aidant.organisations] == ["Mairie de Premier-Jour"]
    assert card.row().aidant_id == aidant.id and card.row().status == "active"
    assert_no_csp_violation()
