"""Every citizen and staff text is in `wording.texts`, complete, consistent across languages, and used.

The module is the one place a city changes a sentence; these tests keep it honest: no empty text, the
German and English variants of a text take the same values, Rasa's domain.yml says what the module
says, and the widget's and console's scripts ask only for texts that exist (and leave none unused).
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi import FastAPI
from fastapi.testclient import TestClient

from bot.settings import PROJECT_ROOT
from wording import texts

ROOT = PROJECT_ROOT
DOMAIN = ROOT / "bot" / "dialogue" / "domain.yml"
WIDGET_JS = ROOT / "connectors" / "web" / "static" / "widget.js"
CONSOLE_JS = ROOT / "connectors" / "console" / "static" / "console.js"
LOGIN_JS = ROOT / "connectors" / "console" / "static" / "login.js"
PLACEHOLDER = re.compile(r"\{(\w*)\}")
# the English widget builds "on Monday at 08:00" itself; German has the server's "am Montag um 08:00 Uhr"
WIDGET_EN_ONLY = {"queuedOn", "weekdays"}


def _placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


def _strings(value: Any, where: str) -> Iterator[tuple[str, str]]:
    """Every string in a text constant (dicts, lists and tuples of texts included), with where it is."""
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, dict):
        assert value, f"{where} is empty"
        for key, item in value.items():
            yield from _strings(item, f"{where}[{key!r}]")
    elif isinstance(value, list | tuple):
        assert value, f"{where} is empty"
        for index, item in enumerate(value):
            yield from _strings(item, f"{where}[{index}]")


def _constants() -> dict[str, Any]:
    return {name: value for name, value in vars(texts).items() if name.isupper()}


def _text_functions() -> dict[str, Any]:
    return {
        name: value
        for name, value in vars(texts).items()
        if inspect.isfunction(value) and value.__module__ == texts.__name__ and not name.startswith("_")
    }


SAMPLES: dict[Any, list[Any]] = {"int": [3, 0], "str": ["X", ""], "bool": [True, False]}


def _calls(function: Any) -> Iterator[dict[str, Any]]:
    """Calls of a text function with typical and edge values of its typed parameters."""
    parameters = inspect.signature(function).parameters
    for round_ in range(2):
        yield {name: SAMPLES[str(p.annotation)][round_] for name, p in parameters.items()}


# --- complete ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(_constants()))
def test_every_text_constant_is_non_empty(name):
    found = list(_strings(_constants()[name], name))
    assert found, f"{name} holds no text"
    for where, text in found:
        assert text.strip(), f"{where} is empty"


@pytest.mark.parametrize("name", sorted(_text_functions()))
def test_every_text_function_says_something_for_any_value(name):
    function = _text_functions()[name]
    for call in _calls(function):
        result = function(**call)
        if isinstance(result, str):
            assert result.strip() and "{" not in result, (name, call, result)
        else:  # widget_texts: the widget's texts by language
            assert all(text.strip() for _, text in _strings(result, name)), (name, call)


def test_the_widget_and_messengers_name_the_configured_limit():
    assert "2400" in texts.too_long(2400) and "2400" in texts.too_long_en(2400)
    served = texts.widget_texts(2400)
    assert served["de"]["errors"]["too_long"] == texts.too_long(2400)
    assert served["en"]["errors"]["too_long"] == texts.too_long_en(2400)


# --- German and English take the same values ------------------------------------------------------------


def _language_pairs() -> list[tuple[str, str]]:
    names = _constants()
    return sorted((name, name[:-3] + "_EN") for name in names if name.endswith("_DE") and name[:-3] + "_EN" in names)


def test_there_are_language_pairs_to_compare():
    assert ("ABSTAIN_DE", "ABSTAIN_EN") in _language_pairs() and len(_language_pairs()) >= 8


@pytest.mark.parametrize(("german", "english"), _language_pairs())
def test_german_and_english_constants_have_the_same_placeholders(german, english):
    de, en = getattr(texts, german), getattr(texts, english)
    if isinstance(de, dict):
        assert set(de) == set(en) - (WIDGET_EN_ONLY if german == "WIDGET_DE" else set()), (german, english)
        for key in de:
            assert _placeholders(de[key]) == _placeholders(en[key]), (german, key)
    elif isinstance(de, tuple):
        assert len(de) == len(en)
    else:
        assert _placeholders(de) == _placeholders(en), (german, english)


def test_the_widgets_errors_exist_in_both_languages_with_the_same_placeholders():
    assert set(texts.WIDGET_ERRORS) == set(texts.WIDGET_ERRORS_EN)
    served = texts.widget_texts(2000)
    assert set(served["de"]) | WIDGET_EN_ONLY == set(served["en"])
    assert set(served["de"]["errors"]) == set(served["en"]["errors"]) == {*texts.WIDGET_ERRORS, "too_long"}
    for code, german in served["de"]["errors"].items():
        assert _placeholders(german) == _placeholders(served["en"]["errors"][code]) == set(), code
    assert len(served["en"]["weekdays"]) == 7 and _placeholders(texts.WIDGET_EN["queuedOn"]) == {"day", "time"}


def test_sources_are_labelled_alike_in_both_languages():
    assert set(texts.SOURCE_LABELS["de"]) == set(texts.SOURCE_LABELS["en"])


# --- Rasa's responses: domain.yml must say what the module says -------------------------------------------


def test_domain_yml_responses_equal_the_modules():
    """Rasa reads `responses:` from domain.yml, so the file keeps them; this test keeps them equal.

    To change one: edit `RASA_RESPONSES` in wording/texts.py, then paste the block this test prints.
    """
    domain = yaml.safe_load(DOMAIN.read_text(encoding="utf-8"))
    expected = {name: [{"text": text}] for name, text in texts.RASA_RESPONSES.items()}
    block = "responses:\n" + "".join(  # in the file's own style
        f"  {name}:\n    - text: {json.dumps(text, ensure_ascii=False)}\n"
        for name, text in texts.RASA_RESPONSES.items()
    )
    assert domain["responses"] == expected, f"bot/dialogue/domain.yml must hold wording.texts.RASA_RESPONSES:\n{block}"


def test_the_module_has_every_response_the_dialogue_uses():
    rules = (ROOT / "bot" / "dialogue" / "data" / "rules.yml").read_text(encoding="utf-8")
    used = set(re.findall(r"\butter_\w+", rules))
    assert used and used <= set(texts.RASA_RESPONSES)


# --- the scripts ask for texts that exist, and every text is asked for -------------------------------------


def _used_keys(source: str) -> set[str]:
    return set(re.findall(r"\bT\.(\w+)", source))


def test_the_widget_uses_exactly_the_texts_it_is_served():
    source = WIDGET_JS.read_text(encoding="utf-8")
    used = _used_keys(source)
    served = texts.widget_texts(2000)
    assert used <= set(served["en"]), used - set(served["en"])
    assert used - WIDGET_EN_ONLY <= set(served["de"])
    assert set(served["en"]) <= used, f"texts nobody shows: {set(served['en']) - used}"
    for key, name in re.findall(r'\bT\.(\w+)\.replace\("\{(\w+)\}"', source):
        assert name in _placeholders(served["en"][key]), (key, name)
        assert key in WIDGET_EN_ONLY or name in _placeholders(served["de"][key]), (key, name)


@pytest.mark.parametrize(("script", "served"), [(CONSOLE_JS, texts.CONSOLE_TEXTS), (LOGIN_JS, texts.LOGIN_TEXTS)])
def test_the_console_uses_exactly_the_texts_it_is_served(script: Path, served: dict[str, Any]):
    source = script.read_text(encoding="utf-8")
    used = _used_keys(source)
    assert used == set(served), f"missing: {used - set(served)}, unused: {set(served) - used}"


def test_the_console_fills_every_placeholder_of_a_text_and_no_other():
    source = CONSOLE_JS.read_text(encoding="utf-8")
    calls = re.findall(r"\bfill\(T\.(\w+),\s*\{(.*?)\}\)", source, re.DOTALL)
    assert len(calls) >= 30
    for key, values in calls:
        given = set(re.findall(r"(?:^|[{,])\s*(\w+)\s*:", values))
        assert given == _placeholders(texts.CONSOLE_TEXTS[key]), (key, given)
    for key in re.findall(r"\bfill\([^,]*\?\s*T\.(\w+)\s*:\s*T\.(\w+)", source):  # fill(a ? T.x : T.y, {...})
        assert _placeholders(texts.CONSOLE_TEXTS[key[0]]) == _placeholders(texts.CONSOLE_TEXTS[key[1]])


def test_the_console_scripts_are_served_with_their_texts():
    from connectors.console.router import pages

    app = FastAPI()
    app.include_router(pages)
    client = TestClient(app)
    for name, text in (("console.js", texts.ALREADY_CLOSED), ("login.js", texts.LOGIN_TEXTS["signingIn"])):
        response = client.get(f"/console/static/{name}")
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/javascript")
        assert "__BUERGERBOT_" not in response.text
        assert json.dumps(text)[1:-1] in response.text  # as JSON writes it
        again = client.get(f"/console/static/{name}", headers={"If-None-Match": response.headers["etag"]})
        assert again.status_code == 304
    assert client.get("/console/static/console.css").status_code == 200
    assert client.get("/console/static/other.js").status_code == 404
