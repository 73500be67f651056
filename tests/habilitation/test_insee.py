"""The SIRET lookup, against a stand-in of the Sirene API served on 127.0.0.1 (never the network)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from aidants.habilitation import insee
from tests.habilitation.helpers import start_issuer, text

KEY = "cle-de-test"
TOWN_HALL = "21450001200015"
CLOSED = "21450001200023"
BROKEN = "21450001200031"

RECORDS = {
    TOWN_HALL: {
        "siret": TOWN_HALL,
        "uniteLegale": {"denominationUniteLegale": "COMMUNE DE TEST-SUR-LOIRE",
                        "categorieJuridiqueUniteLegale": "7210"},
        "adresseEtablissement": {"numeroVoieEtablissement": "1", "typeVoieEtablissement": "PL",
                                 "libelleVoieEtablissement": "DE LA MAIRIE", "codePostalEtablissement": "45000",
                                 "libelleCommuneEtablissement": "TEST-SUR-LOIRE"},
        "periodesEtablissement": [{"etatAdministratifEtablissement": "A", "enseigne1Etablissement": "MAIRIE"}],
    },
    CLOSED: {
        "siret": CLOSED,
        "uniteLegale": {"denominationUniteLegale": "ASSOCIATION DISPARUE", "categorieJuridiqueUniteLegale": "9220"},
        "adresseEtablissement": {"codePostalEtablissement": "45000", "libelleCommuneEtablissement": "ORLEANS"},
        "periodesEtablissement": [{"etatAdministratifEtablissement": "F"}],
    },
}


class Sirene(BaseHTTPRequestHandler):
    """Answers like the Sirene API: 401 without the key, 404 for an unknown SIRET, 500 for BROKEN."""

    seen: list[tuple[str, str | None]] = []

    def do_GET(self) -> None:
        Sirene.seen.append((self.path, self.headers.get("X-INSEE-Api-Key-Integration")))
        siret = self.path.rsplit("/", 1)[-1]
        if self.headers.get("X-INSEE-Api-Key-Integration") != KEY:
            self._answer(401, {"message": "clé absente"})
        elif siret == BROKEN:
            self._answer(500, {"message": "panne"})
        elif siret in RECORDS:
            self._answer(200, {"header": {"statut": 200}, "etablissement": RECORDS[siret]})
        else:
            self._answer(404, {"header": {"statut": 404, "message": "Aucun élément trouvé"}})

    def _answer(self, status: int, body: dict[str, object]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def sirene() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Sirene)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Sirene.seen = []
    try:
        yield f"http://127.0.0.1:{server.server_port}/api-sirene/3.11"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_the_client_reads_an_establishment(sirene):
    found = insee.lookup(TOWN_HALL, api_key=KEY, base_url=sirene, timeout=5)
    assert found == insee.Establishment(
        siret=TOWN_HALL, name="COMMUNE DE TEST-SUR-LOIRE (MAIRIE)", address="1 PL DE LA MAIRIE", zipcode="45000",
        city="TEST-SUR-LOIRE", kind="commune", active=True)
    assert Sirene.seen == [(f"/api-sirene/3.11/siret/{TOWN_HALL}", KEY)]
    closed = insee.lookup(CLOSED, api_key=KEY, base_url=sirene, timeout=5)
    assert closed is not None and not closed.active and closed.kind == "association"
    assert insee.lookup("13002526500013", api_key=KEY, base_url=sirene, timeout=5) is None


def test_the_client_reports_an_unusable_answer(sirene):
    with pytest.raises(insee.InseeUnavailable):
        insee.lookup(BROKEN, api_key=KEY, base_url=sirene, timeout=5)
    with pytest.raises(insee.InseeUnavailable):
        insee.lookup(TOWN_HALL, api_key="mauvaise-cle", base_url=sirene, timeout=5)
    with pytest.raises(ValueError):
        insee.lookup("1234/../x", api_key=KEY, base_url=sirene, timeout=5)


def test_the_client_reports_a_server_that_does_not_answer():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Sirene)
    port = server.server_port
    server.server_close()  # nobody listens on this port any more
    with pytest.raises(insee.InseeUnavailable):
        insee.lookup(TOWN_HALL, api_key=KEY, base_url=f"http://127.0.0.1:{port}", timeout=5)


def test_without_a_key_the_issuer_types_the_details(client):
    issuer = start_issuer(client, "demandeur@mairie.example.org")
    page = text(client.get(issuer.path("structure")))
    assert "Rechercher ce SIRET" not in page and "telles qu'elles figurent au répertoire Sirene" in page


def test_with_a_key_the_form_is_filled_from_sirene(app, client, sirene):
    app.config.update(INSEE_API_KEY=KEY, INSEE_API_URL=sirene)
    issuer = start_issuer(client, "demandeur@mairie.example.org")
    assert "Rechercher ce SIRET" in text(client.get(issuer.path("structure")))
    response = client.post(issuer.path("structure"), data={"siret": TOWN_HALL, "lookup": "Rechercher ce SIRET"})
    page = text(response)
    assert response.status_code == 200 and "Informations trouvées au répertoire Sirene" in page
    assert 'value="COMMUNE DE TEST-SUR-LOIRE (MAIRIE)"' in page and 'value="45000"' in page
    assert issuer.request.siret == ""  # nothing saved until the issuer checks and saves
    for siret, message in ((CLOSED, "Cet établissement est fermé"), ("13002526500013", "Aucun établissement"),
                           (BROKEN, "ne répond pas pour le moment"), ("13002526500012", "n'est pas valide")):
        response = client.post(issuer.path("structure"), data={"siret": siret, "lookup": "Rechercher ce SIRET"})
        assert response.status_code == 400 and message in text(response), siret
    assert not any(path.endswith("13002526500012") for path, _ in Sirene.seen)  # checked before any call
