"""The ten tables of the spec (section 2), as SQLAlchemy 2 models.

Beyond the spec, as DESIGN.md requires (and said in the first migration):
- ``adherents.national_id_hash``: HMAC-SHA256 of the normalised national ID
  (indexed, unique) for lookups, since ciphertext cannot be searched;
- ``claims.type`` also admits ``lab`` (labs are a provider type and a role);
- ``claims.care_date``: the date of care, at which eligibility is judged;
- ``audit_logs.insurer_id`` / ``provider_id``: the organisation of the actor;
- ``contracts.contract_number`` is indexed (counter lookup).

Money columns are integer millimes.  Dates are ``DATE``; timestamps are UTC.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from dhamen.access.roles import INSURER_ROLES, PROVIDER_ROLES, ROLES
from dhamen.core import crypto
from dhamen.core.sqltypes import EncryptedText, JSONType, UTCDateTime, new_id, utcnow
from dhamen.domain import reference as claim_reference
from dhamen.domain.catalogue import CARE_TYPES, PROVIDER_CARE_TYPE
from dhamen.domain.eligibility import CONTRACT_STATUSES
from dhamen.domain.transitions import CLAIM_STATUSES, RECONCILIATION_STATUSES
from dhamen.extensions import db


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _id() -> Mapped[str]:
    return mapped_column(String(26), primary_key=True, default=new_id)


def _created() -> Mapped[datetime]:
    return mapped_column(UTCDateTime(), nullable=False, default=utcnow)


def _updated() -> Mapped[datetime]:
    return mapped_column(UTCDateTime(), nullable=False, default=utcnow, onupdate=utcnow)


class SoftDeleteMixin:
    """Soft delete, written once: ``X.is_live`` is a Python test on a row and a SQL condition
    on the class (``select(X).where(X.is_live)``)."""

    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @hybrid_property
    def is_live(self) -> bool:
        return self.deleted_at is None

    @is_live.inplace.expression
    @classmethod
    def _is_live_expression(cls):
        return cls.deleted_at.is_(None)

    @classmethod
    def get_live(cls, ident: str | None):
        """The row of this primary key unless it is missing or soft-deleted (``None`` then); an
        empty id or one longer than a ULID is not looked up."""
        if not ident or len(ident) > 26:
            return None
        row = db.session.get(cls, ident)
        return row if row is not None and row.is_live else None


class Insurer(SoftDeleteMixin, db.Model):
    __tablename__ = "insurers"

    id: Mapped[str] = _id()
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    code: Mapped[str] = mapped_column(String(20), nullable=False, unique=True)
    tax_id: Mapped[str | None] = mapped_column(String(50))
    address: Mapped[str | None] = mapped_column(String(300))
    phone: Mapped[str | None] = mapped_column(String(30))
    email: Mapped[str | None] = mapped_column(String(254))
    config_json: Mapped[dict] = mapped_column(JSONType, nullable=False, default=dict, server_default="{}")
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True, server_default="1")
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()

    def __repr__(self) -> str:
        return f"<Insurer {self.code}>"


class Adherent(SoftDeleteMixin, db.Model):
    __tablename__ = "adherents"
    __table_args__ = (
        CheckConstraint("gender IN ('M', 'F')", name="gender"),
        Index("idx_adherents_national_id", "national_id_hash", unique=True),
        Index("idx_adherents_name", "last_name", "first_name"),
    )

    id: Mapped[str] = _id()
    # Python attribute ``national_id`` reads/writes plaintext; the column holds ciphertext.
    national_id: Mapped[str] = mapped_column(
        "national_id_encrypted", EncryptedText("adherents.national_id_encrypted"), nullable=False
    )
    national_id_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    first_name: Mapped[str] = mapped_column(String(100), nullable=False)
    last_name: Mapped[str] = mapped_column(String(100), nullable=False)
    date_of_birth: Mapped[date] = mapped_column(Date, nullable=False)
    gender: Mapped[str | None] = mapped_column(String(1))
    phone: Mapped[str | None] = mapped_column("phone_encrypted", EncryptedText("adherents.phone_encrypted"))
    email: Mapped[str | None] = mapped_column(String(254))
    address: Mapped[str | None] = mapped_column(String(300))
    city: Mapped[str | None] = mapped_column(String(100))
    lat: Mapped[float | None] = mapped_column(Float)
    lng: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()

    contracts: Mapped[list[Contract]] = relationship(back_populates="adherent")

    @validates("national_id")
    def _set_hash(self, key, value):
        value = crypto.normalise_national_id(value)
        self.national_id_hash = crypto.national_id_hash(value)
        return value

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def national_id_masked(self) -> str:
        return crypto.mask(self.national_id)


class Provider(SoftDeleteMixin, db.Model):
    __tablename__ = "providers"
    __table_args__ = (
        CheckConstraint(_in("type", tuple(PROVIDER_CARE_TYPE)), name="type"),
        Index("idx_providers_type", "type"),
        Index("idx_providers_city", "city"),
    )

    id: Mapped[str] = _id()
    type: Mapped[str] = mapped_column(String(20), nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    license_no: Mapped[str] = mapped_column(String(50), nullable=False, unique=True)
    speciality: Mapped[str | None] = mapped_column(String(100))
    address: Mapped[str] = mapped_column(String(300), nullable=False)
    city: Mapped[str] = mapped_column(String(100), nullable=False)
    lat: Mapped[float | None] = mapped_column(Float)
    lng: Mapped[float | None] = mapped_column(Float)
    phone: Mapped[str | None] = mapped_column(String(30))
    email: Mapped[str | None] = mapped_column(String(254))
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True, server_default="1")
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class User(db.Model):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(_in("role", ROLES), name="role"),
        Index("idx_users_role", "role"),
        Index("idx_users_provider", "provider_id"),
    )

    id: Mapped[str] = _id()
    email: Mapped[str] = mapped_column(String(254), nullable=False, unique=True)
    password_hash: Mapped[str] = mapped_column(String(200), nullable=False)
    role: Mapped[str] = mapped_column(String(20), nullable=False)
    provider_id: Mapped[str | None] = mapped_column(ForeignKey("providers.id"))
    insurer_id: Mapped[str | None] = mapped_column(ForeignKey("insurers.id"))
    first_name: Mapped[str] = mapped_column(String(100), nullable=False)
    last_name: Mapped[str] = mapped_column(String(100), nullable=False)
    phone: Mapped[str | None] = mapped_column("phone_encrypted", EncryptedText("users.phone_encrypted"))  # MFA SMS
    mfa_enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default="0")
    mfa_secret: Mapped[str | None] = mapped_column(EncryptedText("users.mfa_secret"))
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True, server_default="1")
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()
    # Bumped on password change, deactivation, MFA reset: every session and token
    # carrying an older version stops working at once.
    session_version: Mapped[int] = mapped_column(Integer, nullable=False, default=1, server_default="1")
    # Last TOTP time step accepted: a code is usable once.
    mfa_last_step: Mapped[int | None] = mapped_column(BigInteger)
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A password set by an admin (creation, reset) is temporary: changed at the next login.
    must_change_password: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False,
                                                       server_default="0")

    provider: Mapped[Provider | None] = relationship()
    insurer: Mapped[Insurer | None] = relationship()

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    # Flask-Login protocol
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return self.id

    @property
    def organisation_kind(self) -> str | None:
        if self.role in INSURER_ROLES:
            return "insurer"
        if self.role in PROVIDER_ROLES:
            return "provider"
        return None


class RecoveryCode(db.Model):
    """MFA recovery codes, stored hashed, each usable once."""

    __tablename__ = "mfa_recovery_codes"
    __table_args__ = (Index("idx_recovery_user", "user_id"),)

    id: Mapped[str] = _id()
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), nullable=False)
    code_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = _created()


class AppSetting(db.Model):
    """Platform settings an admin changes at run time (e.g. roles that must use MFA)."""

    __tablename__ = "app_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value_json: Mapped[dict | list] = mapped_column(JSONType, nullable=False)
    updated_at: Mapped[datetime] = _updated()


class Contract(db.Model):
    __tablename__ = "contracts"
    __table_args__ = (
        CheckConstraint(_in("status", CONTRACT_STATUSES), name="status"),
        Index("idx_contracts_adherent", "adherent_id"),
        Index("idx_contracts_insurer", "insurer_id"),
        Index("idx_contracts_status", "status"),
        Index("idx_contracts_number", "contract_number"),
    )

    id: Mapped[str] = _id()
    insurer_id: Mapped[str] = mapped_column(ForeignKey("insurers.id"), nullable=False)
    adherent_id: Mapped[str] = mapped_column(ForeignKey("adherents.id"), nullable=False)
    contract_number: Mapped[str] = mapped_column(String(50), nullable=False)
    plan_type: Mapped[str] = mapped_column(String(30), nullable=False)
    start_date: Mapped[date] = mapped_column(Date, nullable=False)
    end_date: Mapped[date] = mapped_column(Date, nullable=False)
    carence_days: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    annual_limit: Mapped[int | None] = mapped_column(BigInteger)
    coverage_json: Mapped[dict] = mapped_column(JSONType, nullable=False)
    exclusions_json: Mapped[list] = mapped_column(JSONType, nullable=False, default=list, server_default="[]")
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="active", server_default="active")
    #: which of the member's contracts pays first (1), the others complete it (2, 3...)
    payer_rank: Mapped[int] = mapped_column(SmallInteger, nullable=False, default=1, server_default="1")
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()

    insurer: Mapped[Insurer] = relationship()
    adherent: Mapped[Adherent] = relationship(back_populates="contracts")


class Reconciliation(db.Model):
    __tablename__ = "reconciliations"
    __table_args__ = (
        CheckConstraint(_in("status", RECONCILIATION_STATUSES), name="status"),
        Index("idx_reconciliations_insurer", "insurer_id"),
    )

    id: Mapped[str] = _id()
    insurer_id: Mapped[str] = mapped_column(ForeignKey("insurers.id"), nullable=False)
    period_start: Mapped[date] = mapped_column(Date, nullable=False)
    period_end: Mapped[date] = mapped_column(Date, nullable=False)
    total_claims: Mapped[int] = mapped_column(Integer, nullable=False)
    total_amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    total_covered: Mapped[int] = mapped_column(BigInteger, nullable=False)
    total_retentions: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0, server_default="0")
    total_net_payable: Mapped[int] = mapped_column(BigInteger, nullable=False)
    pdf_path: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="generated", server_default="generated")
    created_at: Mapped[datetime] = _created()
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Beyond the spec (issue 13): the rate applied, the document's fingerprints (SHA-256 of the
    # printed content, shown on the PDF and its QR code, and of the PDF file), who generated it,
    # when it was sent, and the payment's date and bank reference.
    retention_rate_bp: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    content_sha256: Mapped[str | None] = mapped_column(String(64))
    pdf_sha256: Mapped[str | None] = mapped_column(String(64))
    pdf_size: Mapped[int | None] = mapped_column(BigInteger)
    page_count: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[str | None] = mapped_column(String(26))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    payment_date: Mapped[date | None] = mapped_column(Date)
    payment_reference: Mapped[str | None] = mapped_column(String(64))

    insurer: Mapped[Insurer] = relationship()
    statements: Mapped[list[ReconciliationStatement]] = relationship(
        back_populates="reconciliation", order_by="ReconciliationStatement.position")


class ReconciliationStatement(db.Model):
    """One provider's part of a reconciliation: its figures and its own PDF statement."""

    __tablename__ = "reconciliation_statements"
    __table_args__ = (
        UniqueConstraint("reconciliation_id", "provider_id"),
        Index("idx_recon_statements_provider", "provider_id"),
    )

    id: Mapped[str] = _id()
    reconciliation_id: Mapped[str] = mapped_column(ForeignKey("reconciliations.id"), nullable=False)
    insurer_id: Mapped[str] = mapped_column(ForeignKey("insurers.id"), nullable=False)
    provider_id: Mapped[str] = mapped_column(ForeignKey("providers.id"), nullable=False)
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    claim_count: Mapped[int] = mapped_column(Integer, nullable=False)
    total_amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    total_covered: Mapped[int] = mapped_column(BigInteger, nullable=False)
    retention: Mapped[int] = mapped_column(BigInteger, nullable=False)
    net_payable: Mapped[int] = mapped_column(BigInteger, nullable=False)
    pdf_path: Mapped[str | None] = mapped_column(String(500))
    pdf_sha256: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = _created()

    reconciliation: Mapped[Reconciliation] = relationship(back_populates="statements")
    provider: Mapped[Provider] = relationship()


