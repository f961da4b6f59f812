"""The bordereau PDF and the providers' statements.

Layout: A4 pages of fixed capacity, laid out here rather than by WeasyPrint,
so the page count ("page 3 / 41") is known before anything is rendered and
the document can be rendered in parts of :data:`PAGES_PER_PART` pages, each
its own WeasyPrint document (WeasyPrint's cost grows with the boxes of one
document; a part holds a bounded number), by processes started while the
claims are being taken.  A claim is one line of monospaced text inside the
page's ``<pre>``: one text run per line, not a table row of boxes.  The parts
are joined as they arrive, in order, by :class:`dhamen.core.pdf.PdfAssembler`,
which writes each page and its objects straight to the file: the job's memory
does not grow with the number of claims.

Pages: the cover (insurer, period, grand totals, the per-provider summary,
continued on further pages when long), then one section per provider,
starting on a new page (name, licence, its claims, its subtotal, retention
and net payable), then the verification page (grand totals, the content's
SHA-256 and a QR code to ``/verification/<id>``).  A provider's statement is
its section's pages, taken from the same parts in the same pass (uploaded as
soon as its last page is rendered): the same pages as in the bordereau.  The
PDF's outline has one entry per provider.

The content fingerprint is the SHA-256 of a canonical text of the figures
(every claim line, every subtotal, the totals), computed while the lines
stream, so it is the same for every rendering of the same reconciliation.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import segno
from flask import current_app, render_template
from sqlalchemy import select

from dhamen.core import audit, pdf
from dhamen.domain.money import format_tnd, percent_label
from dhamen.domain.text import TUNIS
from dhamen.extensions import db
from dhamen.models import Claim, Contract, Insurer, Provider, Reconciliation, ReconciliationStatement
from dhamen.reconciliation.generation import claims_in_order, storage

PAGES_PER_PART = 30
LINES_PER_PAGE = 70  # monospaced lines in a page's body (a page has room for 76)
COVER_SLOTS = 30  # the cover's title block, in lines
SECTION_HEAD_SLOTS = 4
COLUMN_HEAD_SLOTS = 2
SUBTOTAL_SLOTS = 7
REF_WIDTH = 15  # PH-26-4K7Q-9MXC
CONTRACT_WIDTH = 18
AMOUNT_WIDTH = 14
NAME_WIDTH = 34
PDF_TYPE = "application/pdf"


def amount(millimes: int) -> str:
    """``12 345,678``: French grouping with plain spaces (the monospaced font has no narrow space)."""
    return format_tnd(millimes, with_unit=False).replace("\u202f", " ")


def tnd(millimes: int) -> str:
    """``12 345,678 TND`` that never wraps (no-break spaces)."""
    return f"{amount(millimes)} TND".replace(" ", "\u00a0")


def fit(text: str, width: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


CLAIM_HEAD = (f"{'Référence':<{REF_WIDTH}}  {'Date':<10}  {'Contrat':<{CONTRACT_WIDTH}}  "
              f"{'Montant':>{AMOUNT_WIDTH}}  {'Part adhérent':>{AMOUNT_WIDTH}}  {'Part assureur':>{AMOUNT_WIDTH}}")
SUMMARY_HEAD = (f"{'Prestataire':<{NAME_WIDTH}}  {'Agrément':<14}  {'Demandes':>8}  {'Pris en charge':>{AMOUNT_WIDTH}}"
                f"  {'Retenue':>{AMOUNT_WIDTH}}  {'Net à payer':>{AMOUNT_WIDTH}}")
RULE = "─" * len(CLAIM_HEAD)


def claim_line(row) -> str:
    day = row.care_date  # not strftime: 4 times slower, and this runs for every claim
    return (f"{fit(row.reference, REF_WIDTH):<{REF_WIDTH}}  {day.day:02d}/{day.month:02d}/{day.year:04d}  "
            f"{fit(row.contract_number, CONTRACT_WIDTH):<{CONTRACT_WIDTH}}  {amount(row.total_amount):>{AMOUNT_WIDTH}}  "
            f"{amount(row.copay_amount):>{AMOUNT_WIDTH}}  {amount(row.covered_amount):>{AMOUNT_WIDTH}}")


def summary_line(s: ReconciliationStatement) -> str:
    return (f"{fit(s.provider.name, NAME_WIDTH):<{NAME_WIDTH}}  {fit(s.provider.license_no, 14):<14}  "
            f"{s.claim_count:>8}  {amount(s.total_covered):>{AMOUNT_WIDTH}}  {amount(s.retention):>{AMOUNT_WIDTH}}  "
            f"{amount(s.net_payable):>{AMOUNT_WIDTH}}")


def subtotal_lines(s: ReconciliationStatement, rate_bp: int) -> list[str]:
    width = len(CLAIM_HEAD)
    return [RULE,
            f"{'Sous-total : ' + str(s.claim_count) + ' demande(s)':<40}{tnd(s.total_amount):>{width - 40}}",
            f"{'Pris en charge par l’assureur':<40}{tnd(s.total_covered):>{width - 40}}",
            f"{'Retenue (' + percent_label(rate_bp) + ')':<40}{'- ' + tnd(s.retention):>{width - 40}}",
            f"{'NET À PAYER AU PRESTATAIRE':<40}{tnd(s.net_payable):>{width - 40}}",
            RULE]


# --- layout --------------------------------------------------------------------------------------

@dataclass
class Page:
    number: int
    kind: str  # cover / summary / section / verification
    statement: ReconciliationStatement | None = None
    first_of_section: bool = False
    lines: list[str] = field(default_factory=list)


@dataclass
class Plan:
    """How many pages each part of the document takes (from the claim counts alone)."""

    summary_pages: int
    sections: list[tuple[ReconciliationStatement, int]]  # statement, pages

    @property
    def total(self) -> int:
        return self.summary_pages + sum(pages for _s, pages in self.sections) + 1

    def section_start(self, index: int) -> int:
        return 1 + self.summary_pages + sum(pages for _s, pages in self.sections[:index])


def section_capacity(first: bool) -> int:
    return LINES_PER_PAGE - COLUMN_HEAD_SLOTS - (SECTION_HEAD_SLOTS if first else 0)


def section_pages(count: int) -> int:
    pages, left, first = 1, count, True
    while True:
        room = section_capacity(first)
        if left <= room:
            return pages + (1 if room - left < SUBTOTAL_SLOTS else 0)
        left -= room
        pages, first = pages + 1, False


def summary_capacity(first: bool) -> int:
    return LINES_PER_PAGE - COLUMN_HEAD_SLOTS - (COVER_SLOTS if first else 0)


def plan(statements: list[ReconciliationStatement]) -> Plan:
    pages, left, first = 1, len(statements), True
    while left > summary_capacity(first):
        left -= summary_capacity(first)
        pages, first = pages + 1, False
    return Plan(pages, [(s, section_pages(s.claim_count)) for s in statements])


CLAIM_COLUMNS = [Claim.id, Claim.reference, Claim.care_date, Contract.contract_number, Claim.total_amount,
                 Claim.copay_amount, Claim.covered_amount]


def pages(recon: Reconciliation, statements: list[ReconciliationStatement], layout: Plan,
          digest) -> Iterator[Page]:
    """Every page in order, its claim lines streamed from the database; feeds ``digest`` as it goes."""
    digest.update(f"DHAMEN-BORDEREAU|1|{recon.id}|{recon.insurer_id}|{recon.period_start}|{recon.period_end}|"
                  f"{recon.retention_rate_bp}\n".encode())
    number = 1
    rows = [summary_line(s) for s in statements]
    first = True
    while True:
        take = summary_capacity(first)
        yield Page(number, "cover" if first else "summary", lines=rows[:take])
        rows, first, number = rows[take:], False, number + 1
        if not rows:
            break
    for statement, _count in layout.sections:
        page = Page(number, "section", statement, first_of_section=True)
        room = section_capacity(True)
        for row in claims_in_order(recon.id, statement.provider_id, CLAIM_COLUMNS):
            if room == 0:
                yield page
                number += 1
                page, room = Page(number, "section", statement), section_capacity(False)
            page.lines.append(claim_line(row))
            digest.update(f"C|{row.id}|{row.reference}|{statement.provider_id}|{row.care_date}|{row.contract_number}|"
                          f"{row.total_amount}|{row.copay_amount}|{row.covered_amount}\n".encode())
            room -= 1
        if room < SUBTOTAL_SLOTS:
            yield page
            number += 1
            page = Page(number, "section", statement)
        page.lines.extend(subtotal_lines(statement, recon.retention_rate_bp))
        digest.update(f"P|{statement.provider_id}|{statement.claim_count}|{statement.total_amount}|"
                      f"{statement.total_covered}|{statement.retention}|{statement.net_payable}\n".encode())
        yield page
        number += 1
    digest.update(f"T|{recon.total_claims}|{recon.total_amount}|{recon.total_covered}|{recon.total_retentions}|"
                  f"{recon.total_net_payable}\n".encode())
    yield Page(number, "verification")


def reference(recon: Reconciliation, insurer: Insurer | None = None) -> str:
    """The bordereau's number as people read it: ``STAR-202601-7K3QZP``."""
    insurer = insurer or recon.insurer
    return f"{insurer.code}-{recon.period_start.strftime('%Y%m')}-{recon.id[-6:]}"


