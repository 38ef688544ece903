"""Tables of self-registration: registrations waiting for their contact's code, accepted credit
commitments (信用承诺) and identity checks (电子营业执照 / face check, or manual review)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from engine.workflow.encryption import HASH_LENGTH, Encrypted, keep_lookup_hash
from engine.workflow.models.base import Base, pk


class PendingRegistration(Base):
    """A registration form sent but not yet confirmed with the code sent to its contact.

    The browser holds a random secret (`secret_hash` is its SHA-256); the password is kept hashed
    and the code as an HMAC only. Rows are purged a day after they were started (housekeeping);
    `source` and `address_hash` count attempts for throttling.
    """

    __tablename__ = "pending_registration"
    __table_args__ = (sa.Index("ix_pending_registration_source_created", "source", "created_at"),
                      sa.Index("ix_pending_registration_address_hash_created", "address_hash", "created_at"))

    id: Mapped[int] = pk()
    secret_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    status: Mapped[str] = mapped_column(sa.String(20))  # pending | locked | completed
    applicant_kind: Mapped[str] = mapped_column(sa.String(30))
    credit_code: Mapped[str] = mapped_column(sa.String(18))
    name: Mapped[str] = mapped_column(sa.String(200))
    legal_representative: Mapped[str] = mapped_column(Encrypted(100, "pending_registration.legal_representative"))
    region_code: Mapped[str] = mapped_column(sa.String(6))
    industry_section: Mapped[str] = mapped_column(sa.String(1))
    size_class: Mapped[str] = mapped_column(sa.String(10))
    username: Mapped[str] = mapped_column(sa.String(100))
    display_name: Mapped[str] = mapped_column(sa.String(200))
    channel: Mapped[str] = mapped_column(sa.String(10))  # email | sms
    # The e-mail address or phone number verified: encrypted; counted for throttling by its keyed hash.
    address: Mapped[str] = mapped_column(Encrypted(254, "pending_registration.address"))
    address_hash: Mapped[str] = mapped_column(sa.String(HASH_LENGTH))
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    commitment_version: Mapped[str] = mapped_column(sa.String(40))
    commitment_language: Mapped[str] = mapped_column(sa.String(5))
    commitment_sha256: Mapped[str] = mapped_column(sa.String(64))
    code_hash: Mapped[str] = mapped_column(sa.String(64))
    code_expires_at: Mapped[datetime]
    code_sent_at: Mapped[datetime]
    codes_sent: Mapped[int] = mapped_column(default=1)
    wrong_codes: Mapped[int] = mapped_column(default=0)
    source: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]


keep_lookup_hash(PendingRegistration.address, "address_hash", "contact")


class CreditCommitment(Base):
    """A 信用承诺 accepted: which text (version, language, SHA-256 of what was shown), by whom, when."""

    __tablename__ = "credit_commitment"

    id: Mapped[int] = pk()
    enterprise_id: Mapped[int] = mapped_column(sa.ForeignKey("enterprise.id"), index=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    accepted_by: Mapped[str] = mapped_column(sa.String(100))  # the username
    accepted_at: Mapped[datetime]
    version: Mapped[str] = mapped_column(sa.String(40))
    language: Mapped[str] = mapped_column(sa.String(5))
    text_sha256: Mapped[str] = mapped_column(sa.String(64))


class IdentityCheck(Base):
    """The real-name check of an enterprise: which verifier, its answer, and a manual review's outcome.

    `method` names the verifier (manual_review, test_double, or a provider's name); a test double's
    answers are marked as such here and never count as a real check.
    """

    __tablename__ = "identity_check"

    id: Mapped[int] = pk()
    enterprise_id: Mapped[int] = mapped_column(sa.ForeignKey("enterprise.id"), index=True)
    method: Mapped[str] = mapped_column(sa.String(40))
    status: Mapped[str] = mapped_column(sa.String(20))  # pending | verified | refused
    reference: Mapped[str | None] = mapped_column(sa.String(100))  # the provider's reference
    requested_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(sa.String(100))
