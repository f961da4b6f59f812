"""The streaming PDF assembler: pages of several rendered PDFs joined into one file, read back."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from pypdf import PdfReader

from dhamen.core import pdf

STATIC = Path(__file__).resolve().parents[2] / "static"


def _part(tmp_path: Path, name: str, pages: list[str]) -> Path:
    body = "".join(f'<section style="break-after: page"><h2>{text}</h2><p><a href="#{name}-0">retour</a></p>'
                   f'<p id="{name}-{n}">{text} · é à ç €</p></section>' for n, text in enumerate(pages))
    target = tmp_path / f"{name}.pdf"
    pdf.render(f"<html><body>{body}</body></html>", target=str(target), root=STATIC)
    return target


def _text(path: Path) -> list[str]:
    out = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True, text=True)
    return out.stdout.split("\f")[:-1]


def test_pages_of_several_parts_in_order_with_outline(tmp_path):
    first = _part(tmp_path, "a", ["Page A1", "Page A2", "Page A3"])
    second = _part(tmp_path, "b", ["Page B1", "Page B2"])
    joined = pdf.PdfAssembler(tmp_path / "joined.pdf", title="Bordereau test")
    joined.add_pages(pdf.reader(first), range(3))
    joined.add_pages(pdf.reader(second), [1, 0])  # any order
    joined.bookmark("Début", 0)
    joined.bookmark("Partie B", 3)
    joined.bookmark("Hors document", 9)  # ignored
    assert joined.close() == 5

    pages = _text(joined.path)
    assert [p.split()[0:2] for p in pages] == [["Page", "A1"], ["Page", "A2"], ["Page", "A3"], ["Page", "B2"],
                                               ["Page", "B1"]]
    assert "é à ç €" in pages[4]
    reader = PdfReader(str(joined.path), strict=True)
    assert len(reader.pages) == 5 and reader.metadata.title == "Bordereau test"
    assert [(item.title, reader.get_destination_page_number(item)) for item in reader.outline] == [
        ("Début", 0), ("Partie B", 3)]


def test_a_subset_of_pages_never_pulls_the_others_in(tmp_path):
    source = _part(tmp_path, "a", [f"Page {n}" for n in range(6)])
    statement = pdf.PdfAssembler(tmp_path / "statement.pdf")
    statement.add_pages(pdf.reader(source), range(2, 4))
    assert statement.close() == 2
    pages = _text(statement.path)
    assert [p.split()[:2] for p in pages] == [["Page", "2"], ["Page", "3"]]
    assert len(PdfReader(str(statement.path), strict=True).pages) == 2
    # Only two page objects in the file: the links to page 0 do not drag it (nor the page tree) along.
    assert len(re.findall(rb"/Type\s*/Page(?!s)", statement.path.read_bytes())) == 2


def test_an_aborted_assembly_leaves_no_file(tmp_path):
    source = _part(tmp_path, "a", ["Page 0"])
    assembly = pdf.PdfAssembler(tmp_path / "failed.pdf")
    assembly.add_pages(pdf.reader(source), [0])
    assembly.abort()
    assert not (tmp_path / "failed.pdf").exists()
    with pytest.raises(ValueError):
        assembly.add_pages(pdf.reader(source), [0])
