"""PDF documents with WeasyPrint: receipts, bordereaux, provider statements.

One place sets how Dhamen renders PDFs:

- stylesheets and images are files of the application's static folder
  (``current_app.static_folder``), named relative to it (``css/claims.css``);
- the URL fetcher serves only that folder and ``data:`` URIs: a document
  never reaches the network, whatever its HTML holds;
- fonts are the system's (DejaVu, installed by ``.ci/run`` and the
  Dockerfile), through one ``FontConfiguration`` per process.

WeasyPrint's cost grows with the laid-out boxes of one document: large
documents are rendered in parts (:class:`PartRenderer`, in parallel processes)
and joined as the parts arrive (:class:`PdfAssembler`, streaming: it holds
object offsets, never the pages).
"""

from __future__ import annotations

import functools
import hashlib
import mimetypes
import multiprocessing
import os
from collections.abc import Callable, Iterable, Sequence
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
        from weasyprint.urls import URLFetcherResponse  # heavy: loaded only where a PDF is made
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
    from weasyprint.text.fonts import FontConfiguration  # heavy: loaded only where a PDF is made

    return FontConfiguration()


@functools.lru_cache(maxsize=16)
def _stylesheet(path: str):
    from weasyprint import CSS  # heavy: loaded only where a PDF is made

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
    from weasyprint import HTML  # heavy: loaded only where a PDF is made

    root = Path(root).resolve() if root else static_root()
    document = HTML(string=html, base_url=root.as_uri() + "/", url_fetcher=_fetcher(root))
    return document.write_pdf(target, stylesheets=_stylesheets(stylesheets, root), font_config=_fonts())


def _warm_up() -> None:
    import weasyprint  # noqa: F401  (the import is most of a rendering process's start-up)


class PartRenderer:
    """Renders the parts of a large document to files, in order, in up to ``workers`` processes.

    One process per core (``spawn``: no database connection is inherited) when there are several
    parts; in this process otherwise.  :meth:`start` launches the processes and has them import
    WeasyPrint (a second of CPU each) while the caller does other work.  At most ``workers + 1``
    parts wait at a time, so memory does not grow with the document; each finished part is handed,
    in submission order, to ``on_done(target)`` in this process (which can append it to the joined
    file while the next parts render).  Use as a context manager.
    """

    def __init__(self, stylesheets: Sequence[str], parts: int, workers: int | None = None,
                 root: str | Path | None = None):
        self.stylesheets, self.root = list(stylesheets), str(root or static_root())
        wanted = workers if workers is not None else int(os.environ.get("PDF_WORKERS") or min(2, os.cpu_count() or 1))
        self.workers = max(1, min(wanted, parts))
        self.on_done: Callable[[Path], None] = lambda _target: None
        self._pool = None
        self._pending: list = []
        self._exiting: list = []

    def start(self) -> PartRenderer:
        if self.workers > 1 and self._pool is None:
            self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))
            for _ in range(self.workers):  # processes start on demand: one warm-up task each
                self._pool.submit(_warm_up)
        return self

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        for process in self._exiting:  # let go by wait(): reaped here (their CPU time is then counted)
            process.join(10)

    def submit(self, html: str, target: Path) -> None:
        if self._pool is None:
            render(html, self.stylesheets, str(target), self.root)
            self.on_done(target)
            return
        self._pending.append((self._pool.submit(render, html, self.stylesheets, str(target), self.root), target))
        while len(self._pending) > self.workers:
            self._collect()

    def _collect(self) -> None:
        future, target = self._pending.pop(0)
        future.result()
        self.on_done(target)

    def wait(self) -> None:
        """Every submitted part rendered and handed to ``on_done``; the processes then exit."""
        while self._pending:
            self._collect()
        if self._pool is not None:  # the processes exit while the caller stores the document
            self._exiting = list((getattr(self._pool, "_processes", None) or {}).values())
            self._pool.shutdown(wait=False)
            self._pool = None


# --- joining --------------------------------------------------------------------------------------

