"""Claim lines as the counter shows them, and the printable receipt (HTML and PDF).

A preview (engine ``LineResult``) and a stored claim (``ClaimItem``) are
shown by the same table: both become :class:`LineView`.
"""

from __future__ import annotations

from dataclasses import dataclass

from dhamen.core import pdf
from dhamen.counter.next_steps import line_step
from dhamen.domain import reasons
from dhamen.domain.adjudication import Adjudication
from dhamen.models import Claim

RECEIPT_CSS = "css/claims.css"  # in the static folder


@dataclass(frozen=True)
class LineView:
    number: int
    code: str
    label: str
    quantity: int
    unit_price: int
    capped_unit_price: int | None
    line_total: int
    rate_bp: int
    covered: int
    copay: int
    is_generic: bool
    rule_applied: str
    reasons: tuple[str, ...]  # French labels of the reason codes, main one first
    next_step: str | None = None  # what the counter does about it (dhamen.counter.next_steps)
    insurer_note: str | None = None  # the insurer's word on this line (agreed price, refill refused...), if any

    @property
    def capped(self) -> bool:
        return self.capped_unit_price is not None and self.capped_unit_price < self.unit_price


def _labels(codes) -> tuple[str, ...]:
    return tuple(reasons.label(code) for code in codes or ())


def preview_lines(result: Adjudication) -> list[LineView]:
    return [LineView(n, line.code, line.label or line.code, line.quantity, line.unit_price, line.capped_unit_price,
                     line.line_total, line.rate_bp, line.covered, line.copay, line.is_generic, line.rule_applied,
                     _labels(line.reason_codes), line_step(line.reason_codes))
            for n, line in enumerate(result.lines, start=1)]


#: reason codes of a line the insurer's agent decided on (its rule then says what and why)
INSURER_LINE_CODES = frozenset({reasons.AGENT_AGREED, reasons.AGENT_LINE_REFUSED, reasons.AGENT_ACCEPTED,
                                reasons.REFILL_ACCEPTED, reasons.REFILL_REFUSED})


def claim_lines(claim: Claim) -> list[LineView]:
    return [LineView(n, item.code, item.label, item.quantity, item.unit_price, item.capped_unit_price,
                     item.line_total, int(round((item.reimbursement_rate or 0) * 10000)), item.covered_amount,
                     item.copay_amount, item.is_generic, item.rule_applied or "", _labels(item.reason_codes_json),
                     line_step(item.reason_codes_json),
                     item.rule_applied if INSURER_LINE_CODES & set(item.reason_codes_json or ()) else None)
            for n, item in enumerate(sorted(claim.items, key=lambda i: i.position), start=1)]


def render_pdf(html: str) -> bytes:
    """The receipt page as a PDF, styled by the same stylesheet as its print view."""

    return pdf.render(html, stylesheets=[RECEIPT_CSS])
