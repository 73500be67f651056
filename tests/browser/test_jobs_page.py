"""The staff jobs page in a real browser: axe-clean, no CSP refusal; retry a failed message, run a job now."""

from __future__ import annotations

from pathlib import Path

import pytest

from aidants import db
from aidants.jobs import delivery, schedule
from aidants.outbox.services import enqueue_mail
from tests.browser.support import sign_in
from tests.factories import make_aidant, make_organisation

pytestmark = pytest.mark.browser

SHOTS = Path("/tmp/shots/jobs")


def test_staff_jobs_page(live_server, browser_page, assert_accessible, assert_no_csp_violation) -> None:
    page, now, app = browser_page, live_server.now(), live_server.app
    staff = make_aidant(now, make_organisation(now, "Équipe nationale"), is_staff=True)
    sign_in(page, staff, now)
    app.config.update(OUTBOX_MAX_ATTEMPTS=1, SMTP_HOST="127.0.0.1", SMTP_PORT=9)  # nothing listens there
    enqueue_mail("perdu@exemple.fr", "Votre compte Aidants Connect est activé", "Corps", now=now, kind="habilitation")
    db.commit()
    delivery.deliver_due()
    SHOTS.mkdir(parents=True, exist_ok=True)

    page.goto("/staff")
    page.get_by_role("link", name="Travaux planifiés et e-mails").click()
    page.get_by_role("heading", name="Travaux planifiés et e-mails").wait_for()
    assert page.locator("#jobs tbody tr").count() == len(schedule.JOBS) + 1  # and the outbox delivery
    assert page.locator("#outbox").get_by_text("perdu@exemple.fr").is_visible()
    page.screenshot(path=str(SHOTS / "travaux.png"), full_page=True)
    assert_accessible(page)

    page.get_by_role("button", name="Relancer le message n° 2").click()
    page.get_by_text("Le message est remis dans la file").wait_for()
    assert_accessible(page)

    page.get_by_role("link", name="Lancer maintenant : Instantané quotidien des statistiques publiques").click()
    title = "Lancer « Instantané quotidien des statistiques publiques » maintenant ?"
    page.get_by_role("heading", name=title).wait_for()
    assert_accessible(page)
    page.get_by_role("button", name="Lancer maintenant").click()
    page.get_by_text("fait (snapshots : 1)").wait_for()
    assert page.locator("#jobs").get_by_text("lancé à la main").is_visible()
    page.screenshot(path=str(SHOTS / "travaux-apres.png"), full_page=True)
    assert_accessible(page)
    assert_no_csp_violation()
