"""Console logins and sessions on a real database: one answer for every failed login, lockouts
per email and per address (in memory, and in Redis shared by two processes), sessions that end
when idle or too old with a clock the test moves, logging out (here, everywhere), the TOTP
second factor with its replay rule, and what a staff member does being recorded as theirs."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pyotp
import pytest
from redis.asyncio import Redis

from orderline.audit.store import AuditFilter
from orderline.core.clock import ManualClock
from orderline.core.errors import (
    Conflict,
    LoginFailed,
    RoleNotAllowed,
    SecondFactorInvalid,
    SecondFactorRequired,
    SessionExpired,
    TooManyLoginAttempts,
)
from orderline.core.ratelimit import RedisLimiter
from orderline.core.runtime import Runtime
from orderline.staff import passwords, second_factor, sessions
from orderline.staff import service as staff
from orderline.tenancy import service as tenancy
from orderline.tenancy.audit_log import read_audit_log
from tests.conftest import IN_CI, Merchant
from tests.support.staff import CLIENT, PASSWORD, Member, join, logged_in, new_email, staff_runtime

REDIS_URL = os.environ.get("ORDERLINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def rt(runtime: Runtime, clock: ManualClock) -> Runtime:
    runtime.clock = clock
    return staff_runtime(runtime)


@pytest.fixture
async def owner(rt: Runtime, merchant: Merchant) -> Member:
    return await join(rt, merchant.principal.business_id, "owner")


async def test_the_right_password_starts_a_new_session_at_every_login(
        rt: Runtime, owner: Member) -> None:
    first, principal = await logged_in(rt, owner)
    second, _ = await logged_in(rt, owner)
    assert first.token != second.token and first.session.session_id != second.session.session_id
    assert first.csrf_token and first.csrf_token != second.csrf_token
    assert principal.staff_id == owner.row.id and principal.actor == f"staff:{owner.row.id}"
    assert principal.scopes == {"read", "write", "admin", "verify"}
    resumed = await sessions.resume_session(rt, first.token)
    assert (resumed.staff_id, resumed.csrf_token) == (owner.row.id, first.csrf_token)
    assert first.staff.last_login_at is not None


async def test_wrong_password_unknown_email_and_disabled_account_get_one_answer(
        rt: Runtime, merchant: Merchant, owner: Member,
        monkeypatch: pytest.MonkeyPatch) -> None:
    clerk = await join(rt, merchant.principal.business_id, "operations")
    await staff.disable(rt, merchant.principal, clerk.row.id)
    verified: list[str] = []
    real = passwords._verify

    def counted(password_hash: str, password: str) -> bool:
        verified.append(password_hash)
        return real(password_hash, password)

    monkeypatch.setattr(passwords, "_verify", counted)
    answers = []
    for email, password in ((owner.email, "not the password"),
                            (new_email("nobody"), PASSWORD),
                            (clerk.email, clerk.password)):
        with pytest.raises(LoginFailed) as refused:
            await sessions.log_in(rt, email, password, **CLIENT)
        answers.append((refused.value.code, refused.value.message, refused.value.details))
    assert answers == [("login_failed", "The email or password is not right.", {})] * 3
    # One argon2 verification each: an unknown email is checked against the dummy hash.
    assert len(verified) == 3 and verified[1] == passwords._dummy_hash()


async def test_failed_logins_lock_the_email_even_for_the_right_password(
        rt: Runtime, owner: Member) -> None:
    rt.settings = rt.settings.model_copy(update={"staff_login_failures_per_email": 3})
    for n in range(3):
        with pytest.raises(LoginFailed):
            await sessions.log_in(rt, owner.email, "wrong password!", client_ip=f"198.51.100.{n}",
                                  user_agent="ua")
    with pytest.raises(TooManyLoginAttempts) as locked:
        await sessions.log_in(rt, owner.email, owner.password, **CLIENT)
    assert locked.value.details["limited_by"] == "email"
    assert 1 <= locked.value.details["retry_after_seconds"] <= 15 * 60


async def test_failed_logins_from_one_address_lock_that_address_only(
        rt: Runtime, merchant: Merchant) -> None:
    rt.settings = rt.settings.model_copy(update={"staff_login_failures_per_ip": 4})
    member = await join(rt, merchant.principal.business_id, "viewer")
    for _ in range(4):
        with pytest.raises(LoginFailed):
            await sessions.log_in(rt, new_email("guess"), "wrong password!",
                                  client_ip="192.0.2.99", user_agent="ua")
    with pytest.raises(TooManyLoginAttempts) as locked:
        await sessions.log_in(rt, member.email, member.password, client_ip="192.0.2.99",
                              user_agent="ua")
    assert locked.value.details["limited_by"] == "ip"
    started = await sessions.log_in(rt, member.email, member.password, **CLIENT)
    assert started.staff.id == member.row.id


async def _redis_url() -> str:
    client = Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        await client.ping()
    except Exception as error:
        problem = f"no Redis server at {REDIS_URL}: {error!r}"
        if IN_CI:
            pytest.fail(problem + " (CI=true: tests needing Redis must not be skipped)")
        pytest.skip(problem)
    finally:
        await client.aclose()
    return REDIS_URL


@pytest.fixture
async def two_processes(rt: Runtime) -> AsyncIterator[tuple[Runtime, Runtime]]:
    """Two runtimes on one database whose limiters share only Redis, as two server
    processes would."""
    url, tag = await _redis_url(), uuid.uuid4().hex
    other = staff_runtime(Runtime(settings=rt.settings, db=rt.db, clock=rt.clock))
    rt.limiter = RedisLimiter(url, prefix=f"orderline-test-{tag}")
    other.limiter = RedisLimiter(url, prefix=f"orderline-test-{tag}")
    yield rt, other
    await rt.limiter.close()
    await other.limiter.close()


async def test_a_lockout_in_redis_holds_across_processes(
        two_processes: tuple[Runtime, Runtime], owner: Member) -> None:
    first, second = two_processes
    for process in (first, second):
        process.settings = process.settings.model_copy(
            update={"staff_login_failures_per_email": 4})
    for n in range(4):
        with pytest.raises(LoginFailed):
            await sessions.log_in(first if n % 2 else second, owner.email, "wrong password!",
                                  client_ip=f"198.51.100.{n}", user_agent="ua")
    for process in (first, second):
        with pytest.raises(TooManyLoginAttempts):
            await sessions.log_in(process, owner.email, owner.password, **CLIENT)


async def test_an_idle_session_ends_and_using_it_slides_the_idle_timeout(
        rt: Runtime, clock: ManualClock, owner: Member) -> None:
    started, _ = await logged_in(rt, owner)
    idle = rt.settings.staff_session_idle_hours * 3600
    clock.advance(idle - 60)
    slid = await sessions.resume_session(rt, started.token)  # used: the idle timeout slides
    assert slid.last_seen_at == clock.now()
    clock.advance(idle - 60)
    assert (await sessions.resume_session(rt, started.token)).staff_id == owner.row.id
    clock.advance(idle)
    with pytest.raises(SessionExpired) as ended:
        await sessions.resume_session(rt, started.token)
    assert ended.value.details == {"reason": "idle"}


async def test_a_session_used_within_a_minute_is_not_written_again(
        rt: Runtime, clock: ManualClock, owner: Member) -> None:
    started, _ = await logged_in(rt, owner)
    clock.advance(30)
    assert (await sessions.resume_session(rt, started.token)).last_seen_at \
        == started.session.last_seen_at
    clock.advance(31)
    assert (await sessions.resume_session(rt, started.token)).last_seen_at == clock.now()


async def test_a_session_ends_at_its_absolute_lifetime_however_much_it_is_used(
        rt: Runtime, clock: ManualClock, owner: Member) -> None:
    started, _ = await logged_in(rt, owner)
    absolute = timedelta(days=rt.settings.staff_session_absolute_days)
    step = timedelta(hours=6)
    used = timedelta(0)
    while used + step < absolute:
        clock.advance(step.total_seconds())
        used += step
        await sessions.resume_session(rt, started.token)
    clock.advance((absolute - used).total_seconds())
    with pytest.raises(SessionExpired) as ended:
        await sessions.resume_session(rt, started.token)
    assert ended.value.details == {"reason": "absolute"}


async def test_log_out_ends_one_session_and_log_out_everywhere_ends_them_all(
        rt: Runtime, owner: Member) -> None:
    phone, _ = await logged_in(rt, owner)
    laptop, principal = await logged_in(rt, owner)
    tablet, _ = await logged_in(rt, owner)
    assert await sessions.log_out(rt, phone.token)
    assert not await sessions.log_out(rt, phone.token)
    with pytest.raises(SessionExpired):
        await sessions.resume_session(rt, phone.token)
    await sessions.resume_session(rt, tablet.token)
    assert await sessions.log_out_everywhere(rt, principal) == 2
    for started in (laptop, tablet):
        with pytest.raises(SessionExpired):
            await sessions.resume_session(rt, started.token)
    again, _ = await logged_in(rt, owner)  # logging in again works
    await sessions.resume_session(rt, again.token)


async def test_disabling_a_member_ends_their_sessions(rt: Runtime, merchant: Merchant) -> None:
    clerk = await join(rt, merchant.principal.business_id, "operations")
    started, _ = await logged_in(rt, clerk)
    await staff.disable(rt, merchant.principal, clerk.row.id)
    with pytest.raises(SessionExpired):
        await sessions.resume_session(rt, started.token)


async def test_a_second_factor_is_set_up_confirmed_required_and_never_replayed(
        rt: Runtime, clock: ManualClock, owner: Member) -> None:
    _, principal = await logged_in(rt, owner)
    setup = await second_factor.set_up_second_factor(rt, principal)
    assert setup.uri.startswith("otpauth://totp/") and setup.secret in setup.uri
    app = pyotp.TOTP(setup.secret)
    with pytest.raises(SecondFactorInvalid):
        await second_factor.confirm_second_factor(rt, principal, "000000"
                                                  if app.at(clock.now()) != "000000"
                                                  else "111111")
    on = await second_factor.confirm_second_factor(rt, principal, app.at(clock.now()))
    assert on.totp_enabled
    with pytest.raises(Conflict):
        await second_factor.set_up_second_factor(rt, principal)

    clock.advance(30)
    with pytest.raises(SecondFactorRequired):
        await sessions.log_in(rt, owner.email, owner.password, **CLIENT)
    with pytest.raises(LoginFailed):  # the same answer as a wrong password
        await sessions.log_in(rt, owner.email, owner.password, "123456"
                              if app.at(clock.now()) != "123456" else "654321", **CLIENT)
    with pytest.raises(LoginFailed):  # a wrong password with a right code
        await sessions.log_in(rt, owner.email, "not the password", app.at(clock.now()),
                              **CLIENT)
    code = app.at(clock.now())
    started = await sessions.log_in(rt, owner.email, owner.password, code, **CLIENT)
    assert started.staff.id == owner.row.id
    with pytest.raises(LoginFailed):  # the same code again, within its window
        await sessions.log_in(rt, owner.email, owner.password, code, **CLIENT)

    clock.advance(30)
    off = await second_factor.disable_second_factor(rt, principal, app.at(clock.now()))
    assert not off.totp_enabled and off.totp_secret_sealed is None
    assert (await sessions.log_in(rt, owner.email, owner.password, **CLIENT)).staff.id \
        == owner.row.id
    actions = [e.action for e in await read_audit_log(
        rt, principal, AuditFilter(entity_id=owner.row.id), limit=10, before=None)]
    assert actions[0] == "second_factor_disabled"
    assert sorted(actions) == ["created", "second_factor_disabled", "second_factor_enabled"]


async def test_the_second_factor_is_for_owners_and_admins_and_sealed_at_rest(
        rt: Runtime, merchant: Merchant, owner: Member) -> None:
    viewer = await join(rt, merchant.principal.business_id, "viewer")
    _, as_viewer = await logged_in(rt, viewer)
    with pytest.raises(RoleNotAllowed):
        await second_factor.set_up_second_factor(rt, as_viewer)
    _, as_owner = await logged_in(rt, owner)
    setup = await second_factor.set_up_second_factor(rt, as_owner)
    [row] = [m for m in await staff.list_staff(rt, merchant.principal) if m.id == owner.row.id]
    assert row.totp_secret_sealed is not None
    assert setup.secret.encode() not in row.totp_secret_sealed


async def test_what_a_staff_member_changes_is_recorded_as_theirs(
        rt: Runtime, merchant: Merchant, owner: Member) -> None:
    _, principal = await logged_in(rt, owner)
    await tenancy.update_settings(rt, principal, alert_email="ops@example.com")
    entries = await read_audit_log(rt, merchant.principal,
                                   AuditFilter(actor_staff_id=owner.row.id), limit=10,
                                   before=None)
    # Joining (accepting the invitation) is theirs too.
    assert sorted((e.entity_type, e.action) for e in entries) == [
        ("business", "updated"), ("staff_member", "created")]
    assert all(e.actor_staff_id == owner.row.id and e.actor_key_id is None for e in entries)