RUN_STATES = ("queued", "running", "done", "empty", "failed")


class ReconciliationRun(db.Model):
    """A generation job (portal, API or cron): its progress and outcome, polled by the page."""

    __tablename__ = "reconciliation_runs"
    __table_args__ = (
        CheckConstraint(_in("state", RUN_STATES), name="state"),
        Index("idx_recon_runs_insurer", "insurer_id", "created_at"),
    )

    id: Mapped[str] = _id()
    insurer_id: Mapped[str] = mapped_column(ForeignKey("insurers.id"), nullable=False)
    period_start: Mapped[date] = mapped_column(Date, nullable=False)
    period_end: Mapped[date] = mapped_column(Date, nullable=False)
    source: Mapped[str] = mapped_column(String(10), nullable=False)  # portal / api / cron
    requested_by: Mapped[str | None] = mapped_column(String(26))
    state: Mapped[str] = mapped_column(String(10), nullable=False, default="queued", server_default="queued")
    step: Mapped[str | None] = mapped_column(String(200))
    done: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    total: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    error: Mapped[str | None] = mapped_column(Text)
    reconciliation_id: Mapped[str | None] = mapped_column(ForeignKey("reconciliations.id"))
    created_at: Mapped[datetime] = _created()
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    reconciliation: Mapped[Reconciliation | None] = relationship()


