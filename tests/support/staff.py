"""Staff for tests: a member made the way a person joins (an invitation, then its acceptance),
logged in, and the runtime pieces the staff tests share."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from orderline.core.runtime import Runtime
from orderline.staff import service as staff
from orderline.staff import sessions
from orderline.staff.second_factor import STAFF_KEYS
from orderline.staff.store import MemberRow
from orderline.tenancy.rules import Principal
from tests.support.manual import master_keys

PASSWORD = "correct horse battery"
CLIENT = {"client_ip": "203.0.113.7", "user_agent": "pytest phone"}


def staff_runtime(runtime: Runtime) -> Runtime:
    """The runtime with fixed master keys for the sealed TOTP secrets."""
    runtime.put(STAFF_KEYS, master_keys("staff1"))
    return runtime


def new_email(who: str = "member") -> str:
    """A unique email: the databases are shared by the whole run, and a login without a
    business looks at every business's accounts."""
    return f"{who}-{uuid.uuid4().hex[:12]}@example.com"


@dataclass(frozen=True)
class Member:
    row: MemberRow
    email: str
    password: str


async def join(runtime: Runtime, business_id: uuid.UUID, role: str = "owner", *,
               email: str | None = None, password: str = PASSWORD,
               name: str = "Ada Staff") -> Member:
    """A member of ``business_id`` invited by the operator who accepted the invitation."""
    address = email or new_email(role)
    issued = await staff.invite(runtime, None, email=address, role=role,
                                business_id=business_id)
    row = await staff.accept_invitation(runtime, issued.token, name, password)
    return Member(row=row, email=address, password=password)


async def logged_in(runtime: Runtime, member: Member,
                    totp_code: str | None = None) -> tuple[sessions.SessionStarted, Principal]:
    started = await sessions.log_in(runtime, member.email, member.password, totp_code,
                                    **CLIENT)
    return started, sessions.principal_for(started.session)
