"""Tables of the loan domain: parties, products, applications, authorizations, SLA breaches."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from engine.workflow.db_types import Money, Rate
from engine.workflow.encryption import HASH_LENGTH, Encrypted, keep_lookup_hash
from engine.workflow.models import append_only
from engine.workflow.models.base import Base, pk, table_of


class Institution(Base):
    """A bank, guarantor or lender connected to the platform."""

    __tablename__ = "institution"

    id: Mapped[int] = pk()
    code: Mapped[str] = mapped_column(sa.String(50), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    # active | warned | suspended | exited (the supervision ladder)
    status: Mapped[str] = mapped_column(sa.String(20), default="active")


class Enterprise(Base):
    """A small or micro enterprise applying for loans."""

    __tablename__ = "enterprise"

    id: Mapped[int] = pk()
    name: Mapped[str] = mapped_column(sa.String(200))
    credit_code: Mapped[str] = mapped_column(sa.String(18), unique=True)  # 统一社会信用代码
    # Personal data (个人信息保护法): shown masked unless the viewer needs it (see engine/platform/privacy.py).
    # Stored encrypted (engine/platform/personal_data.py); the numbers with a keyed hash for the admins' search.
    legal_representative: Mapped[str | None] = mapped_column(
        Encrypted(100, "enterprise.legal_representative"))  # 法定代表人
    representative_id_number: Mapped[str | None] = mapped_column(
        Encrypted(18, "enterprise.representative_id_number"))  # 居民身份证号码
    contact_phone: Mapped[str | None] = mapped_column(Encrypted(20, "enterprise.contact_phone"))
    representative_id_number_hash: Mapped[str | None] = mapped_column(sa.String(HASH_LENGTH), index=True)
    contact_phone_hash: Mapped[str | None] = mapped_column(sa.String(HASH_LENGTH), index=True)
    # Who the applicant is, for the plan's breakdowns (None where an older record never said):
    # enterprise | individual_business (个体工商户) | farmer_cooperative (农民专业合作社)
    applicant_kind: Mapped[str] = mapped_column(sa.String(30), default="enterprise", server_default="enterprise")
    region_code: Mapped[str | None] = mapped_column(sa.String(6))  # 行政区划代码 (GB/T 2260), six digits
    industry_section: Mapped[str | None] = mapped_column(sa.String(1))  # GB/T 4754 门类, A..T
    size_class: Mapped[str | None] = mapped_column(sa.String(10))  # micro | small | medium | large


keep_lookup_hash(Enterprise.representative_id_number, "representative_id_number_hash", "id_number")
keep_lookup_hash(Enterprise.contact_phone, "contact_phone_hash", "phone")


class LoanProduct(Base):
    """A loan product an institution offers on the platform."""

    __tablename__ = "loan_product"

    id: Mapped[int] = pk()
    institution_id: Mapped[int] = mapped_column(sa.ForeignKey("institution.id"), index=True)
    code: Mapped[str] = mapped_column(sa.String(50))
    name: Mapped[str] = mapped_column(sa.String(200))
    active: Mapped[bool] = mapped_column(default=True)


class LoanApplication(Base):
    """An enterprise's application and what the institution reported at each step."""

    __tablename__ = "loan_application"
    __table_args__ = (
        sa.Index("ix_application_institution_status", "institution_id", "status"),
        # The supervisors' board: one covering-index pass for every institution's figures, and the
        # weekly counts of steps taken (engine/loans/metrics.py; see BENCHMARKS.md).
        sa.Index("ix_application_figures", "institution_id", "decision_working_days", "status", "accepted_at",
                 "decided_at", "approved_amount", "disbursed_amount"),
        sa.Index("ix_application_accepted_at", "accepted_at"),
        sa.Index("ix_application_decided_at", "decided_at"),
        # The lists' keyset pages, newest first (engine/loans/listing.py).
        sa.Index("ix_application_submitted", "submitted_at", "id"),
        sa.Index("ix_application_institution_submitted", "institution_id", "submitted_at", "id"),
        sa.Index("ix_application_institution_amount", "institution_id", "amount", "id"),
        sa.Index("ix_application_status_submitted", "status", "submitted_at", "id"),
    )

    id: Mapped[int] = pk()
    reference: Mapped[str] = mapped_column(sa.String(32), unique=True)
    enterprise_id: Mapped[int] = mapped_column(sa.ForeignKey("enterprise.id"), index=True)
    institution_id: Mapped[int] = mapped_column(sa.ForeignKey("institution.id"))
    product_id: Mapped[int] = mapped_column(sa.ForeignKey("loan_product.id"))
    instance_id: Mapped[int | None] = mapped_column(sa.ForeignKey("process_instance.id"), index=True)
    status: Mapped[str] = mapped_column(sa.String(20), index=True)
    amount: Mapped[Decimal] = mapped_column(Money())
    term_months: Mapped[int]
    purpose: Mapped[str] = mapped_column(sa.String(500))
    submitted_at: Mapped[datetime]
    submitted_by: Mapped[str] = mapped_column(sa.String(100))
    accept_due: Mapped[datetime | None]
    accept_due_provisional: Mapped[bool] = mapped_column(default=False)
    accepted_at: Mapped[datetime | None]
    accepted_by: Mapped[str | None] = mapped_column(sa.String(100))
    accept_note: Mapped[str | None] = mapped_column(sa.String(500))
    decision_due: Mapped[datetime | None]
    decision_due_provisional: Mapped[bool] = mapped_column(default=False)
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(sa.String(100))
    # Working days from the submission to the decision (the supervisors' median), set on decision.
    decision_working_days: Mapped[int | None]
    approved_amount: Mapped[Decimal | None] = mapped_column(Money())
    annual_rate: Mapped[Decimal | None] = mapped_column(Rate())
    approved_term_months: Mapped[int | None]
    approval_conditions: Mapped[str | None] = mapped_column(sa.String(1000))
    rejection_reason: Mapped[str | None] = mapped_column(sa.String(1000))
    contract_number: Mapped[str | None] = mapped_column(sa.String(64))
    # What the institution reported about the loan, for the plan's counts (首贷, 信用贷, 中长期):
    loan_type: Mapped[str | None] = mapped_column(sa.String(20))  # credit | guaranteed | mortgage | pledge
    first_loan: Mapped[bool | None]  # the enterprise's first loan from any bank (首贷)
    term_class: Mapped[str | None] = mapped_column(sa.String(20))  # short | medium_long (over one year)
    disbursed_amount: Mapped[Decimal | None] = mapped_column(Money())
    disbursed_on: Mapped[date | None]
    disbursement_account: Mapped[str | None] = mapped_column(sa.String(64))
    disbursed_at: Mapped[datetime | None]
    settled_on: Mapped[date | None]
    settled_at: Mapped[datetime | None]
    withdrawn_at: Mapped[datetime | None]
    withdrawal_reason: Mapped[str | None] = mapped_column(sa.String(500))
    updated_at: Mapped[datetime]


