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
import mimetypes
import multiprocessing
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import IO
from urllib.request import urlopen

from flask import current_app

STATIC_URL_PREFIX = "/static/"


class PdfError(RuntimeError):
    """A document could not be rendered or joined."""


def static_root() -> Path:
    return Path(current_app.static_folder).resolve()


def _answer(url: str, data: bytes, mime_type: str | None):
    try:  # WeasyPrint >= 68
        # WeasyPrint is slow to import: loaded by the first rendering only
        from weasyprint.urls import URLFetcherResponse
    except ImportError:
        return {"string": data, "mime_type": mime_type}
    return URLFetcherResponse(url, data, {"Content-Type": mime_type} if mime_type else None)


def _fetcher(root: Path):
    def fetch(url: str, *args, **kwargs):
        if url.startswith("data:"):
            with urlopen(url) as response:  # noqa: S310 - data: URI, decoded locally
                return _answer(url, response.read(), response.headers.get_content_type())
        path = None
        if url.startswith("file://"):
            path = Path(url.removeprefix("file://")).resolve()
        elif url.startswith(STATIC_URL_PREFIX):
            path = (root / url.removeprefix(STATIC_URL_PREFIX)).resolve()
        if path is None or not path.is_relative_to(root) or not path.is_file():
            raise PdfError(f"ressource refusée dans un PDF : {url[:80]}")

        return _answer(path.as_uri(), path.read_bytes(), mimetypes.guess_type(path.name)[0])

    return fetch


@functools.lru_cache(maxsize=1)
def _fonts():
    # WeasyPrint is slow to import: loaded by the first rendering only
    from weasyprint.text.fonts import FontConfiguration

    return FontConfiguration()


@functools.lru_cache(maxsize=16)
def _stylesheet(path: str):
    # WeasyPrint is slow to import: loaded by the first rendering only
    from weasyprint import CSS

    return CSS(filename=path, font_config=_fonts(), url_fetcher=_fetcher(Path(path).parent))


def _stylesheets(names: Sequence[str], root: Path | None = None) -> list:
    root = root or static_root()
    sheets = []
    for name in names:
        path = (root / name).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            raise PdfError(f"feuille de style introuvable : {name}")
        sheets.append(_stylesheet(str(path)))
    return sheets


def render(html: str, stylesheets: Sequence[str] = (), target: str | Path | IO[bytes] | None = None,
           root: str | Path | None = None):
    """``html`` as a PDF: bytes, or written to ``target`` (a path or a binary file).  ``root``: the
    static folder, when there is no application context (a rendering process)."""
    # WeasyPrint is slow to import: loaded by the first rendering only
    from weasyprint import HTML

    root = Path(root).resolve() if root else static_root()
    document = HTML(string=html, base_url=root.as_uri() + "/", url_fetcher=_fetcher(root))
    return document.write_pdf(target, stylesheets=_stylesheets(stylesheets, root), font_config=_fonts())


def _warm_up() -> None:
    import weasyprint  # noqa: F401  (the import is most of a rendering process's start-up)


class PartRenderer:
    """Renders the parts of a large document to files, in order, in up to ``workers`` processes.

    One process per core (started once, ``spawn``: no database connection is inherited) when there
    are several parts; in this process otherwise.  At most ``workers + 1`` parts wait at a time, so
    memory does not grow with the document.  Use as a context manager; :meth:`wait` answers the
    files in submission order.
    """

    def __init__(self, stylesheets: Sequence[str], parts: int, workers: int | None = None):
        self.stylesheets, self.root = list(stylesheets), str(static_root())
        wanted = workers if workers is not None else int(os.environ.get("PDF_WORKERS") or min(2, os.cpu_count() or 1))
        self.workers = max(1, min(wanted, parts))
        self._pool = None
        self._pending: list = []
        self._done: list[Path] = []

    def __enter__(self):
        if self.workers > 1:
            self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_warm_up)
        return self

    def __exit__(self, *exc):
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def submit(self, html: str, target: Path) -> None:
        if self._pool is None:
            render(html, self.stylesheets, str(target), self.root)
            self._done.append(target)
            return
        self._pending.append((self._pool.submit(render, html, self.stylesheets, str(target), self.root), target))
        while len(self._pending) > self.workers:
            self._collect()

    def _collect(self) -> None:
        future, target = self._pending.pop(0)
        future.result()
        self._done.append(target)

    def wait(self) -> list[Path]:
        while self._pending:
            self._collect()
        return self._done


def reader(path: str | Path):
    """A PDF opened for reading its pages (pypdf)."""
    from pypdf import PdfReader  # heavy, and only bordereau jobs join PDFs: not loaded by every process

    return PdfReader(str(path))


def join(parts: Iterable[tuple[object, range | None]], target: str | Path | IO[bytes]) -> int:
    """Write the pages of ``parts`` (a file or a :func:`reader`, and a page range or None for all) one
    after the other into ``target``; answers the number of pages."""
    from pypdf import PdfWriter  # heavy, and only bordereau jobs join PDFs: not loaded by every process

    writer = PdfWriter()
    for source, pages in parts:
        opened = reader(source) if isinstance(source, str | Path) else source
        writer.append(opened, pages=(pages.start, pages.stop) if pages is not None else None)
    count = len(writer.pages)
    writer.write(target)
    writer.close()
    return count
