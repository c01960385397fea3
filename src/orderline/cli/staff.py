"""``orderline staff ...``: the operator invites a business's first owner (or anyone) and lists
its staff. The invitation link is printed once (only its hash is stored)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, NoReturn, TypeVar

import typer
from pydantic import ValidationError

from orderline.core.config import Settings
from orderline.core.errors import DomainError
from orderline.core.logs import configure_logging
from orderline.core.runtime import Runtime
from orderline.wiring import build_runtime

T = TypeVar("T")

staff_app = typer.Typer(help="Console staff: invitations and the staff list.",
                        no_args_is_help=True)

BusinessOpt = Annotated[str, typer.Option("--business", help="the business id")]
DatabaseOpt = Annotated[str | None, typer.Option(
    "--database-url", envvar="ORDERLINE_DATABASE_URL",
    help="postgresql://... or sqlite:///file; default: a SQLite file under ./data")]


def _fail(message: str) -> NoReturn:
    typer.secho(message, fg=typer.colors.RED, err=True)
    raise typer.Exit(2)


def _business(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        _fail(f"'{raw}' is not a business id.")


def _run(database_url: str | None, job: Callable[[Runtime], Awaitable[T]]) -> T:
    """``job`` on a runtime of the configured settings (as ``cli.main`` does; this module
    cannot import it, which imports this one to register the commands)."""
    if database_url:
        os.environ["ORDERLINE_DATABASE_URL"] = database_url
    try:
        settings = Settings()
    except ValidationError as refused:
        _fail("; ".join(str(e["msg"]).removeprefix("Value error, ") for e in refused.errors()))
    configure_logging(settings.log_level)

    async def main() -> T:
        runtime = build_runtime(settings)
        try:
            return await job(runtime)
        finally:
            await runtime.close()

    return asyncio.run(main())


@staff_app.command("invite")
def invite(email: str, business: BusinessOpt,
           role: Annotated[str, typer.Option(
               help="owner, admin, operations, verifier or viewer")] = "owner",
           base_url: Annotated[str | None, typer.Option(
               help="the console's public URL (default ORDERLINE_CONSOLE_BASE_URL)")] = None,
           database_url: DatabaseOpt = None) -> None:
    """Invite EMAIL to the business with a role; prints the link and when it expires."""
    from orderline.staff import service as staff

    business_id = _business(business)
    try:
        issued = _run(database_url, lambda rt: staff.invite(
            rt, None, email=email, role=role, business_id=business_id, base_url=base_url))
    except DomainError as refused:
        _fail(f"{refused.code}: {refused.message}")
    typer.echo(f"invitation link: {issued.link}")
    typer.echo(f"for: {issued.invitation.email} as {issued.invitation.role}")
    typer.echo(f"expires at: {issued.invitation.expires_at.isoformat()}")


@staff_app.command("list")
def list_staff(business: BusinessOpt, database_url: DatabaseOpt = None) -> None:
    """The business's staff: email, role, status, second factor, last login."""
    from orderline.staff import service as staff

    business_id = _business(business)
    rows = _run(database_url, lambda rt: staff.list_staff_of(rt, business_id))
    if not rows:
        typer.echo("no staff yet")
    for m in rows:
        last = m.last_login_at.isoformat() if m.last_login_at else "never"
        typer.echo(f"{m.id}  {m.email}  {m.role}  {m.status}  "
                   f"2fa={'on' if m.totp_enabled else 'off'}  last login: {last}")