class PdfAssembler:
    """A PDF written page by page from pages of other PDFs, without holding them.

    :meth:`add_pages` copies pages of a source PDF (a pypdf reader) and every object they use
    (content streams, resources, fonts) straight to the file: an object is read once per source,
    renumbered and written at once.  What stays in memory is the offset of each written object and
    the numbers of the pages, so joining a 2 000-page document costs what joining a 20-page one
    does.  Streams are copied as they are (still compressed).  :meth:`close` writes the page tree,
    the outline (``bookmark(title, page index)``), the catalog and the cross-reference table.
    """

    CATALOG, PAGES = 1, 2

    def __init__(self, target: str | Path, title: str | None = None, lang: str | None = "fr"):
        self.path = Path(target)
        self._fh = self.path.open("wb")
        self._fh.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
        self._offsets: list[int] = [0, 0, 0]  # by object number; 1 and 2 are written last
        self._pages: list[int] = []
        self._bookmarks: list[tuple[str, int]] = []
        self._source = None
        self._numbers: dict[tuple[int, int], int] = {}
        self._queue: list = []
        self.title, self.lang = title, lang

    @property
    def page_count(self) -> int:
        return len(self._pages)

    def bookmark(self, title: str, page_index: int) -> None:
        self._bookmarks.append((title, page_index))

    def _allocate(self) -> int:
        self._offsets.append(0)
        return len(self._offsets) - 1

    def _number(self, ref) -> int:
        key = (ref.idnum, ref.generation)
        number = self._numbers.get(key)
        if number is None:
            number = self._numbers[key] = self._allocate()
            self._queue.append((ref, number))
        return number

    def _copy(self, obj):
        from pypdf.generic import (  # heavy: only bordereau jobs join PDFs
            ArrayObject,
            DictionaryObject,
            IndirectObject,
            NullObject,
        )

        if isinstance(obj, IndirectObject):
            target = obj.get_object()
            if isinstance(target, DictionaryObject) and target.get("/Type") in ("/Page", "/Pages") and \
                    (obj.idnum, obj.generation) not in self._numbers:
                return NullObject()  # a page not taken (or the source's page tree) is never pulled in
            return IndirectObject(self._number(obj), 0, None)
        if isinstance(obj, DictionaryObject):  # (a stream's dictionary is copied by add_pages)
            copy = DictionaryObject()
            for key, value in obj.items():
                copy[key] = self._copy(value)
            return copy
        if isinstance(obj, ArrayObject):
            return ArrayObject([self._copy(value) for value in obj])
        return obj

    def _write(self, number: int, obj, stream: bytes | None = None) -> None:
        from pypdf.generic import (  # heavy: only bordereau jobs join PDFs
            ArrayObject,
            BooleanObject,
            DictionaryObject,
            NameObject,
            NumberObject,
        )

        def wrap(value):  # the dictionaries built here (page tree, outline, catalog); copies are pypdf's
            if isinstance(value, DictionaryObject | ArrayObject):
                return value
            if isinstance(value, dict):
                return DictionaryObject({NameObject(k): wrap(v) for k, v in value.items()})
            if isinstance(value, list):
                return ArrayObject(wrap(v) for v in value)
            if isinstance(value, bool | int) and not isinstance(value, NumberObject | BooleanObject):
                return BooleanObject(value) if isinstance(value, bool) else NumberObject(value)
            return value

        obj = wrap(obj)
        if stream is not None:
            obj[NameObject("/Length")] = NumberObject(len(stream))
        self._offsets[number] = self._fh.tell()
        self._fh.write(b"%d 0 obj\n" % number)
        obj.write_to_stream(self._fh)
        if stream is not None:
            self._fh.write(b"\nstream\n")
            self._fh.write(stream)
            self._fh.write(b"\nendstream")
        self._fh.write(b"\nendobj\n")

    def add_pages(self, reader, indexes: Iterable[int]) -> None:
        """Append the pages ``indexes`` of ``reader`` (a pypdf ``PdfReader``), in that order."""
        from pypdf.generic import IndirectObject, StreamObject  # heavy: only bordereau jobs join PDFs

        if reader is not self._source:
            self._source, self._numbers = reader, {}
        pages = []
        for i in indexes:  # numbered first: references between the pages taken stay references
            page = reader.pages[i]
            key = (page.indirect_reference.idnum, page.indirect_reference.generation)
            number = self._numbers[key] = self._numbers.get(key) or self._allocate()
            pages.append((page, number))
            self._pages.append(number)
        for page, number in pages:
            values = {key: self._copy(value) for key, value in page.items() if key != "/Parent"}
            values["/Parent"] = IndirectObject(self.PAGES, 0, None)
            self._write(number, values)
        while self._queue:
            ref, number = self._queue.pop()
            obj = ref.get_object()
            if isinstance(obj, StreamObject):
                self._write(number, {key: self._copy(value) for key, value in obj.items() if key != "/Length"},
                            obj._data)  # as stored: still compressed
            else:
                self._write(number, self._copy(obj))

    def close(self) -> int:
        """Write the page tree, outline, catalog and cross-reference table; answers the page count."""
        from pypdf.generic import (  # heavy: only bordereau jobs join PDFs
            IndirectObject,
            NameObject,
            TextStringObject,
        )

        def ref(number: int):
            return IndirectObject(number, 0, None)

        self._write(self.PAGES, {"/Type": NameObject("/Pages"), "/Kids": [ref(n) for n in self._pages],
                                 "/Count": len(self._pages)})
        catalog = {"/Type": NameObject("/Catalog"), "/Pages": ref(self.PAGES)}
        if self.lang:
            catalog["/Lang"] = TextStringObject(self.lang)
        marks = [(title, index) for title, index in self._bookmarks if 0 <= index < len(self._pages)]
        if marks:
            root = self._allocate()
            items = [self._allocate() for _ in marks]
            for n, ((title, index), number) in enumerate(zip(marks, items, strict=True)):
                item = {"/Title": TextStringObject(title), "/Parent": ref(root),
                        "/Dest": [ref(self._pages[index]), NameObject("/Fit")]}
                if n:
                    item["/Prev"] = ref(items[n - 1])
                if n + 1 < len(items):
                    item["/Next"] = ref(items[n + 1])
                self._write(number, item)
            self._write(root, {"/Type": NameObject("/Outlines"), "/First": ref(items[0]), "/Last": ref(items[-1]),
                               "/Count": len(items)})
            catalog["/Outlines"] = ref(root)
            catalog["/PageMode"] = NameObject("/UseOutlines")
        self._write(self.CATALOG, catalog)
        info = self._allocate()
        self._write(info, {"/Producer": TextStringObject("Dhamen (WeasyPrint)"),
                           **({"/Title": TextStringObject(self.title)} if self.title else {})})
        xref = self._fh.tell()
        self._fh.write(b"xref\n0 %d\n0000000000 65535 f \n" % len(self._offsets))
        self._fh.write(b"".join(b"%010d 00000 n \n" % offset for offset in self._offsets[1:]))

        ident = hashlib.md5(str(self.path).encode() + str(len(self._offsets)).encode(),  # noqa: S324 - an id
                            usedforsecurity=False).hexdigest().encode()
        self._fh.write(b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R /ID [<%s> <%s>] >>\nstartxref\n%d\n%%%%EOF\n"
                       % (len(self._offsets), self.CATALOG, info, ident, ident, xref))
        self._fh.close()
        return len(self._pages)

    def abort(self) -> None:
        """Drop the file (an assembly that failed); nothing once :meth:`close` has written it."""
        if not self._fh.closed:
            self._fh.close()
            self.path.unlink(missing_ok=True)


def reader(path: str | Path):
    """A PDF opened for reading its pages (pypdf)."""
    from pypdf import PdfReader  # heavy: only bordereau jobs join PDFs

    return PdfReader(str(path))
