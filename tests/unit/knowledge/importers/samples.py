"""Sample files for importer tests, generated at test time so the repository holds no binaries."""

from __future__ import annotations

from io import BytesIO

from pypdf import PdfReader, PdfWriter

from bot.settings import PROJECT_ROOT

FIXTURES = PROJECT_ROOT / "tests" / "fixtures" / "importers"


def _pdf_string(text: str) -> bytes:
    raw = text.encode("cp1252")
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def make_pdf(pages: list[list[str]], *, title: str | None = None, link: str | None = None) -> bytes:
    """A minimal valid PDF (Helvetica, WinAnsi, so German umlauts survive), one text line per entry."""
    objects: list[bytes] = []
    page_ids = [4 + 2 * i for i in range(len(pages))]
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    kids = b" ".join(b"%d 0 R" % pid for pid in page_ids)
    objects.append(b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % len(pages))
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    for index, lines in enumerate(pages):
        page_id = page_ids[index]
        annots = b""
        if link and index == 0:
            annots = (
                b" /Annots [<< /Type /Annot /Subtype /Link /Rect [72 700 300 720] /Border [0 0 0]"
                b" /A << /S /URI /URI (" + link.encode() + b") >> >>]"
            )
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >>"
            b" /Contents %d 0 R" % (page_id + 1) + annots + b" >>"
        )
        ops = [b"BT", b"/F1 11 Tf", b"14 TL", b"72 770 Td"]
        ops += [_pdf_string(line) + b" Tj T*" for line in lines]
        ops.append(b"ET")
        stream = b"\n".join(ops)
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    info_id = None
    if title is not None:
        objects.append(b"<< /Title <FEFF" + title.encode("utf-16-be").hex().upper().encode() + b"> >>")
        info_id = len(objects)

    return assemble_pdf(objects, info_id)


def assemble_pdf(objects: list[bytes], info_id: int | None = None) -> bytes:
    """A PDF file of these objects (numbered from 1, the first the catalog) with a correct xref table."""
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    trailer = b"<< /Size %d /Root 1 0 R" % (len(objects) + 1)
    if info_id:
        trailer += b" /Info %d 0 R" % info_id
    out += b"trailer\n" + trailer + b" >>\nstartxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def encrypt_pdf(data: bytes, *, user_password: str, owner_password: str = "amt", algorithm: str = "AES-256") -> bytes:
    writer = PdfWriter(clone_from=PdfReader(BytesIO(data)))
    writer.encrypt(user_password=user_password, owner_password=owner_password, algorithm=algorithm)
    buffer = BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def blank_pdf() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    buffer = BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


NATIVE_YAML = """\
id: {id}
title: {title}
summary: Eine kurze Beschreibung für den Test.
source_url: https://stadt.muenchen.de/service/info/{id}/
updated: 2026-11-01
demo: true
sections:
  gebuehren: |-
    - 10,00 Euro
"""
