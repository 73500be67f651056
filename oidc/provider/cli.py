"""``aidants clients …``: register, list and disable the services that use this provider."""

from __future__ import annotations

import json
import sys

import click
from flask.cli import with_appcontext

from aidants import clock, db
from oidc.provider import clients as registry
from oidc.provider.models import AUTH_METHODS, SCOPES, SIGNING_ALGS, OidcClient

SCOPE_LIST = ", ".join(SCOPES)


def _describe(client: OidcClient) -> dict[str, object]:
    return {
        "client_id": client.client_id, "name": client.name, "auth_method": client.auth_method,
        "redirect_uris": client.redirect_uris.split("\n"),
        "post_logout_redirect_uris": [u for u in client.post_logout_redirect_uris.split("\n") if u],
        "id_token_signed_response_alg": client.id_token_alg,
        "userinfo_signed_response_alg": client.userinfo_alg, "act_claim": client.act_claim,
        "scopes": client.scopes, "active": client.is_active,
    }


@click.group("clients")
def clients_group() -> None:
    """Services allowed to receive a usager's identity."""


@clients_group.command("register")
@click.option("--name", required=True)
@click.option("--redirect-uri", "redirect_uris", multiple=True, required=True)
@click.option("--post-logout-uri", "post_logout_uris", multiple=True)
@click.option("--auth-method", type=click.Choice(AUTH_METHODS), default="client_secret_post", show_default=True)
@click.option("--id-token-alg", type=click.Choice(SIGNING_ALGS), default="ES256", show_default=True)
@click.option("--userinfo-alg", type=click.Choice(SIGNING_ALGS), default=None,
              help="sign userinfo responses (JWT) with this algorithm")
@click.option("--act/--no-act", default=False, help="add an RFC 8693 'act' claim naming the acting aidant")
@click.option("--scopes", required=True, help=f"scopes the service may receive, e.g. 'openid profile' ({SCOPE_LIST})")
@click.option("--json", "as_json", is_flag=True, help="print the registration as JSON")
@with_appcontext
@db.cli_unit_of_work()
def register(name: str, redirect_uris: tuple[str, ...], post_logout_uris: tuple[str, ...], auth_method: str,
             id_token_alg: str, userinfo_alg: str | None, act: bool, scopes: str, as_json: bool) -> None:
    """Register a service; its secret is shown now and never again."""
    try:
        done = registry.register(
            name=name, redirect_uris=list(redirect_uris), post_logout_redirect_uris=list(post_logout_uris),
            auth_method=auth_method, userinfo_alg=userinfo_alg, id_token_alg=id_token_alg, act_claim=act,
            now=clock.now(), scopes=[scopes],
        )
    except registry.ClientError as exc:
        click.secho(f"Enregistrement refusé : {exc}.", fg="red", err=True)
        sys.exit(1)
    if as_json:
        click.echo(json.dumps({**_describe(done.client), "client_secret": done.secret}, indent=2))
        return
    click.echo(f"Service enregistré : {done.client.name}")
    click.echo(f"client_id     : {done.client.client_id}")
    click.echo(f"scopes        : {' '.join(done.client.scopes)}")
    if done.secret:
        click.echo(f"client_secret : {done.secret}")
        click.echo("Notez ce secret maintenant : il n'est conservé que sous forme d'empreinte.")


@clients_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
@db.cli_unit_of_work()
def list_clients(as_json: bool) -> None:
    """List the registered services."""
    found = registry.all_clients()
    if as_json:
        click.echo(json.dumps([_describe(c) for c in found], indent=2))
        return
    if not found:
        click.echo("Aucun service enregistré.")
    for client in found:
        state = "actif" if client.is_active else "désactivé"
        click.echo(f"{client.client_id}  {state:10}  {client.auth_method:20}  {client.name}  "
                   f"[{' '.join(client.scopes)}]")


@clients_group.command("set-scopes")
@click.argument("client_id")
@click.argument("scopes", nargs=-1, required=True)
@with_appcontext
@db.cli_unit_of_work()
def set_scopes(client_id: str, scopes: tuple[str, ...]) -> None:
    """Change the scopes a service may receive (openid is always kept)."""
    try:
        client = registry.set_scopes(client_id, list(scopes), clock.now())
    except registry.ClientError as exc:
        click.secho(f"{exc}.", fg="red", err=True)
        sys.exit(1)
    click.echo(f"Scopes de {client.name} : {' '.join(client.scopes)}")


@clients_group.command("disable")
@click.argument("client_id")
@with_appcontext
@db.cli_unit_of_work()
def disable(client_id: str) -> None:
    """Disable a service at once (authorizations, tokens and userinfo refused)."""
    try:
        client = registry.disable(client_id, clock.now())
    except registry.ClientError as exc:
        click.secho(f"{exc}.", fg="red", err=True)
        sys.exit(1)
    click.echo(f"Service désactivé : {client.name}.")
