"""System administration: user accounts, institutions and their loan products.

Each function works in the caller's transaction (a Session), validates its input with a marshmallow
schema first, raises ValidationFailed / NotFound with messages meant for people, and appends an audit
event with the acting admin's username. Passwords are hashed by engine.platform.access and never written to
the audit trail or a log.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from marshmallow import Schema, ValidationError, fields, pre_load, validate, validates_schema
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.loans.actors import ENTERPRISE, INSTITUTION_ADMIN, OFFICER
from engine.loans.commands import load, no_nul
from engine.models import ApiCredential, Enterprise, Institution, LoanProduct, UserAccount
from engine.platform.access import ROLES, create_user, hash_password
from engine.workflow.database import rows_matched
from engine.workflow.errors import NotFound, ValidationFailed
from engine.workflow.journal import record_audit

# The same rule as engine.platform.access.create_user's (it refuses shorter passwords too).
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 200
USERNAME = re.compile(r"\A[A-Za-z0-9._@-]{3,100}\Z")
CODE = re.compile(r"\A[A-Za-z0-9_-]{1,50}\Z")
INSTITUTION_STAFF = (OFFICER, INSTITUTION_ADMIN)
MAX_LISTED_USERS = 500
MAX_ID = 2**31 - 1  # an integer column's range on PostgreSQL
# The rows the admin pages change under a row lock.
_Lockable = TypeVar("_Lockable", UserAccount, Institution, LoanProduct)

# Messages of this module (English; the web layer translates them).
USERNAME_RULE = "3 to 100 letters, digits, dots, hyphens, underscores or @."
CODE_RULE = "1 to 50 letters, digits, hyphens or underscores."
NAME_RULE = "Between 1 and 200 characters."
DISPLAY_NAME_RULE = "At most 200 characters."
PASSWORD_RULE = "At least 10 characters."
PASSWORD_TOO_LONG = "At most 200 characters."
PASSWORDS_DIFFER = "The two passwords are not the same."
ROLE_RULE = "Choose a role."
INSTITUTION_NEEDED = "Officers and institution admins belong to an institution."
INSTITUTION_FORBIDDEN = "Only officers and institution admins belong to an institution."
ENTERPRISE_NEEDED = "Enterprise users belong to an enterprise."
ENTERPRISE_FORBIDDEN = "Only enterprise users belong to an enterprise."
NO_INSTITUTION = "No such institution."
NO_ENTERPRISE = "No enterprise has this unified social credit code."
USERNAME_TAKEN = "This username is taken."
CODE_TAKEN = "An institution with this code exists already."
PRODUCT_CODE_TAKEN = "This institution has a product with this code already."
NOT_YOURSELF = "You cannot deactivate your own account."


def _matches(pattern: re.Pattern[str], message: str) -> validate.Validator:
    return validate.Regexp(pattern, error=message)


def _strip(data: Any, names: tuple[str, ...], optional: tuple[str, ...] = ()) -> Any:
    """Trim text fields; an empty optional field counts as not given."""
    if not isinstance(data, dict):
        return data
    data = dict(data)
    for name in names + optional:
        if isinstance(data.get(name), str):
            data[name] = data[name].strip()
    for name in optional:
        if data.get(name) == "":
            data[name] = None
    return data


class _PasswordTwice(Schema):
    password = fields.String(required=True, validate=[
        validate.Length(min=MIN_PASSWORD_LENGTH, error=PASSWORD_RULE),
        validate.Length(max=MAX_PASSWORD_LENGTH, error=PASSWORD_TOO_LONG), no_nul])
    password_again = fields.String(required=True, validate=no_nul)

    @validates_schema
    def _same(self, data: dict[str, Any], **_: Any) -> None:
        if "password" in data and "password_again" in data and data["password"] != data["password_again"]:
            raise ValidationError(PASSWORDS_DIFFER, "password_again")


class NewUserSchema(_PasswordTwice):
    username = fields.String(required=True, validate=[_matches(USERNAME, USERNAME_RULE), no_nul])
    display_name = fields.String(load_default=None, allow_none=True,
                                 validate=[validate.Length(max=200, error=DISPLAY_NAME_RULE), no_nul])
    role = fields.String(required=True, validate=validate.OneOf(ROLES, error=ROLE_RULE))
    institution_id = fields.Integer(load_default=None, allow_none=True,
                                    validate=validate.Range(min=1, max=MAX_ID, error=NO_INSTITUTION))
    # An enterprise is named by its unified social credit code (统一社会信用代码).
    enterprise = fields.String(load_default=None, allow_none=True,
                               validate=[validate.Length(max=18, error=NO_ENTERPRISE), no_nul])

    @pre_load
    def _trim(self, data: Any, **_: Any) -> Any:
        return _strip(data, ("username",), ("display_name", "institution_id", "enterprise"))

    @validates_schema
    def _party_fits_role(self, data: dict[str, Any], **_: Any) -> None:
        role = data.get("role")
        if role is None:
            return
        errors: dict[str, list[str]] = {}
        if role in INSTITUTION_STAFF and data.get("institution_id") is None:
            errors["institution_id"] = [INSTITUTION_NEEDED]
        if role not in INSTITUTION_STAFF and data.get("institution_id") is not None:
            errors["institution_id"] = [INSTITUTION_FORBIDDEN]
        if role == ENTERPRISE and not data.get("enterprise"):
            errors["enterprise"] = [ENTERPRISE_NEEDED]
        if role != ENTERPRISE and data.get("enterprise"):
            errors["enterprise"] = [ENTERPRISE_FORBIDDEN]
        if errors:
            raise ValidationError(errors)


class PasswordResetSchema(_PasswordTwice):
    pass


class NewInstitutionSchema(Schema):
    code = fields.String(required=True, validate=[_matches(CODE, CODE_RULE), no_nul])
    name = fields.String(required=True, validate=[validate.Length(min=1, max=200, error=NAME_RULE), no_nul])

    @pre_load
    def _trim(self, data: Any, **_: Any) -> Any:
        return _strip(data, ("code", "name"))


class NewProductSchema(NewInstitutionSchema):
    pass


class UserFilterSchema(Schema):
    role = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(ROLES, error=ROLE_RULE))
    text = fields.String(load_default=None, allow_none=True,
                         validate=[validate.Length(max=100), no_nul])

    @pre_load
    def _trim(self, data: Any, **_: Any) -> Any:
        return _strip(data, (), ("role", "text"))


# --- reading -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class UserRow:
    user: UserAccount
    institution_name: str | None
    enterprise_name: str | None


@dataclass(frozen=True)
class InstitutionRow:
    institution: Institution
    products: int
    users: int


def _users_query(wanted: dict[str, Any]) -> sa.Select:
    query = (sa.select(UserAccount, Institution.name, Enterprise.name)
             .outerjoin(Institution, Institution.id == UserAccount.institution_id)
             .outerjoin(Enterprise, Enterprise.id == UserAccount.enterprise_id))
    if wanted["role"]:
        query = query.where(UserAccount.role == wanted["role"])
    if wanted["text"]:
        query = query.where(sa.func.lower(UserAccount.username).contains(wanted["text"].lower(), autoescape=True))
    return query


def list_users(session: Session, filters: dict[str, Any] | None = None,
               limit: int = MAX_LISTED_USERS, offset: int = 0) -> list[UserRow]:
    """Accounts by username, optionally of one role and with `text` in the username (any case)."""
    wanted = load(UserFilterSchema, {k: v for k, v in (filters or {}).items() if k in ("role", "text")})
    query = _users_query(wanted).order_by(UserAccount.username).offset(offset).limit(limit)
    return [UserRow(user, institution, enterprise) for user, institution, enterprise in session.execute(query)]


def count_users(session: Session, filters: dict[str, Any] | None = None) -> int:
    """How many accounts `list_users` would list without a limit."""
    wanted = load(UserFilterSchema, {k: v for k, v in (filters or {}).items() if k in ("role", "text")})
    query = _users_query(wanted).with_only_columns(UserAccount.id).subquery()
    return int(session.scalar(sa.select(sa.func.count()).select_from(query)) or 0)


def get_user(session: Session, user_id: int) -> UserAccount:
    user = session.get(UserAccount, user_id)
    if user is None:
        raise NotFound(f"User {user_id} doesn't exist.")
    return user


def list_institutions(session: Session, limit: int | None = None, offset: int = 0) -> list[InstitutionRow]:
    """Institutions by code, with how many loan products and user accounts each has."""
    products = (sa.select(sa.func.count()).where(LoanProduct.institution_id == Institution.id)
                .correlate(Institution).scalar_subquery())
    users = (sa.select(sa.func.count()).where(UserAccount.institution_id == Institution.id)
             .correlate(Institution).scalar_subquery())
    rows = session.execute(sa.select(Institution, products, users).order_by(Institution.code)
                           .offset(offset).limit(limit))
    return [InstitutionRow(institution, n_products, n_users) for institution, n_products, n_users in rows]


def count_institutions(session: Session) -> int:
    return int(session.scalar(sa.select(sa.func.count()).select_from(Institution)) or 0)


def get_institution(session: Session, institution_id: int) -> Institution:
    institution = session.get(Institution, institution_id)
    if institution is None:
        raise NotFound(f"Institution {institution_id} doesn't exist.")
    return institution


def products_of(session: Session, institution_id: int) -> list[LoanProduct]:
    return list(session.scalars(sa.select(LoanProduct).where(LoanProduct.institution_id == institution_id)
                                .order_by(LoanProduct.code)))


# --- changing ----------------------------------------------------------------------------------


def create_account(session: Session, now: datetime, actor: str, data: dict[str, Any]) -> UserAccount:
    """Create a user account of any role; officers and institution admins need an institution,
    enterprise users an enterprise (by its credit code)."""
    command = load(NewUserSchema, data)
    errors: dict[str, list[str]] = {}
    institution_id = command["institution_id"]
    if institution_id is not None and session.get(Institution, institution_id) is None:
        errors["institution_id"] = [NO_INSTITUTION]
    enterprise_id = None
    if command["enterprise"]:
        enterprise_id = session.scalar(sa.select(Enterprise.id).where(Enterprise.credit_code == command["enterprise"]))
        if enterprise_id is None:
            errors["enterprise"] = [NO_ENTERPRISE]
    if _username_taken(session, command["username"]):
        errors["username"] = [USERNAME_TAKEN]
    if errors:
        raise ValidationFailed(errors)
    try:
        with session.begin_nested():  # a concurrent twin loses on the unique username, not with a 500
            user = create_user(session, now, command["username"], command["password"], command["role"],
                               institution_id=institution_id, enterprise_id=enterprise_id,
                               display_name=command["display_name"] or "")
    except IntegrityError:
        raise ValidationFailed({"username": [USERNAME_TAKEN]}) from None
    record_audit(session, now, actor, "user_created", status_after="active", detail={
        "user_id": user.id, "username": user.username, "role": user.role,
        "institution_id": institution_id, "enterprise_id": enterprise_id})
    return user


def set_user_active(session: Session, now: datetime, actor: str, user_id: int, active: bool) -> bool:
    """Deactivate (no sign-in, API tokens revoked) or reactivate an account; False if it already was so."""
    user = _locked(session, UserAccount, user_id, f"User {user_id} doesn't exist.")
    if not active and user.username == actor:
        raise ValidationFailed({"user": [NOT_YOURSELF]})
    if user.active == active:
        return False
    user.active = active
    detail: dict[str, Any] = {"user_id": user.id, "username": user.username}
    if not active:
        detail["tokens_revoked"] = _revoke_tokens(session, now, user.id)
    session.flush()
    record_audit(session, now, actor, "user_reactivated" if active else "user_deactivated",
                 status_before="inactive" if active else "active", status_after="active" if active else "inactive",
                 detail=detail)
    return True


def reset_password(session: Session, now: datetime, actor: str, user_id: int, data: dict[str, Any]) -> UserAccount:
    """Give an account a new password; its API tokens are revoked (they were issued to the old one)."""
    command = load(PasswordResetSchema, data)
    user = _locked(session, UserAccount, user_id, f"User {user_id} doesn't exist.")
    user.password_hash = hash_password(command["password"])
    revoked = _revoke_tokens(session, now, user.id)
    session.flush()
    record_audit(session, now, actor, "password_reset",
                 detail={"user_id": user.id, "username": user.username, "tokens_revoked": revoked})
    return user


def create_institution(session: Session, now: datetime, actor: str, data: dict[str, Any]) -> Institution:
    """Connect a new institution to the platform (status active; the supervisors change it)."""
    command = load(NewInstitutionSchema, data)
    if session.scalar(sa.select(Institution.id).where(sa.func.lower(Institution.code) == command["code"].lower())):
        raise ValidationFailed({"code": [CODE_TAKEN]})
    institution = Institution(code=command["code"], name=command["name"], status="active")
    try:
        with session.begin_nested():
            session.add(institution)
            session.flush()
    except IntegrityError:
        raise ValidationFailed({"code": [CODE_TAKEN]}) from None
    record_audit(session, now, actor, "institution_created", status_after="active", detail={
        "institution_id": institution.id, "code": institution.code, "name": institution.name})
    return institution


def add_product(session: Session, now: datetime, actor: str, institution_id: int,
                data: dict[str, Any]) -> LoanProduct:
    """Add a loan product to an institution; its code is unique within the institution."""
    command = load(NewProductSchema, data)
    # Locking the institution serializes concurrent additions, since no constraint guards the code.
    _locked(session, Institution, institution_id, f"Institution {institution_id} doesn't exist.")
    taken = session.scalar(sa.select(LoanProduct.id).where(
        LoanProduct.institution_id == institution_id, sa.func.lower(LoanProduct.code) == command["code"].lower()))
    if taken is not None:
        raise ValidationFailed({"code": [PRODUCT_CODE_TAKEN]})
    product = LoanProduct(institution_id=institution_id, code=command["code"], name=command["name"], active=True)
    session.add(product)
    session.flush()
    record_audit(session, now, actor, "product_created", status_after="active", detail={
        "institution_id": institution_id, "product_id": product.id, "code": product.code, "name": product.name})
    return product


def set_product_active(session: Session, now: datetime, actor: str, institution_id: int, product_id: int,
                       active: bool) -> bool:
    """Offer a product again or stop offering it (running applications are not touched); False if unchanged."""
    product = _locked(session, LoanProduct, product_id, f"Product {product_id} doesn't exist.")
    if product.institution_id != institution_id:
        raise NotFound(f"Product {product_id} doesn't exist.")
    if product.active == active:
        return False
    product.active = active
    session.flush()
    record_audit(session, now, actor, "product_activated" if active else "product_deactivated",
                 status_before="inactive" if active else "active", status_after="active" if active else "inactive",
                 detail={"institution_id": institution_id, "product_id": product.id, "code": product.code})
    return True


def _username_taken(session: Session, username: str) -> bool:
    """Taken in any case: `Officer-A` and `officer-a` would be two people nobody can tell apart."""
    return session.scalar(sa.select(UserAccount.id).where(
        sa.func.lower(UserAccount.username) == username.lower())) is not None


def _locked(session: Session, model: type[_Lockable], row_id: int, missing: str) -> _Lockable:
    row = session.scalars(sa.select(model).where(model.id == row_id).with_for_update()).first()
    if row is None:
        raise NotFound(missing)
    return row


def _revoke_tokens(session: Session, now: datetime, user_id: int) -> int:
    return rows_matched(session.execute(
        sa.update(ApiCredential).where(ApiCredential.user_id == user_id, ApiCredential.kind == "user_token",
                                       ApiCredential.revoked_at.is_(None))
        .values(revoked_at=now)
    ))