DEV_BASE_URL = "http://127.0.0.1:5000"  # bin/dev's address; PUBLIC_BASE_URL is required elsewhere


def verification_url(recon_id: str, fingerprint: str | None = None) -> str:
    base = (current_app.config["DHAMEN"].public_base_url or DEV_BASE_URL).rstrip("/")
    url = f"{base}/verification/{recon_id}"
    return f"{url}?empreinte={fingerprint}" if fingerprint else url


def _context(recon: Reconciliation, insurer: Insurer, total_pages: int) -> dict:
    generated = recon.created_at.astimezone(TUNIS)
    return {"recon": recon, "insurer": insurer, "total_pages": total_pages, "ref": reference(recon, insurer),
            "generated": generated.strftime("%d/%m/%Y à %H:%M"), "claim_head": CLAIM_HEAD,
            "summary_head": SUMMARY_HEAD, "tnd": tnd, "percent": percent_label}


STYLESHEETS = ["css/bordereau.css"]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def key_prefix(recon: Reconciliation) -> str:
    return f"reconciliations/{recon.insurer_id}/{recon.period_start.strftime('%Y-%m')}/{recon.id}"


def expected_parts(claims: int, providers: int = 1) -> int:
    """About how many parts a bordereau of ``claims`` claims takes (before its claims are even taken)."""
    pages = 2 + providers + claims // section_capacity(False)
    return -(-pages // PAGES_PER_PART)


def start_renderer(claims: int) -> pdf.PartRenderer:
    """The rendering processes, started (WeasyPrint imported) while the claims are being taken."""
    import pypdf  # noqa: F401  (imported now rather than when the first part arrives)

    return pdf.PartRenderer(STYLESHEETS, expected_parts(claims)).start()


class _Assembly:
    """The bordereau and the providers' statements, joined as the rendered parts arrive, in order.

    Each part is read once: its pages go to the bordereau and to the statement of the section they
    belong to (a section's pages, as in the bordereau).  A statement is uploaded as soon as its last
    page has arrived; a part's file is deleted once copied.  Nothing holds more than one part.
    """

    def __init__(self, work: Path, recon: Reconciliation, layout: Plan, title: str, store, prefix: str):
        self.work, self.layout, self.store, self.prefix = work, layout, store, prefix
        self.parts: dict[Path, tuple[int, int]] = {}  # file -> first page number, pages
        self.bordereau = pdf.PdfAssembler(work / "bordereau.pdf", title=title)
        self.bordereau.bookmark("Récapitulatif par prestataire", 0)
        for index, (statement, _count) in enumerate(layout.sections):
            self.bordereau.bookmark(statement.provider.name, layout.section_start(index) - 1)
        self.bordereau.bookmark("Arrêté du bordereau et vérification", layout.total - 1)
        self.section = 0  # the next statement to complete
        self.statement: pdf.PdfAssembler | None = None
        self.statement_files: dict[int, tuple[str, str]] = {}  # statement id -> key, SHA-256
        self.title = title

    def add(self, target: Path) -> None:
        first, count = self.parts.pop(target)
        with pdf.reader(target) as source:  # closed after: its objects are freed now, not at the next GC
            self._add(source, first, count)
        target.unlink()

    def _add(self, source, first: int, count: int) -> None:
        if len(source.pages) != count:
            raise pdf.PdfError(f"mise en page : {len(source.pages)} pages rendues pour {count}")
        self.bordereau.add_pages(source, range(count))
        end = first + count
        while self.section < len(self.layout.sections):
            statement, pages = self.layout.sections[self.section]
            start = self.layout.section_start(self.section)
            lo, hi = max(first, start), min(end, start + pages)
            if lo < hi:
                if self.statement is None:
                    self.statement = pdf.PdfAssembler(self.work / f"releve-{statement.provider_id}.pdf",
                                                      title=f"{self.title} · {statement.provider.name}")
                    self.statement.bookmark(statement.provider.name, 0)
                self.statement.add_pages(source, range(lo - first, hi - first))
            if start + pages > end:
                break
            self._store_statement(statement)
            self.section += 1

    def _store_statement(self, statement: ReconciliationStatement) -> None:
        done, self.statement = self.statement, None
        done.close()
        key = f"{self.prefix}/releve-{statement.provider_id}.pdf"
        self.store.put_file(key, done.path, PDF_TYPE)
        self.statement_files[statement.id] = (key, _sha256(done.path))
        done.path.unlink()

    def abort(self) -> None:
        for assembler in (self.bordereau, self.statement):
            if assembler is not None:
                assembler.abort()


PROGRESS_EVERY = 1.0  # seconds between two progress commits


def produce(recon_id: str, progress: Callable[[int, int, str], None] = lambda *_: None,
            renderer: pdf.PartRenderer | None = None) -> None:
    """Render the bordereau and the statements in parts, join and store them as the parts arrive, then
    record them (one commit).  ``renderer``: processes already started (:func:`start_renderer`)."""

    recon = db.session.get(Reconciliation, recon_id)
    insurer = db.session.get(Insurer, recon.insurer_id)
    statements = list(db.session.scalars(
        select(ReconciliationStatement).where(ReconciliationStatement.reconciliation_id == recon_id)
        .order_by(ReconciliationStatement.position)))
    for s in statements:
        s.provider = db.session.get(Provider, s.provider_id)
    layout = plan(statements)
    context = _context(recon, insurer, layout.total)
    total_claims = recon.total_claims
    digest = hashlib.sha256()
    work = Path(tempfile.mkdtemp(prefix="dhamen-bordereau-"))
    with contextlib.ExitStack() as stack:
        stack.callback(shutil.rmtree, work, ignore_errors=True)
        if renderer is None:
            renderer = stack.enter_context(pdf.PartRenderer(STYLESHEETS, -(-layout.total // PAGES_PER_PART)))
        assembly = _Assembly(work, recon, layout, f"Bordereau {context['ref']}", storage(), key_prefix(recon))
        stack.callback(assembly.abort)
        renderer.on_done = assembly.add
        done = 0
        buffer: list[Page] = []
        last_progress = time.monotonic()

        def flush() -> None:
            target = work / f"part-{buffer[0].number:06d}.pdf"
            assembly.parts[target] = (buffer[0].number, len(buffer))
            html = render_template("reconciliation/pdf/bordereau.html", pages=buffer, **context)
            buffer.clear()
            renderer.submit(html, target)

        for page in pages(recon, statements, layout, digest):
            if page.kind == "verification":
                fingerprint = digest.hexdigest()
                context.update(fingerprint=fingerprint, verify_url=verification_url(recon.id, fingerprint),
                               qr=segno.make(verification_url(recon.id, fingerprint), error="m")
                               .svg_data_uri(scale=3, border=2))
            buffer.append(page)
            if page.kind == "section":
                done += len(page.lines)
            if len(buffer) == PAGES_PER_PART:
                flush()
                if time.monotonic() - last_progress >= PROGRESS_EVERY:
                    progress(min(done, total_claims), total_claims,
                             f"Mise en page du PDF : page {page.number} / {layout.total}")
                    last_progress = time.monotonic()
        if buffer:
            flush()
        renderer.wait()
        progress(total_claims, total_claims, "Dépôt du bordereau")
        whole = assembly.bordereau.path
        page_total = assembly.bordereau.close()
        if page_total != layout.total or assembly.section != len(layout.sections):
            raise pdf.PdfError(f"mise en page : {page_total} pages assemblées pour {layout.total}")
        key = f"{key_prefix(recon)}/bordereau.pdf"
        storage().put_file(key, whole, PDF_TYPE)
        # Stored: now, and only now, the rows point to the files.
        recon.pdf_path, recon.pdf_sha256, recon.pdf_size = key, _sha256(whole), whole.stat().st_size
        recon.content_sha256, recon.page_count = digest.hexdigest(), page_total
        for statement in statements:
            statement.pdf_path, statement.pdf_sha256 = assembly.statement_files[statement.id]

        audit.record("reconciliation.document", "reconciliation", recon.id,
                     {"pdf_path": key, "pages": page_total, "statements": len(statements),
                      "content_sha256": recon.content_sha256}, user=None, insurer_id=recon.insurer_id)
        db.session.commit()