class CreditAuthorization(Base):
    """The enterprise's explicit consent to query its credit information (征信业管理条例 art. 18)."""

    __tablename__ = "credit_authorization"

    id: Mapped[int] = pk()
    application_id: Mapped[int] = mapped_column(sa.ForeignKey("loan_application.id"), unique=True)
    enterprise_id: Mapped[int] = mapped_column(sa.ForeignKey("enterprise.id"))
    institution_id: Mapped[int] = mapped_column(sa.ForeignKey("institution.id"))
    scope: Mapped[str] = mapped_column(sa.String(200))
    granted_by: Mapped[str] = mapped_column(sa.String(100))
    granted_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    # What the query serves: this financing application and nothing else (征信业管理条例 art. 20).
    purpose: Mapped[str] = mapped_column(sa.String(40), default="financing_application",
                                         server_default="financing_application")
    # The risk notice (风险提示) the applicant read and ticked; None where it was granted otherwise (the API).
    risk_notice_version: Mapped[str | None] = mapped_column(sa.String(20))
    # Revoked by the enterprise (engine/platform/authorizations.py); never granted again.
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(sa.String(100))


class DisclosureRecord(Base):
    """Each disclosure of an enterprise's data to an institution, or its refusal, with its purpose
    (来源可溯、去向可查; engine/platform/privacy.py). The audit event of the same read or reveal is the
    timeline's line; this row says for what and under which authorization."""

    __tablename__ = "disclosure_record"
    __table_args__ = (sa.Index("ix_disclosure_record_application_at", "application_id", "at"),)

    id: Mapped[int] = pk()
    at: Mapped[datetime]
    application_id: Mapped[int] = mapped_column(sa.ForeignKey("loan_application.id"))
    institution_id: Mapped[int] = mapped_column(sa.ForeignKey("institution.id"))
    authorization_id: Mapped[int | None] = mapped_column(sa.ForeignKey("credit_authorization.id"))
    actor: Mapped[str] = mapped_column(sa.String(100))
    action: Mapped[str] = mapped_column(sa.String(20))  # read | reveal | refused_read | refused_reveal
    via: Mapped[str] = mapped_column(sa.String(10))  # page | api
    # handling_application | case_record; for a refusal: why (revoked, expired, withdrawn, settled…)
    purpose: Mapped[str] = mapped_column(sa.String(40))


append_only.install(table_of(DisclosureRecord))  # never changed or deleted (migration 0023)


class SlaBreach(Base):
    """A missed deadline, held against the institution; resolved when the bank finally acts."""

    __tablename__ = "sla_breach"
    __table_args__ = (
        sa.UniqueConstraint("application_id", "kind", name="uq_sla_breach_application_kind"),
        sa.Index("ix_sla_breach_institution_breached", "institution_id", "breached_at"),
    )

    id: Mapped[int] = pk()
    institution_id: Mapped[int] = mapped_column(sa.ForeignKey("institution.id"))
    application_id: Mapped[int] = mapped_column(sa.ForeignKey("loan_application.id"))
    kind: Mapped[str] = mapped_column(sa.String(40))  # the commitment: accept | decision | disbursement …
    due_at: Mapped[datetime]
    breached_at: Mapped[datetime]
    provisional: Mapped[bool] = mapped_column(default=False)
    resolved_at: Mapped[datetime | None]
    # How late the bank acted: wall-clock seconds and working days after the deadline.
    late_seconds: Mapped[int | None]
    late_working_days: Mapped[int | None]
    # acted (the bank finally took the step) | withdrawn (the enterprise withdrew first)
    resolution: Mapped[str | None] = mapped_column(sa.String(20))
