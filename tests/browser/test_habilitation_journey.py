"""Browser tests of a habilitation request from the first email to acceptance: the issuer fills the request in
(with mistakes), the staff ask for changes, the issuer comes back through the emailed link and sends it again,
the staff accept and note a training. axe-core on every page; no CSP violation."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from aidants import db
from aidants.accounts.services import find_aidant
from aidants.clock import FixedClock
from aidants.habilitation.models import HabilitationRequest
from aidants.organisations.models import Organisation
from tests.browser.support import sign_in
from tests.factories import AidantWithDevice, luhn_siret, make_aidant

pytestmark = pytest.mark.browser

ISSUER = "secretariat@mairie-navigateur.example.org"
REFERENT = "referente@mairie-navigateur.example.org"
SIRET = luhn_siret("2145000990001")


def open_emailed_link(page, subject: str) -> None:  # type: ignore[no-untyped-def]
    """Open the link of the latest email with this subject, from the development outbox."""
    page.goto("/dev/outbox")
    page.locator("article", has_text=subject).first.get_by_role("link").first.click()


def staff_sign_in(page, staff: AidantWithDevice, clock: FixedClock) -> None:  # type: ignore[no-untyped-def]
    clock.advance(seconds=staff.device.period)  # a code never used yet
    sign_in(page, staff, clock.now())


def sign_out(page) -> None:  # type: ignore[no-untyped-def]
    page.get_by_role("button", name="Se déconnecter").click()
    page.get_by_role("heading", name="Connexion aidant").wait_for()


def save(page) -> None:  # type: ignore[no-untyped-def]
    page.get_by_role("button", name="Enregistrer et continuer").click()


def test_a_request_from_the_first_email_to_acceptance(live_server, fixed_clock, browser_page, assert_accessible,
                                                      assert_no_csp_violation):
    page = browser_page
    staff = make_aidant(live_server.now(), is_staff=True)

    # 1. The start page, then the emailed link.
    page.goto("/habilitation")
    page.get_by_role("heading", name="Demander l'habilitation d'une structure").wait_for()
    assert_accessible(page)
    page.get_by_label("Adresse e-mail professionnelle").fill(ISSUER)
    page.get_by_role("button", name="Recevoir mon lien d'accès").click()
    page.get_by_role("heading", name="Consultez votre messagerie").wait_for()
    assert_accessible(page)
    open_emailed_link(page, "confirmez votre adresse")
    assert re.search(r"/habilitation/acces/[\w-]{43}$", page.url), page.url
    page.get_by_role("heading", name="Accéder à ma demande d'habilitation").wait_for()
    assert_accessible(page)
    page.get_by_role("button", name="Confirmer et continuer").click()

    # 2. The issuer: a mistake first, announced accessibly.
    page.get_by_text("Étape 1 sur 5").wait_for()
    assert_accessible(page)
    save(page)
    assert page.get_by_label("Prénom").get_attribute("aria-describedby") == "first_name-error"
    assert page.locator("#first_name-error").inner_text() == "Saisissez votre prénom."
    assert_accessible(page)
    page.get_by_label("Prénom").fill("Dominique")
    page.get_by_label("Nom", exact=True).fill("Martin")
    page.get_by_label("Fonction").fill("Secrétaire générale")
    save(page)

    # 3. The structure: an invalid SIRET is refused, then the right one.
    page.get_by_text("Étape 2 sur 5").wait_for()
    assert_accessible(page)
    page.get_by_label("Numéro SIRET").fill(SIRET[:-1] + str((int(SIRET[-1]) + 1) % 10))
    page.get_by_label("Nom de la structure").fill("Mairie de Navigateur")
    page.get_by_label("Type de structure").select_option("commune")
    page.get_by_label("Adresse").fill("1 place de la Mairie")
    page.get_by_label("Code postal").fill("45000")
    page.get_by_label("Commune").fill("Navigateur-sur-Loire")
    save(page)
    assert "n'est pas valide" in page.locator("#siret-error").inner_text()
    assert_accessible(page)
    page.get_by_label("Numéro SIRET").fill(SIRET)
    save(page)

    # 4. The référent.
    page.get_by_text("Étape 3 sur 5").wait_for()
    assert_accessible(page)
    page.get_by_label("Prénom").fill("Sacha")
    page.get_by_label("Nom", exact=True).fill("Bernard")
    page.get_by_label("Adresse e-mail professionnelle").fill(REFERENT)
    page.get_by_label("Fonction").fill("Responsable du CCAS")
    save(page)

    # 5. The aidants to train: add three, remove one.
    page.get_by_text("Étape 4 sur 5").wait_for()
    assert_accessible(page)
    for first, last in (("Alex", "Dupuis"), ("Camille", "Leroy"), ("Noa", "Petit")):
        page.get_by_label("Prénom").fill(first)
        page.get_by_label("Nom", exact=True).fill(last)
        page.get_by_label("Adresse e-mail professionnelle").fill(f"{first.lower()}@mairie-navigateur.example.org")
        page.get_by_label("Fonction").fill("Agent d'accueil")
        page.get_by_label("Type d'aidant").select_option("agent_accueil")
        page.get_by_role("button", name="Ajouter cet aidant").click()
        page.get_by_text(f"{first} {last} est ajouté").wait_for()
    assert_accessible(page)
    page.get_by_role("button", name="Retirer Camille Leroy").click()
    page.get_by_text("L'aidant est retiré de la liste.").wait_for()
    assert page.locator("#aidants tbody tr").count() == 2
    page.get_by_role("link", name="Continuer", exact=True).click()

    # 6. Terms and submission (the box unchecked first).
    page.get_by_text("Étape 5 sur 5").wait_for()
    assert_accessible(page)
    page.get_by_role("button", name="Envoyer la demande").click()
    page.get_by_role("alert").get_by_text("acceptez les conditions générales").wait_for()
    assert_accessible(page)
    page.locator("label.fr-label", has_text="J'ai lu et j'accepte").click()
    page.get_by_role("button", name="Envoyer la demande").click()
    page.get_by_text("Votre demande est envoyée.").wait_for()
    assert "Envoyée, en cours d'examen" in page.locator("#statut").text_content()
    assert_accessible(page)

    # 7. The staff ask for changes.
    staff_sign_in(page, staff, fixed_clock)
    page.goto("/staff/habilitations")
    page.get_by_role("heading", name="Demandes d'habilitation").wait_for()
    assert_accessible(page)
    page.get_by_role("link", name="Mairie de Navigateur").click()
    page.get_by_role("heading", name="Mairie de Navigateur").wait_for()
    assert_accessible(page)
    page.get_by_label("Message au demandeur").fill("Merci d'indiquer l'adresse complète de la mairie.")
    page.get_by_role("button", name="Demander des modifications").click()
    page.get_by_text("Les modifications sont demandées").wait_for()
    assert_accessible(page)
    sign_out(page)

    # 8. The issuer comes back through the emailed link, corrects and sends again.
    open_emailed_link(page, "des modifications sont demandées")  # the request's page: the link is needed first
    page.get_by_text("Pour accéder à votre demande, ouvrez le lien reçu par e-mail").wait_for()
    assert page.url == f"{live_server.url}/habilitation"
    open_emailed_link(page, "confirmez votre adresse")  # the way back in: the first link is valid 3 days
    page.get_by_role("button", name="Confirmer et continuer").click()
    page.get_by_role("heading", name="Mes demandes d'habilitation").wait_for()
    assert_accessible(page)
    page.get_by_role("link", name="Mairie de Navigateur").click()
    assert "Modifications demandées" in page.locator("#statut").text_content()
    assert "Merci d'indiquer l'adresse complète" in page.inner_text("#fil-messages")
    assert_accessible(page)
    page.get_by_role("link", name="Compléter la demande").click()
    page.get_by_role("link", name="2. Structure").click()
    page.get_by_label("Adresse").fill("1 place de la Mairie, bâtiment A")
    save(page)
    page.get_by_role("link", name="5. Conditions et envoi").click()
    page.locator("label.fr-label", has_text="J'ai lu et j'accepte").click()
    page.get_by_role("button", name="Envoyer la demande").click()
    page.get_by_text("Votre demande est envoyée.").wait_for()
    page.get_by_label("Votre message").fill("C'est corrigé, merci.")
    page.get_by_role("button", name="Envoyer le message").click()
    page.get_by_text("Votre message est envoyé").wait_for()
    assert_accessible(page)

    # 9. The staff accept and note a training.
    staff_sign_in(page, staff, fixed_clock)
    page.goto("/staff/habilitations?status=submitted")
    assert_accessible(page)
    page.get_by_role("link", name="Mairie de Navigateur").click()
    assert "C'est corrigé, merci." in page.inner_text("#fil-messages")
    page.get_by_role("button", name="Accepter la demande").click()
    page.get_by_text("La demande est acceptée").wait_for()
    assert_accessible(page)
    page.get_by_role("button", name="Formation effectuée : Alex Dupuis").click()
    page.get_by_text("La formation de Alex Dupuis est notée").wait_for()
    assert "compte actif" in page.inner_text("#formation")
    assert_accessible(page)

    db.session().expire_all()
    request = db.session().scalars(sa.select(HabilitationRequest)).one()
    organisation = db.session().scalars(sa.select(Organisation).where(Organisation.siret == SIRET)).one()
    assert request.status == "accepted" and request.organisation_id == organisation.id
    assert organisation.address == "1 place de la Mairie, bâtiment A"
    referent = find_aidant(REFERENT)
    assert referent is not None and referent.is_active and organisation in referent.referent_of
    assert find_aidant("alex@mairie-navigateur.example.org").is_active
    assert not find_aidant("noa@mairie-navigateur.example.org").is_active
    assert find_aidant("camille@mairie-navigateur.example.org") is None
    sign_out(page)

    # 10. The issuer sees the decision.
    open_emailed_link(page, "confirmez votre adresse")
    page.get_by_role("button", name="Confirmer et continuer").click()
    page.get_by_role("link", name="Mairie de Navigateur").click()
    assert "Acceptée" in page.locator("#statut").text_content()
    assert_accessible(page)
    assert_no_csp_violation()


def test_an_expired_link_says_so_and_offers_a_new_one(live_server, fixed_clock, browser_page, assert_accessible):
    page = browser_page
    page.goto("/habilitation")
    page.get_by_label("Adresse e-mail professionnelle").fill(ISSUER)
    page.get_by_role("button", name="Recevoir mon lien d'accès").click()
    page.get_by_role("heading", name="Consultez votre messagerie").wait_for()
    fixed_clock.advance(days=3, seconds=1)
    open_emailed_link(page, "confirmez votre adresse")
    page.get_by_role("heading", name="Ce lien n'est plus valable").wait_for()
    assert_accessible(page)
    page.get_by_label("Adresse e-mail professionnelle").fill(ISSUER)
    page.get_by_role("button", name="Recevoir un nouveau lien").click()
    page.get_by_role("heading", name="Consultez votre messagerie").wait_for()
    open_emailed_link(page, "confirmez votre adresse")
    page.get_by_role("button", name="Confirmer et continuer").click()
    page.get_by_text("Étape 1 sur 5").wait_for()
    assert_accessible(page)
