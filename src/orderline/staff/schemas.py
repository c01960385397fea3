"""What /v1/staff takes and answers. Never a password hash, a token's hash nor a secret."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from orderline.core.schemas import Body
from orderline.staff.rules import Role


class InvitationCreate(Body):
    email: Annotated[str, Field(min_length=3, max_length=320)]
    role: Role


class RoleChange(Body):
    role: Role


class StaffOut(BaseModel):
    """A staff member: who, their role, whether they may log in (``status`` active or
    disabled) and whether they use a second factor."""

    id: uuid.UUID
    email: str
    name: str
    role: str
    status: str
    second_factor: bool
    created_at: datetime
    updated_at: datetime
    last_login_at: datetime | None


class StaffList(BaseModel):
    data: list[StaffOut]


class InvitationOut(BaseModel):
    id: uuid.UUID
    email: str
    role: str
    invited_by: str
    created_at: datetime
    expires_at: datetime
    accepted_at: datetime | None
    revoked_at: datetime | None
    staff_id: uuid.UUID | None


class InvitationList(BaseModel):
    data: list[InvitationOut]


class IssuedInvitationOut(InvitationOut):
    """The invitation with its link: in this answer only (the link's token is stored hashed
    and cannot be shown again; resend the invitation for a new one)."""

    link: str
