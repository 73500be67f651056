"""``aidants journal …`` (integrate, checkpoint, verify, public-key) and ``aidants db create-app-role``."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
from flask.cli import with_appcontext

from aidants import clock, db
from aidants.journal import checkpoint as notes
from aidants.journal import roles, sequencer, verification


def _fail(message: str) -> None:
    click.secho(message, fg="red", err=True)
    sys.exit(1)


@click.group("journal")
def journal_group() -> None:
    """The audit journal."""


@journal_group.command("integrate")
@click.option("--max-batch", type=click.IntRange(min=1), default=sequencer.DEFAULT_BATCH, show_default=True)
@with_appcontext
def journal_integrate(max_batch: int) -> None:
    """Give every committed entry its leaf in the Merkle tree and sign the new tree (what the job does)."""
    count = sequencer.integrate_all(clock.now(), max_batch)
    click.echo(f"{count} entrée(s) intégrée(s) à l'arbre du journal.")


@journal_group.command("checkpoint")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="file to write (default: stdout)")
@with_appcontext
def journal_checkpoint(output: Path | None) -> None:
    """Integrate, then write a signed checkpoint (C2SP signed note) of the tree, to keep elsewhere."""
    found = sequencer.record_checkpoint(clock.now())
    if found is None:
        _fail("Un autre intégrateur est à l'œuvre : relancez dans un instant.")
        return
    if output:
        output.write_text(found.note)
        click.echo(f"Point de contrôle écrit dans {output} (arbre de {found.tree_size} feuille(s)).", err=True)
    else:
        click.echo(found.note, nl=False)


@journal_group.command("public-key")
@with_appcontext
def journal_public_key() -> None:
    """Print the verifier key of the checkpoints (public; give it to auditors)."""
    click.echo(notes.service_verifier_key())


@journal_group.command("verify")
@click.option("--checkpoint", "checkpoint_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="also check a checkpoint written by 'aidants journal checkpoint' (or --save)")
@click.option("--public-key", "public_key", help="verifier key to check checkpoints with (default: the service's)")
@click.option("--incremental", is_flag=True,
              help="trust the leaves of --checkpoint (verified before): check the tree's consistency with it and "
                   "recompute only the later leaves and the pending entries")
@click.option("--save", "save_path", type=click.Path(dir_okay=False, path_type=Path),
              help="after a successful check, write the latest checkpoint verified here (for --incremental)")
@with_appcontext
def journal_verify(checkpoint_path: Path | None, public_key: str | None, incremental: bool,
                   save_path: Path | None) -> None:
    """Recompute every leaf and the tree, check the latest checkpoint (and a kept one); exit 1 on any flaw."""
    if incremental and checkpoint_path is None:
        _fail("--incremental part d'un point de contrôle déjà vérifié : donnez-le avec --checkpoint.")
        return
    verifier = public_key or notes.service_verifier_key()
    kept = None
    if checkpoint_path is not None:
        try:
            kept = notes.open_note(checkpoint_path.read_text(encoding="utf-8"), verifier)
        except UnicodeDecodeError:
            _fail(f"{checkpoint_path} n'est pas un point de contrôle lisible.")
            return
        except notes.NoteError as exc:
            _fail(f"Point de contrôle refusé : {exc}.")
            return
    try:
        result = verification.verify(verifier=verifier, sizes=[kept.tree_size] if kept else [],
                                     since=kept if incremental else None)
    except notes.NoteError as exc:
        _fail(f"Clé publique refusée : {exc}.")
        return
    if not result.ok:
        where = f"feuille n° {result.first_bad_leaf}" if result.first_bad_leaf is not None else "journal"
        if result.first_bad_seq is not None:
            where += f", entrée n° {result.first_bad_seq}"
        _fail(f"Journal altéré : {where} ({result.reason}).")
    if kept is not None:
        if kept.tree_size > result.tree_size:
            _fail(f"Journal altéré : le point de contrôle compte {kept.tree_size} feuilles, l'arbre n'en a plus que "
                  f"{result.tree_size}.")
        if result.roots.get(kept.tree_size) != kept.root_hash:
            _fail(f"Journal altéré : les {kept.tree_size} premières feuilles ne correspondent plus au point de "
                  "contrôle.")
    if save_path is not None and result.note is not None:
        save_path.write_text(result.note, encoding="utf-8")
    if incremental:
        click.echo(f"Journal cohérent avec le point de contrôle conservé ({result.start} feuilles, non relues) : "
                   f"{result.checked} entrée(s) ajoutée(s) depuis recalculée(s), {result.pending} en attente "
                   f"d'intégration ; racine {result.root_hash[:16]}…")
        return
    click.echo(f"Journal intègre : {result.checked} entrée(s) dans l'arbre, {result.pending} en attente "
               f"d'intégration ; racine {result.root_hash[:16]}…"
               + (f" ; point de contrôle conservé vérifié ({kept.tree_size} feuilles)." if kept else "."))


@click.command("create-app-role")
@click.option("--name", required=True, help="the role the service will connect as")
@click.option("--password-env", default="APP_ROLE_PASSWORD", show_default=True,
              help="environment variable holding its password (none: no password set)")
@with_appcontext
def create_app_role(name: str, password_env: str) -> None:
    """Create the application role (PostgreSQL): all it needs, but the journal insert and read only."""
    try:
        with db.engine().begin() as connection:
            roles.grant_app_role(connection, name, os.environ.get(password_env) or None)
    except roles.RoleError as exc:
        _fail(str(exc))
        return
    click.echo(f"Rôle {name} prêt : il lit et ajoute au journal, sans pouvoir le modifier ni le vider. "
               "Relancez cette commande après chaque migration.")
