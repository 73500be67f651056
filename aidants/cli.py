"""The ``aidants`` command: operations for developers and operators. Each command calls a service."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
import segno
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext
from sqlalchemy.exc import IntegrityError
from tqdm import tqdm

from aidants import clock, db, migrate
from aidants.accounts import cards, devices
from aidants.accounts import services as accounts
from aidants.journal import checkpoint as checkpoints
from aidants.journal import services as journal
from aidants.organisations import services as organisations
from aidants.security import totp


def _create_app() -> Flask:
    from aidants import create_app
    from aidants.config import ConfigError

    try:
        return create_app()
    except ConfigError as error:
        click.echo(f"aidants: {error}", err=True)
        sys.exit(1)


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False)
def main() -> None:
    """Aidants Connect: operations on the mandate service."""


def _fail(message: str) -> None:
    click.secho(message, fg="red", err=True)
    sys.exit(1)


@click.group("db")
def db_group() -> None:
    """Database schema."""


@db_group.command("upgrade")
@with_appcontext
def db_upgrade() -> None:
    """Apply every pending migration."""
    migrate.upgrade(db.engine())
    click.echo("Base de données à jour.")


@click.command("create-organisation")
@click.option("--name", required=True)
@click.option("--siret", required=True)
@click.option("--address", default="")
@click.option("--zipcode", default="")
@click.option("--city", default="")
@with_appcontext
def create_organisation(name: str, siret: str, address: str, zipcode: str, city: str) -> None:
    """Create a structure."""
    try:
        organisation = organisations.create_organisation(
            name=name, siret=siret, address=address, zipcode=zipcode, city=city, now=clock.now())
    except organisations.OrganisationError as exc:
        _fail(str(exc))
    db.commit()
    click.echo(f"Structure créée : {organisation.name} (SIRET {organisation.siret}).")


@click.command("create-aidant")
@click.option("--email", required=True)
@click.option("--first-name", required=True)
@click.option("--last-name", required=True)
@click.option("--organisation", "siret", default="", help="SIRET of the aidant's structure (none for --staff)")
@click.option("--profession", default="")
@click.option("--referent", is_flag=True, help="also référent of the structure")
@click.option("--staff", is_flag=True, help="member of the national staff")
@click.option("--app", "with_app", is_flag=True, help="enrol an authenticator app now and print its QR code")
@with_appcontext
def create_aidant(email: str, first_name: str, last_name: str, siret: str, profession: str, referent: bool,
                  staff: bool, with_app: bool) -> None:
    """Create an aidant (they sign in with a card or an app, never a password); staff need no structure."""
    organisation = organisations.find_by_siret(siret) if siret else None
    if organisation is None and (siret or not staff):
        _fail(f"Aucune structure ne porte le SIRET {siret}." if siret else
              "Donnez le SIRET de la structure de l'aidant (--organisation) ; seul le personnel (--staff) peut "
              "n'en avoir aucune.")
        return
    if organisation is None and referent:
        _fail("Un référent l'est d'une structure : donnez son SIRET (--organisation).")
    if accounts.find_aidant(email) is not None:
        _fail(f"Un compte existe déjà pour {email}.")
    now = clock.now()
    aidant = accounts.create_aidant(email=email, first_name=first_name, last_name=last_name,
                                    organisation=organisation, profession=profession, is_referent=referent,
                                    is_staff=staff, now=now)
    enrolment = devices.start_app_enrolment(aidant, now) if with_app else None
    if enrolment:
        enrolment.device.status, enrolment.device.activated_at = "active", now
    db.commit()
    click.echo(f"Aidant créé : {aidant.email}.")
    if enrolment:
        click.echo("Scannez ce QR code avec l'application d'authentification de l'aidant :")
        segno.make(enrolment.uri, error="m").terminal(compact=True)
        click.echo(f"ou saisissez la clé : {enrolment.secret}")


@click.command("import-cards")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--skip-invalid", is_flag=True, help="import the valid rows even when some are bad")
@with_appcontext
def import_cards(path: Path, skip_invalid: bool) -> None:
    """Import physical TOTP cards from the maker's CSV (serial_number,seed[,step,digits])."""
    try:
        parsed = cards.read_card_file(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        _fail(f"{path} : fichier illisible : il n'est pas encodé en UTF-8 (octet invalide à la position "
              f"{exc.start}). Enregistrez-le en UTF-8 et relancez : aucune carte importée.")
        return
    except cards.CardFileError as exc:
        _fail(f"{path} : fichier illisible : {exc}. Aucune carte importée.")
        return
    for line, reason in parsed.errors:
        click.secho(f"ligne {line} : {reason}", fg="yellow", err=True)
    if parsed.errors and not skip_invalid:
        _fail(f"{len(parsed.errors)} ligne(s) invalide(s) : aucune carte importée "
              "(corrigez le fichier, ou relancez avec --skip-invalid pour importer les lignes valides).")
    try:
        with tqdm(total=len(parsed.cards), unit="carte", disable=None, file=sys.stderr) as bar:
            count = cards.store_cards(parsed.cards, clock.now(), progress=bar.update)
        db.commit()
    except IntegrityError:
        db.session().rollback()
        _fail("Une autre importation a enregistré certaines de ces cartes entre-temps : aucune carte importée. "
              "Relancez la commande.")
        return
    click.echo(f"{count} carte(s) importée(s), {len(parsed.errors)} ligne(s) ignorée(s).")


@click.command("totp-code")
@click.argument("email")
@with_appcontext
def totp_code(email: str) -> None:
    """Show the current code of a demo aidant's app (development only)."""
    if current_app.config["ENV_IS_PRODUCTION"]:
        _fail("Commande refusée en production.")
    aidant = accounts.find_aidant(email)
    found = devices.usable_devices(aidant) if aidant else []
    if not found:
        _fail(f"Aucun appareil actif pour {email}.")
    device = found[0]
    current = totp.step_at(clock.now(), device.period) + device.drift
    step = max(current, (device.last_step or 0) + 1)  # a spent code would be refused: show the next one
    if step > current + 1:  # beyond the one step of tolerance
        _fail(f"Les codes du moment ont déjà servi : réessayez dans {device.period} secondes au plus.")
    click.echo(totp.code_for_step(devices.seed_of(device), step, device.digits))


@click.command("demo")
@with_appcontext
def demo() -> None:
    """Load the demo dataset (idempotent; development only)."""
    from aidants import demo as demo_data

    if current_app.config["ENV_IS_PRODUCTION"]:
        _fail("Commande refusée en production.")
    created = demo_data.load(clock.now())
    db.commit()
    click.echo("Jeu de démonstration chargé." if created else "Jeu de démonstration déjà présent.")
    click.echo("Comptes de démonstration (code du moment : aidants totp-code EMAIL) :")
    for line in demo_data.who_is_who():
        click.echo(f"  {line}")


@click.command("rotate-seeds")
@with_appcontext
def rotate_seeds() -> None:
    """Re-encrypt every TOTP seed, and the signing keys, under the first key of SEED_ENCRYPTION_KEYS."""
    from aidants.signing import services as signing

    try:
        count = devices.reencrypt_seeds()
        keys = signing.reencrypt_private_keys()
    except devices.SeedUnreadable as exc:
        db.session().rollback()
        _fail(f"La graine du dispositif n° {exc.device_id} ne s'ouvre avec aucune clé de SEED_ENCRYPTION_KEYS "
              f"(elle a été chiffrée avec la clé « {exc.kid} »). Remettez cette clé dans la liste, après la "
              "nouvelle, puis relancez : aucune graine n'a été rechiffrée.")
        return
    db.commit()
    click.echo(f"{count} graine(s) et {keys} clé(s) de signature rechiffrée(s) avec la clé "
               f"{devices.keyring().current_kid}.")


@click.group("journal")
def journal_group() -> None:
    """The audit journal."""


@journal_group.command("verify")
@click.option("--checkpoint", "checkpoint_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="also check a checkpoint written by 'aidants journal checkpoint'")
@with_appcontext
def journal_verify(checkpoint_path: Path | None) -> None:
    """Recompute the hash chain; exit 1 naming the first bad entry."""
    result = journal.verify_chain()
    if not result.ok:
        _fail(f"Journal altéré : première entrée invalide n° {result.first_bad_seq} ({result.reason}).")
    if checkpoint_path is not None:
        try:
            data = json.loads(checkpoint_path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError):
            _fail(f"{checkpoint_path} n'est pas un point de contrôle lisible.")
            return
        problem = checkpoints.check(data, current_app.config["JOURNAL_SIGNING_KEY"])
        if problem:
            _fail(f"Journal altéré : {problem}.")
    click.echo(f"Journal intègre : {result.checked} entrée(s), tête n° {result.head_seq} ({result.head_hash[:16]}…).")


@journal_group.command("checkpoint")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="file to write (default: stdout)")
@with_appcontext
def journal_checkpoint(output: Path | None) -> None:
    """Write a signed checkpoint of the journal's head, to keep elsewhere."""
    data = checkpoints.make(current_app.config["JOURNAL_SIGNING_KEY"], clock.now())
    text = json.dumps(data, indent=2)
    if output:
        output.write_text(text + "\n")
        click.echo(f"Point de contrôle écrit dans {output} (entrée n° {data['seq']}).", err=True)
    else:
        click.echo(text)


@click.group("keys")
def keys_group() -> None:
    """The service's signing keys (JWKS)."""


@keys_group.command("rotate")
@click.option("--alg", type=click.Choice(["ES256", "RS256"]), default="ES256", show_default=True)
@with_appcontext
def keys_rotate(alg: str) -> None:
    """Publish a new signing key now; it signs one hour later, and the old one stays published until its
    tokens have expired."""
    from aidants.signing import services as signing

    key = signing.rotate(alg, clock.now())
    db.commit()
    click.echo(f"Nouvelle clé {alg} publiée : {key.kid} ; elle signera à partir du "
               f"{key.sign_from:%Y-%m-%d %H:%M} UTC.")


for _command in (db_group, journal_group, create_organisation, create_aidant, import_cards, totp_code, demo,
                 rotate_seeds, keys_group):
    main.add_command(_command)


def _register_oidc_commands() -> None:
    """The provider's commands live with the provider (the CLI, like create_app, composes the two packages)."""
    from oidc.provider.cli import clients_group

    main.add_command(clients_group)


_register_oidc_commands()
