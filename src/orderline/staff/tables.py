"""The staff tables: members, their invitations and their console sessions.

Tokens (invitation links, session cookies) are stored only as SHA-256 hashes; a password only
as its argon2id hash; the TOTP secret sealed with the master keys (see ``service``).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    UniqueConstraint,
    Uuid,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from orderline.core.db.tables import Base, business_fk
from orderline.core.db.types import UTCDateTime


class StaffMember(Base):
    """A person of the business's console. One email is one account per business."""

    __tablename__ = "staff_members"
    __table_args__ = (UniqueConstraint("business_id", "email"),
                      Index("ix_staff_members_email", "email"))
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    business_id: Mapped[uuid.UUID] = business_fk()
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))  # active | disabled
    password_hash: Mapped[str] = mapped_column(String(200))
    # The authenticator app's secret, sealed (AES-GCM under the master keys, bound to the id);
    # set on set-up, in use once ``totp_enabled``.
    totp_secret_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    totp_enabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The last 30-second step whose code was accepted: an older or equal one is a replay.
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class StaffInvitation(Base):
    """A link to join the business with a role: single-use, until ``expires_at``."""

    __tablename__ = "staff_invitations"
    __table_args__ = (Index("ix_staff_invitations_business_created", "business_id",
                            "created_at"),)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    business_id: Mapped[uuid.UUID] = business_fk()
    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by: Mapped[str] = mapped_column(String(100))  # the actor: api_key:..., staff:...
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    staff_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)  # once accepted


class StaffSession(Base):
    """One login of a staff member: a new row (and token) at every login."""

    __tablename__ = "staff_sessions"
    __table_args__ = (Index("ix_staff_sessions_staff_id", "staff_id"),)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    business_id: Mapped[uuid.UUID] = business_fk()
    staff_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("staff_members.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    user_agent: Mapped[str] = mapped_column(String(400))
    client_ip: Mapped[str] = mapped_column(String(64))