def _new_claim_reference(context) -> str:
    """Default of ``claims.reference`` for inserts that do not give one (``claim_rows`` does)."""
    return claim_reference.new_reference(context.get_current_parameters()["type"], date.today())


_REVIEW = "status IN ('pending_review', 'blocked')"


class Claim(db.Model):
    __tablename__ = "claims"
    __table_args__ = (
        CheckConstraint(_in("type", CARE_TYPES), name="type"),
        CheckConstraint(_in("status", CLAIM_STATUSES), name="status"),
        CheckConstraint("covered_amount + copay_amount = total_amount", name="balanced"),
        CheckConstraint("covered_amount >= 0 AND copay_amount >= 0", name="non_negative"),
        # Only an approved claim enters a reconciliation, and a paid one is always in one.
        CheckConstraint("(reconciliation_id IS NULL AND status <> 'paid') "
                        "OR (reconciliation_id IS NOT NULL AND status IN ('approved', 'paid'))", name="reconciled_status"),
        Index("idx_claims_status", "status"),
        Index("idx_claims_date", "created_at"),
        Index("idx_claims_reconciliation", "reconciliation_id"),
        # The indexes of the queries (migration 7f3c2a91d5e4): lists newest first per organisation,
        # with or without a status (keyset order: created_at, id) or by care date (care_date, id) when
        # filtered on it, the annual-limit sum per contract,
        # a member's recent claims and the duplicate rule.  They also serve the foreign keys.
        # INCLUDE: the counter's and the dashboard's day/month figures are index-only scans.
        Index("idx_claims_provider_created_id", "provider_id", "created_at", "id",
              postgresql_include=["status", "total_amount", "covered_amount"]),
        Index("idx_claims_insurer_created_id", "insurer_id", "created_at", "id",
              postgresql_include=["status", "total_amount", "covered_amount"]),
        Index("idx_claims_provider_status_created", "provider_id", "status", "created_at", "id"),
        Index("idx_claims_insurer_status_created", "insurer_id", "status", "created_at", "id"),
        Index("idx_claims_provider_care_date", "provider_id", "care_date", "id"),
        Index("idx_claims_insurer_care_date", "insurer_id", "care_date", "id"),
        # The contract's claims by care date (the annual-limit sum itself reads contract_usage).
        Index("idx_claims_contract_care_date", "contract_id", "care_date"),
        # The history filtered by member: the matched members' claims at the provider (b8e4d0f2a3c5).
        Index("idx_claims_provider_member_created", "provider_id", "adherent_id", "created_at", "id"),
        # The member's claims around a care date, read at every claim (history and fraud rules): the
        # INCLUDE columns (PostgreSQL) make it an index-only scan (migration d2f7a1c4e8b6).
        Index("idx_claims_adherent_care_date", "adherent_id", "care_date",
              postgresql_include=["status", "id", "provider_id", "type", "total_amount", "contract_id"]),
        Index("idx_claims_reference", "reference", unique=True),
        # The insurer's review queue (migration b7e4d2a9c1f0): the claims waiting for a decision, one
        # partial index per sort; the keyset one carries the filters' columns (PostgreSQL INCLUDE) so a
        # filtered page is tested on the index entries.
        Index("idx_claims_review_created", "insurer_id", "created_at", "id",
              postgresql_where=text(_REVIEW), sqlite_where=text(_REVIEW),
              postgresql_include=["status", "type", "provider_id", "care_date", "total_amount", "fraud_score"]),
        Index("idx_claims_review_amount", "insurer_id", "total_amount", "id",
              postgresql_where=text(_REVIEW), sqlite_where=text(_REVIEW)),
        Index("idx_claims_review_score", "insurer_id", "fraud_score", "id",
              postgresql_where=text(_REVIEW), sqlite_where=text(_REVIEW)),
        Index("idx_claims_review_care", "insurer_id", "care_date", "id",
              postgresql_where=text(_REVIEW), sqlite_where=text(_REVIEW)),
    )

    id: Mapped[str] = _id()
    # The short reference a person reads and types (dhamen.domain.reference): the id stays the ULID.
    reference: Mapped[str] = mapped_column(String(20), nullable=False, default=_new_claim_reference)
    type: Mapped[str] = mapped_column(String(20), nullable=False)
    contract_id: Mapped[str] = mapped_column(ForeignKey("contracts.id"), nullable=False)
    provider_id: Mapped[str] = mapped_column(ForeignKey("providers.id"), nullable=False)
    adherent_id: Mapped[str] = mapped_column(ForeignKey("adherents.id"), nullable=False)
    insurer_id: Mapped[str] = mapped_column(ForeignKey("insurers.id"), nullable=False)
    care_date: Mapped[date] = mapped_column(Date, nullable=False)
    total_amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    covered_amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    copay_amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    fraud_score: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    fraud_flags_json: Mapped[list] = mapped_column(JSONType, nullable=False, default=list, server_default="[]")
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="pending", server_default="pending")
    reconciliation_id: Mapped[str | None] = mapped_column(ForeignKey("reconciliations.id"))
    bareme_version: Mapped[str | None] = mapped_column(String(100))
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _created()
    validated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = _updated()
    # Beyond the spec: why the engine decided (stable code + French sentence), and
    # care details of the claim type (hospitalization: admission/discharge dates, room).
    reason_code: Mapped[str | None] = mapped_column(String(40))
    status_reason: Mapped[str | None] = mapped_column(Text)
    details_json: Mapped[dict] = mapped_column(JSONType, nullable=False, default=dict, server_default="{}")
    created_by: Mapped[str | None] = mapped_column(String(26))

    contract: Mapped[Contract] = relationship()
    provider: Mapped[Provider] = relationship()
    adherent: Mapped[Adherent] = relationship()
    insurer: Mapped[Insurer] = relationship()
    items: Mapped[list[ClaimItem]] = relationship(back_populates="claim", order_by="ClaimItem.position")


