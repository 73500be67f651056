"""The journal's checkpoints in a real browser: the staff list passes axe-core, the CSP refuses nothing, the
verifier key shown is the one published, and a note downloads."""

from __future__ import annotations

from pathlib import Path

import pytest

from aidants.journal import sequencer
from tests.browser.support import sign_in
from tests.factories import make_aidant, make_organisation

pytestmark = pytest.mark.browser
SHOTS = Path("/tmp/shots/journal")


def test_staff_read_the_signed_checkpoints(live_server, browser_page, assert_accessible, assert_no_csp_violation,
                                           tmp_path: Path) -> None:
    page, now = browser_page, live_server.now()
    staff = make_aidant(now, make_organisation(now, "Équipe nationale"), is_staff=True)
    sequencer.record_checkpoint(now)
    sign_in(page, staff, now)
    page.goto("/staff/journal/verification")
    page.get_by_role("link", name="Points de contrôle signés").click()
    page.get_by_role("heading", name="Points de contrôle signés du journal").wait_for()
    assert page.locator("#checkpoints tbody tr").count() >= 1
    key = page.locator("#verifier-key").inner_text().strip()
    assert page.request.get("/journal/checkpoint-key").text().strip() == key
    assert_accessible(page)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "checkpoints.png"), full_page=True)
    with page.expect_download() as download:
        page.locator("#checkpoints tbody tr").first.get_by_role("link").click()
    target = tmp_path / "note.txt"
    download.value.save_as(target)
    assert "\n\n\u2014 " in target.read_text(encoding="utf-8")
    assert_no_csp_violation()
