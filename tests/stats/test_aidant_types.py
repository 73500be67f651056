"""Aidant types in the statistics: active aidants per type, the staff never counted."""

from __future__ import annotations

from aidants import db
from tests.factories import make_aidant, make_organisation


def test_active_aidants_are_counted_per_type_without_the_staff(app, client, fixed_clock):
    now = fixed_clock.now()
    organisation = make_organisation(now)
    for kind in ("travailleur_social", "travailleur_social", "secretaire_mairie", ""):
        who = make_aidant(now, organisation)
        who.aidant.aidant_type = kind
    inactive = make_aidant(now, organisation)
    inactive.aidant.aidant_type, inactive.aidant.is_active = "agent_accueil", False
    make_aidant(now, organisation, is_staff=True).aidant.aidant_type = "autre"
    db.commit()
    csv = client.get("/stats.csv").get_data(as_text=True)
    for line in ("aidants_actifs,,4", "aidants_actifs_par_type,travailleur_social,2",
                 "aidants_actifs_par_type,secretaire_mairie,1", "aidants_actifs_par_type,agent_accueil,0",
                 "aidants_actifs_par_type,autre,0", "aidants_actifs_par_type,non_renseigne,1"):
        assert line in csv.replace("\r", ""), line
    page = client.get("/stats").get_data(as_text=True)
    assert "Aidants actifs par type" in page and "Travailleur social" in page and "Non renseigné" in page