class ClaimDayTotal(db.Model):
    """The claims of a day, added up (migration c3d9e8f1a2b4): one row per insurer × day × status ×
    care type × provider, the day being the Tunisian calendar day of ``claims.created_at``.

    Written only by database triggers on ``claims`` (insert, update, delete), in the writing
    statement's transaction: it always equals ``GROUP BY`` of the claims (tests/insurer/
    test_rollup.py).  The insurer's dashboard and the counter's day/month figures read it
    instead of the claims: a month is a few hundred rows, whatever the volume.
    """

    __tablename__ = "claim_day_totals"
    __table_args__ = (
        # An insurer's month (PK prefix); a provider's days; an insurer's claims of a status (the
        # queue's size: an index-only sum on PostgreSQL).
        Index("idx_claim_day_totals_provider", "provider_id", "day"),
        Index("idx_claim_day_totals_status", "insurer_id", "status", "day",
              postgresql_include=["type", "provider_id", "claims"]),
    )

    insurer_id: Mapped[str] = mapped_column(String(26), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    status: Mapped[str] = mapped_column(String(20), primary_key=True)
    type: Mapped[str] = mapped_column(String(20), primary_key=True)
    provider_id: Mapped[str] = mapped_column(String(26), primary_key=True)
    claims: Mapped[int] = mapped_column(BigInteger, nullable=False)
    total_amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    covered_amount: Mapped[int] = mapped_column(BigInteger, nullable=False)


class ClaimDayFlag(db.Model):
    """The fraud flags raised on a day's claims (flags with points, of claims with a score), per
    insurer × day × flag code; kept by the same triggers as :class:`ClaimDayTotal`."""

    __tablename__ = "claim_day_flags"

    insurer_id: Mapped[str] = mapped_column(String(26), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    claims: Mapped[int] = mapped_column(BigInteger, nullable=False)


class ClaimItem(db.Model):
    __tablename__ = "claim_items"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("covered_amount + copay_amount = line_total", name="balanced"),
        # A claim's lines; with the code (and, PostgreSQL, what the history rules read) the member's
        # history reads its lines of given codes from the index alone (migration d2f7a1c4e8b6).
        Index("idx_claim_items_claim", "claim_id", "code", postgresql_include=["quantity", "covered_amount"]),
    )

    id: Mapped[str] = _id()
    claim_id: Mapped[str] = mapped_column(ForeignKey("claims.id"), nullable=False)
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    code: Mapped[str] = mapped_column(String(32), nullable=False)
    label: Mapped[str] = mapped_column(String(200), nullable=False)
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)
    unit_price: Mapped[int] = mapped_column(BigInteger, nullable=False)
    line_total: Mapped[int] = mapped_column(BigInteger, nullable=False)
    covered_amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    copay_amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    # A rate, not money: exact decimal (0.8000), never a binary float.
    reimbursement_rate: Mapped[Decimal | None] = mapped_column(Numeric(5, 4))
    is_generic: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default="0")
    rule_applied: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _created()
    # Beyond the spec: the explanation of the line (see dhamen.domain.reasons / adjudication).
    category: Mapped[str | None] = mapped_column(String(64))
    capped_unit_price: Mapped[int | None] = mapped_column(BigInteger)
    reason_codes_json: Mapped[list] = mapped_column(JSONType, nullable=False, default=list, server_default="[]")
    adjudication_json: Mapped[list] = mapped_column(JSONType, nullable=False, default=list, server_default="[]")

    claim: Mapped[Claim] = relationship(back_populates="items")


