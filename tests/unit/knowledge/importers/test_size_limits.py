"""Size limits: one oversized file is reported with its path and reason, and never stops an ingest run.

Found in a security test: an HTML page with one paragraph of more than 1,000,000 characters (1.1 MB
suffices) made the German analysis raise spaCy's E088 and aborted the whole `ingest` run; a 68 MB
page took 1.6 GB of memory on the way.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from knowledge.importers.base import MAX_SERVICE_TEXT_CHARS
from knowledge.importers.html import MAX_HTML_BYTES, load_html_file
from knowledge.ingest import ingest
from tests.conftest import DEMO_CONTENT, make_settings

PARAGRAPH_CHARS = 1_100_000  # over spaCy's max_length of 1,000,000


def _long_paragraph_page() -> str:
    words = "Antrag " * (PARAGRAPH_CHARS // 7 + 1)
    return (
        "<!doctype html><html lang='de'><head><title>Riesenseite</title></head>"
        f"<body><main><h1>Riesenseite</h1><p>{words}</p></main></body></html>"
    )


def test_html_file_over_the_byte_limit_is_refused_before_parsing(tmp_path: Path):
    page = tmp_path / "riesig.html"
    with page.open("w", encoding="utf-8") as out:
        out.write("<html><body><main><h1>Riesig</h1>")
        chunk = "<p>" + "x" * 9_996 + "</p>"
        for _ in range(MAX_HTML_BYTES // len(chunk) + 1):
            out.write(chunk)
        out.write("</main></body></html>")
    result = load_html_file(page)
    assert result.services == []
    [failure] = result.failures
    assert failure.path.endswith("riesig.html") and "zu groß" in failure.reason and "MB" in failure.reason


def test_html_page_with_a_paragraph_over_a_million_characters_is_a_failure(tmp_path: Path):
    page = tmp_path / "absatz.html"
    page.write_text(_long_paragraph_page(), encoding="utf-8")
    assert page.stat().st_size < MAX_HTML_BYTES  # refused for its text, not its size
    result = load_html_file(page)
    assert result.services == []
    [failure] = result.failures
    assert failure.path.endswith("absatz.html") and "zu viel Text" in failure.reason


@pytest.mark.slow  # ingests its own index
def test_ingest_reports_oversized_files_and_ingests_the_rest(tmp_path: Path):
    content = tmp_path / "content"
    content.mkdir()
    for name in ("personalausweis", "hundesteuer"):
        shutil.copy(DEMO_CONTENT / f"{name}.yaml", content / f"{name}.yaml")
    (content / "absatz.html").write_text(_long_paragraph_page(), encoding="utf-8")
    # the native format has no importer-side limit: the ingest itself must catch it
    huge = {
        "id": "riesendienst",
        "title": "Riesendienst",
        "source_url": "https://example.org/riesendienst",
        "sections": {"ueberblick": "Wort " * (MAX_SERVICE_TEXT_CHARS // 5 + 10)},
        "keywords": ["x" * 1000] * 800,
    }
    (content / "riesendienst.yaml").write_text(yaml.safe_dump(huge), encoding="utf-8")

    report = ingest(make_settings(tmp_path / "data"), content)  # must not raise (spaCy E088)

    assert sorted(report.added) == ["hundesteuer", "personalausweis"]
    failed = {Path(f.path).name: f.reason for f in report.failed}
    assert set(failed) == {"absatz.html", "riesendienst.yaml"}
    assert all("zu viel Text" in reason for reason in failed.values())
    assert report.to_json()["failed"]  # the CLI's report names them
