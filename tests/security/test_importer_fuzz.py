"""Fuzzing of the content importers: malformed files must become failure reports, never exceptions.

Content comes from many hands (CMS exports, downloaded PDFs, editors' YAML), so a broken or hostile
file must cost exactly that file: `load_path` returns a failure with the file's path and a German
reason an editor can act on, and the rest of the directory is still imported. The files are
generated from valid samples with a seeded random generator, so every run checks the same cases and
a failure can be reproduced by its test id.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.settings import PROJECT_ROOT
from knowledge.importers import load_path
from knowledge.importers.base import ImportResult, display_path
from knowledge.importers.dldb import load_dldb_file
from knowledge.importers.html import load_html_file
from knowledge.importers.integreat import load_integreat_export
from knowledge.importers.native import load_service_file
from knowledge.importers.pdf import load_pdf_file
from tests.unit.knowledge.importers.samples import FIXTURES, NATIVE_YAML, assemble_pdf, make_pdf

SEED = 20260601
VALID_PDF = make_pdf(
    [["Merkblatt Sperrmüll", "Die Abholung kostet 25,00 Euro.", "Antrag bis 14 Tage vorher."], ["Seite zwei"]],
    title="Merkblatt Sperrmüll",
)
VALID_YAML = NATIVE_YAML.format(id="hundesteuer", title="Hundesteuer").encode()
VALID_HTML = (FIXTURES / "muenchen_reisepass.html").read_bytes()
VALID_INTEGREAT = (FIXTURES / "musterstadt_de.json").read_bytes()
VALID_DLDB = (FIXTURES / "dldb_services.json").read_bytes()
MAX_REASON_CHARS = 400  # a reason is a sentence for an editor, not a dump of the file or a traceback


# --- generators (seeded) --------------------------------------------------------------------------


def _flip_bits(data: bytes, rng: random.Random, flips: int) -> bytes:
    mutable = bytearray(data)
    for _ in range(flips):
        position = rng.randrange(len(mutable))
        mutable[position] ^= 1 << rng.randrange(8)
    return bytes(mutable)


def _truncate(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randrange(1, len(data) - 1)]


def _shuffle_chunks(data: bytes, rng: random.Random) -> bytes:
    """Delete, duplicate or swap a slice, as broken downloads and bad merges do."""
    start = rng.randrange(len(data))
    end = min(len(data), start + rng.randrange(1, 200))
    choice = rng.randrange(3)
    if choice == 0:
        return data[:start] + data[end:]
    if choice == 1:
        return data[:end] + data[start:end] * rng.randrange(2, 50) + data[end:]
    other = rng.randrange(len(data))
    return data[:other] + data[start:end] + data[other:]


def _random_bytes(rng: random.Random, size: int) -> bytes:
    return bytes(rng.randrange(256) for _ in range(size))


def _compressed_pdf(text_ops: bytes) -> bytes:
    """A well-formed PDF whose content stream is Flate-compressed: small on disk, large when inflated."""
    stream = zlib.compress(text_ops, 9)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >>"
        b" /Contents 5 0 R >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    return assemble_pdf(objects)


def pdf_cases(rng: random.Random) -> dict[str, bytes]:
    cases = {
        "empty": b"",
        "header-only": b"%PDF-1.7\n",
        "random-bytes": _random_bytes(rng, 4096),
        "random-with-header": b"%PDF-1.4\n" + _random_bytes(rng, 4096) + b"\n%%EOF\n",
        "html-named-pdf": VALID_HTML,
        "no-pages": b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n",
        "pages-loop": b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
        b"2 0 obj\n<< /Type /Pages /Kids [2 0 R] /Count 1 >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n",
        # 8 MB of repeated text operators inflate from a few KB: a bomb, but within what we accept
        "flate-repetition": _compressed_pdf(
            b"BT /F1 11 Tf 14 TL 72 770 Td\n" + b"(Gebuehr 10 Euro) Tj T*\n" * 350_000 + b"ET"
        ),
    }
    for i in range(12):
        cases[f"truncated-{i}"] = _truncate(VALID_PDF, rng)
    for i in range(25):
        cases[f"bitflip-{i}"] = _flip_bits(VALID_PDF, rng, rng.randrange(1, 40))
    for i in range(10):
        cases[f"chunks-{i}"] = _shuffle_chunks(VALID_PDF, rng)
    return cases


def html_cases(rng: random.Random) -> dict[str, bytes]:
    cases = {
        "empty": b"",
        "random-bytes": _random_bytes(rng, 4096),
        "invalid-utf8": b"<html><body><h1>Geb\xfchr \xff\xfe</h1><p>Text \xc3\x28 kaputt \xed\xa0\x80.</p>"
        b"</body></html>",
        "nul-bytes": b"<h1>Titel\x00</h1><p>\x00\x00 Inhalt mit Nullbyte.</p>",
        "deeply-nested": b"<html><body>" + b"<div>" * 20_000 + b"<p>Tief unten.</p>" + b"</div>" * 20_000,
        "nested-lists": b"<h1>Liste</h1>" + b"<ul><li>" * 5_000 + b"Punkt" + b"</li></ul>" * 5_000,
        "nested-tables": b"<h1>Tabelle</h1>" + b"<table><tr><td>" * 3_000 + b"Zelle" + b"</td></tr></table>" * 3_000,
        "huge-page": b"<html><head><title>Gross</title></head><body><h1>Gross</h1>"
        + b"<p>Die Gebuehr betraegt 10 Euro fuer jeden Antrag.</p>\n" * 20_000
        + b"</body></html>",
        "unclosed-everything": b"<html><body><h1>Titel<p>Text <b>fett <i>kursiv <a href='javascript:alert(1)'>x",
        "script-only": b"<html><body><script>alert(1)</script><style>p{}</style></body></html>",
        "wrong-charset": b'<meta charset="x-unknown-42"><h1>\xe4\xf6\xfc</h1><p>\x81\x82\x83 Text.</p>',
        "attribute-bomb": b"<h1 " + b"a=" + b"x" * 200_000 + b">Titel</h1><p>Text.</p>",
    }
    for i in range(10):
        cases[f"bitflip-{i}"] = _flip_bits(VALID_HTML, rng, rng.randrange(1, 200))
    for i in range(6):
        cases[f"truncated-{i}"] = _truncate(VALID_HTML, rng)
    return cases


def yaml_cases(rng: random.Random) -> dict[str, bytes]:
    alias_bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 10) + "]\n" for i in range(8)
    )
    cases = {
        "empty": b"",
        "random-bytes": _random_bytes(rng, 2048),
        "invalid-utf8": VALID_YAML.replace(b"Hundesteuer", b"Hundesteu\xff\xfer"),
        "unclosed-flow": b"id: [unclosed\ntitle: x\n",
        "tabs": b"id: hund\n\ttitle: Hund\n",
        "list-instead-of-mapping": b"- id: hund\n- title: Hund\n",
        "scalar": b"nur ein Satz\n",
        "title-is-list": VALID_YAML.replace(b"title: Hundesteuer", b"title: [1, 2, 3]"),
        "sections-is-text": b"id: hund\ntitle: Hund\nsource_url: https://x.de\nsections: kein Objekt\n",
        "unknown-section": b"id: hund\ntitle: Hund\nsource_url: https://x.de\nsections:\n  geheim: text\n",
        "path-traversal-id": VALID_YAML.replace(b"id: hundesteuer", b"id: ../../etc/passwd"),
        "date-nonsense": VALID_YAML.replace(b"updated: 2026-11-01", b"updated: 2026-13-45"),
        "python-object-tag": b"id: !!python/object/apply:os.system ['echo owned']\ntitle: Hund\n",
        "deep-nesting": b"id: " + b"[" * 5_000 + b"]" * 5_000 + b"\n",
        "deep-mapping": b"".join(b"  " * i + b"k:\n" for i in range(3_000)) + b"  " * 3_000 + b"v\n",
        "alias-bomb": alias_bomb.encode() + b"id: hund\ntitle: Hund\nsource_url: https://x.de\nkeywords: *i\n",
        "duplicate-keys": VALID_YAML + b"id: nochmal\n",
        "huge-number": VALID_YAML.replace(b"updated: 2026-11-01", b"updated: " + b"9" * 5000),
    }
    for i in range(10):
        cases[f"bitflip-{i}"] = _flip_bits(VALID_YAML, rng, rng.randrange(1, 12))
    return cases


def json_cases(valid: bytes, rng: random.Random) -> dict[str, bytes]:
    pages = json.loads(valid)
    first = pages[0] if isinstance(pages, list) else pages
    cases = {
        "empty": b"",
        "random-bytes": _random_bytes(rng, 2048),
        "invalid-utf8": valid[:40] + b"\xff\xfe\xc3\x28" + valid[40:],
        "deep-nesting": b"[" * 100_000 + b"]" * 100_000,
        "deep-objects": b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
        "scalar": b"42",
        "nan": b"[NaN, Infinity]",
        "huge-int": b'[{"id": ' + b"9" * 10_000 + b', "url": "https://x.de", "title": "T", "content": "<p>x</p>"}]',
        "wrong-types": json.dumps(
            [{**first, "id": True, "title": ["x"], "content": 5, "url": None, "leika": {"x": 1}, "name": 7}]
        ).encode(),
        "items-not-objects": b'[1, "zwei", null, [3], true]',
    }
    for i in range(8):
        cases[f"bitflip-{i}"] = _flip_bits(valid, rng, rng.randrange(1, 60))
    for i in range(6):
        cases[f"truncated-{i}"] = _truncate(valid, rng)
    return cases


Loader = Callable[[Path], ImportResult]
SUITES: dict[str, tuple[str, Loader, Callable[[random.Random], dict[str, bytes]]]] = {
    "pdf": (".pdf", load_pdf_file, pdf_cases),
    "html": (".html", load_html_file, html_cases),
    "native": (".yaml", load_service_file, yaml_cases),
    "integreat": ("_de.json", load_integreat_export, lambda rng: json_cases(VALID_INTEGREAT, rng)),
    "dldb": (".json", load_dldb_file, lambda rng: json_cases(VALID_DLDB, rng)),
}


def _all_cases() -> list[tuple[str, str, bytes]]:
    cases = []
    for suite, (_suffix, _loader, generate) in SUITES.items():
        rng = random.Random(f"{SEED}-{suite}")
        cases.extend((suite, name, data) for name, data in generate(rng).items())
    return cases


CASES = _all_cases()
SLOW_CASES = {("html", "huge-page"), ("native", "deep-nesting")}  # seconds each: a page of megabytes, deep YAML
ALWAYS_BAD = ("empty", "random-bytes", "truncated-", "header-only", "no-pages", "pages-loop", "html-named-pdf",
              "unclosed-flow", "tabs", "list-instead-of-mapping", "scalar", "title-is-list", "sections-is-text",
              "unknown-section", "path-traversal-id", "python-object-tag", "deep-nesting", "deep-objects",
              "deep-mapping", "items-not-objects", "invalid-utf8", "date-nonsense", "huge-number",
              "alias-bomb")  # fmt: skip


def _is_always_bad(suite: str, name: str) -> bool:
    if suite == "html":  # browsers render anything; only files without readable text must fail
        return name in ("empty", "random-bytes", "script-only")
    if suite in ("integreat", "dldb") and name == "invalid-utf8":
        return True
    return name.startswith(ALWAYS_BAD)


def _check_report(result: ImportResult, shown: str, *, must_fail: bool) -> None:
    reports = [*result.failures, *result.skipped]
    for report in reports:
        assert report.path.startswith(shown), f"report does not name the file: {report}"
        assert report.reason.strip(), f"empty reason: {report}"
        assert len(report.reason) <= MAX_REASON_CHARS, f"reason is not a sentence: {report.reason[:200]}…"
        assert "Traceback" not in report.reason
    for service in result.services:
        assert service.title and service.source_url  # anything imported is a complete, valid service
    if must_fail:
        assert reports and not result.services, f"a broken file was accepted: {result}"
    else:
        assert reports or result.services, "the file vanished without a report"


@pytest.mark.parametrize(
    ("suite", "name", "data"),
    [pytest.param(*case, marks=pytest.mark.slow) if case[:2] in SLOW_CASES else case for case in CASES],
    ids=[f"{s}-{n}" for s, n, _ in CASES],
)
def test_malformed_file_becomes_a_failure_report(tmp_path: Path, suite: str, name: str, data: bytes) -> None:
    suffix, loader, _ = SUITES[suite]
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(data)
    shown = display_path(path)
    must_fail = _is_always_bad(suite, name)
    _check_report(loader(path), shown, must_fail=must_fail)  # the format's own importer
    _check_report(load_path(path), shown, must_fail=must_fail)  # and the dispatcher ingest uses


@pytest.mark.slow  # ingests its own index
def test_ingest_of_a_mixed_directory_lands_good_files_and_reports_bad_ones(tmp_path: Path) -> None:
    """The real command: good files are indexed, each bad one is reported with path and reason.

    Exit code (documented in README): 0 when at least one service was imported, even if some files
    failed (the report lists them); 1 when files failed and nothing could be imported; 2 for a
    missing path.
    """
    content = tmp_path / "content"
    content.mkdir()
    (content / "hundesteuer.yaml").write_bytes(VALID_YAML)
    (content / "merkblatt.pdf").write_bytes(VALID_PDF)
    (content / "reisepass.html").write_bytes(VALID_HTML)
    (content / "musterstadt_de.json").write_bytes(VALID_INTEGREAT)
    rng = random.Random(SEED)
    bad = {
        "kaputt.pdf": _truncate(VALID_PDF, rng),
        "rauschen.pdf": _random_bytes(rng, 2048),
        "falsch.yaml": b"id: [unclosed\n",
        "tief.json": b"[" * 100_000 + b"]" * 100_000,
        "latin1.yaml": VALID_YAML.replace(b"Hundesteuer", b"Hundesteu\xfcr"),
        "leer.html": b"",
    }
    for name, data in bad.items():
        (content / name).write_bytes(data)
    env = {**os.environ, "BUERGERBOT_DATA_DIR": str(tmp_path / "data")}
    cache = PROJECT_ROOT / ".data" / "cache" / "embeddings-use.sqlite"
    if cache.exists():  # vectors of the demo services are computed once per machine
        (tmp_path / "data" / "cache").mkdir(parents=True)
        (tmp_path / "data" / "cache" / cache.name).write_bytes(cache.read_bytes())
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "ingest", str(content), "--json"],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    assert set(report["added"]) >= {"hundesteuer", "merkblatt", "reisepass-beantragen"}
    assert any(s.startswith("integreat-musterstadt-") for s in report["added"])
    problems = {Path(entry["path"]).name: entry["reason"] for entry in [*report["failed"], *report["skipped"]]}
    assert set(bad) <= set(problems), problems
    assert all(reason.strip() and len(reason) <= MAX_REASON_CHARS for reason in problems.values()), problems

    only_bad = tmp_path / "only-bad"
    only_bad.mkdir()
    (only_bad / "falsch.yaml").write_bytes(bad["falsch.yaml"])
    failed = subprocess.run(
        [sys.executable, "-m", "bot.cli", "ingest", str(only_bad), "--json"],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert failed.returncode == 1
    assert json.loads(failed.stdout)["failed"][0]["path"].endswith("falsch.yaml")


@pytest.mark.parametrize(
    "sidecar",
    [b"updated: 2026-13-45\n", b"title: " + b"[" * 5_000 + b"]" * 5_000 + b"\n", b"\xff\xfe kaputt", b"- liste\n"],
    ids=["impossible-date", "deep-nesting", "invalid-utf8", "not-a-mapping"],
)
def test_broken_pdf_sidecar_is_reported(tmp_path: Path, sidecar: bytes) -> None:
    """The YAML next to a PDF (source URL, title) is parsed too, and must fail as cleanly as the PDF itself."""
    pdf = tmp_path / "merkblatt.pdf"
    pdf.write_bytes(VALID_PDF)
    (tmp_path / "merkblatt.pdf.meta.yaml").write_bytes(sidecar)
    result = load_path(pdf)
    _check_report(result, display_path(pdf), must_fail=True)
    assert "Begleitdatei merkblatt.pdf.meta.yaml" in result.failures[0].reason