class IdempotencyKey(db.Model):
    """Stripe-style idempotency: the first response to a key is replayed to retries.

    Written in the same transaction as the claim; the same key with another
    body is refused; keys expire after 24 hours.
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        UniqueConstraint("user_id", "key"),
        Index("idx_idempotency_created", "created_at"),
    )

    id: Mapped[str] = _id()
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), nullable=False)
    key: Mapped[str] = mapped_column(String(255), nullable=False)
    request_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    status_code: Mapped[int] = mapped_column(Integer, nullable=False)
    response_json: Mapped[dict] = mapped_column(JSONType, nullable=False)
    claim_id: Mapped[str | None] = mapped_column(ForeignKey("claims.id"))
    created_at: Mapped[datetime] = _created()


class AuditLog(db.Model):
    __tablename__ = "audit_logs"
    __table_args__ = (
        Index("idx_audit_entity", "entity_type", "entity_id"),
        Index("idx_audit_user", "user_id"),
        Index("idx_audit_date", "created_at"),
    )

    id: Mapped[str] = _id()
    user_id: Mapped[str | None] = mapped_column(String(26))
    insurer_id: Mapped[str | None] = mapped_column(String(26))
    provider_id: Mapped[str | None] = mapped_column(String(26))
    action: Mapped[str] = mapped_column(String(64), nullable=False)
    entity_type: Mapped[str] = mapped_column(String(40), nullable=False)
    entity_id: Mapped[str] = mapped_column(String(64), nullable=False)
    changes_json: Mapped[dict | None] = mapped_column(JSONType)
    ip_address: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = _created()


class Convention(db.Model):
    __tablename__ = "conventions"
    __table_args__ = (
        UniqueConstraint("insurer_id", "provider_id"),
        Index("idx_conventions_provider", "provider_id"),
    )

    id: Mapped[str] = _id()
    insurer_id: Mapped[str] = mapped_column(ForeignKey("insurers.id"), nullable=False)
    provider_id: Mapped[str] = mapped_column(ForeignKey("providers.id"), nullable=False)
    bareme_json: Mapped[dict] = mapped_column(JSONType, nullable=False)
    start_date: Mapped[date] = mapped_column(Date, nullable=False)
    end_date: Mapped[date | None] = mapped_column(Date)
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True, server_default="1")
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()

    insurer: Mapped[Insurer] = relationship()
    provider: Mapped[Provider] = relationship()


class ContractUsage(db.Model):
    """What a contract's payable claims (not ``rejected`` nor ``blocked``) cover, per care date.

    Kept by a trigger on ``claims`` (migration a7d3c9e1f2b4, beside the day roll-up's), in the
    transaction that inserts a claim or changes its status or covered amount, whatever the code path
    (counter, insurer decision, payment, seed, SQL); the annual-limit read at every claim sums at most
    a contract year of these rows (one per care date with claims), under the contract's row lock,
    instead of the contract's claims.  Not written by the application.
    """

    __tablename__ = "contract_usage"
    __table_args__ = (
        # The annual-limit sum from the index alone (PostgreSQL INCLUDE, migration d2f7a1c4e8b6): a
        # contract's rows lie on as many heap pages as it has care dates.
        Index("idx_contract_usage_covered", "contract_id", "care_date", postgresql_include=["covered_amount"]),
    )

    contract_id: Mapped[str] = mapped_column(String(26), primary_key=True)
    care_date: Mapped[date] = mapped_column(Date, primary_key=True)
    covered_amount: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
