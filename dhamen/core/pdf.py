"""PDF documents with WeasyPrint: receipts, bordereaux, provider statements.

One place sets how Dhamen renders PDFs:

- stylesheets and images are files of the application's static folder
  (``current_app.static_folder``), named relative to it (``css/claims.css``);
- the URL fetcher serves only that folder and ``data:`` URIs: a document
  never reaches the network, whatever its HTML holds;
- fonts are the system's (DejaVu, installed by ``.ci/run`` and the
  Dockerfile), through one ``FontConfiguration`` per process.

WeasyPrint's cost grows with the laid-out boxes of one document: large
documents are rendered in parts (:func:`render`) and joined (:func:`join`).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO

from flask import current_app

STATIC_URL_PREFIX = "/static/"


class PdfError(RuntimeError):
    """A document could not be rendered or joined."""


def static_root() -> Path:
    return Path(current_app.static_folder).resolve()


def _answer(url: str, data: bytes, mime_type: str | None):
    try:  # WeasyPrint >= 68
        from weasyprint.urls import URLFetcherResponse
    except ImportError:
        return {"string": data, "mime_type": mime_type}
    return URLFetcherResponse(url, data, {"Content-Type": mime_type} if mime_type else None)


def _fetcher(root: Path):
    def fetch(url: str, *args, **kwargs):
        if url.startswith("data:"):
            from urllib.request import urlopen

            with urlopen(url) as response:  # noqa: S310 - data: URI, decoded locally
                return _answer(url, response.read(), response.headers.get_content_type())
        path = None
        if url.startswith("file://"):
            path = Path(url.removeprefix("file://")).resolve()
        elif url.startswith(STATIC_URL_PREFIX):
            path = (root / url.removeprefix(STATIC_URL_PREFIX)).resolve()
        if path is None or not path.is_relative_to(root) or not path.is_file():
            raise PdfError(f"ressource refusée dans un PDF : {url[:80]}")
        import mimetypes

        return _answer(path.as_uri(), path.read_bytes(), mimetypes.guess_type(path.name)[0])

    return fetch


@functools.lru_cache(maxsize=1)
def _fonts():
    from weasyprint.text.fonts import FontConfiguration

    return FontConfiguration()


@functools.lru_cache(maxsize=16)
def _stylesheet(path: str):
    from weasyprint import CSS

    return CSS(filename=path, font_config=_fonts(), url_fetcher=_fetcher(Path(path).parent))


def _stylesheets(names: Sequence[str]) -> list:
    root = static_root()
    sheets = []
    for name in names:
        path = (root / name).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            raise PdfError(f"feuille de style introuvable : {name}")
        sheets.append(_stylesheet(str(path)))
    return sheets


def render(html: str, stylesheets: Sequence[str] = (), target: str | Path | IO[bytes] | None = None):
    """``html`` as a PDF: bytes, or written to ``target`` (a path or a binary file)."""
    from weasyprint import HTML

    root = static_root()
    document = HTML(string=html, base_url=root.as_uri() + "/", url_fetcher=_fetcher(root))
    return document.write_pdf(target, stylesheets=_stylesheets(stylesheets), font_config=_fonts())


def page_count(path: str | Path) -> int:
    from pypdf import PdfReader

    return len(PdfReader(str(path)).pages)


def join(parts: Iterable[tuple[str | Path, range | None]], target: str | Path | IO[bytes]) -> int:
    """Write the pages of ``parts`` (file, page range or None for all) one after the other into
    ``target``; answers the number of pages. Reads each part lazily."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for path, pages in parts:
        reader = PdfReader(str(path))
        writer.append(reader, pages=(pages.start, pages.stop) if pages is not None else None)
    count = len(writer.pages)
    writer.write(target)
    writer.close()
    return count
