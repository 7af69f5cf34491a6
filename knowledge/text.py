"""German text processing for retrieval: a spaCy `blank("de")` pipeline with our own components.

Why our own components: no trained German spaCy pipeline ships offline, and spaCy's lookup lemmas
miss compound plurals ("Personalausweise"). simplemma gets those right, `wordninja` splits long
compounds ("Anwohnerparkausweis" → anwohner + parkausweis), and a small synonym table maps what
citizens say ("Perso", "Kfz", "Kita") to what official texts say. The same analysis runs on
content and questions, so both meet in one vocabulary of normalised lemmas.
"""

from __future__ import annotations

import itertools
import json
import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import simplemma
import spacy
import wordninja
import yaml
from rapidfuzz.distance import OSA
from rapidfuzz.process import extractOne
from spacy.lang.de.stop_words import STOP_WORDS as DE_STOP_WORDS
from spacy.lang.en.stop_words import STOP_WORDS as EN_STOP_WORDS
from spacy.language import Language
from spacy.tokens import Doc, Token

SYNONYMS_FILE = Path(__file__).parent / "data" / "synonyms.yaml"
MIN_COMPOUND_LENGTH = 9
MIN_PART_LENGTH = 4

_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "ae", "Ö": "oe", "Ü": "ue"})
_WORD = re.compile(r"^[^\W\d_][\w\-]*$", re.UNICODE)

# Function words of both languages carry no topic; "München" appears in every page of a city.
STOPWORDS: frozenset[str] = frozenset(
    {w.translate(_UMLAUTS) for w in DE_STOP_WORDS | EN_STOP_WORDS}
    | {"muenchen", "munich", "stadt", "bitte", "mal", "eigentlich", "gerne", "hallo", "please"}
)


def normalize(word: str) -> str:
    """Case-fold and spell ß/umlauts as ss/ae/oe/ue so "Fuehrerschein" and "Führerschein" meet."""
    folded = word.lower().translate(_UMLAUTS)
    decomposed = unicodedata.normalize("NFKD", folded)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@lru_cache(maxsize=200_000)
def lemmas(word: str) -> tuple[str, ...]:
    """Normalised lemmas of a word as typed and as a capitalised noun.

    Citizens type nouns in lower case ("unterlagen"), which simplemma would read as a verb form;
    taking both readings on both sides (content and question) keeps matching symmetric.
    """
    forms = {simplemma.lemmatize(word, lang="de"), simplemma.lemmatize(word.lower(), lang="de")}
    if word[:1].islower():
        forms.add(simplemma.lemmatize(word.capitalize(), lang="de"))
    return tuple(sorted({normalize(f) for f in forms if "|" not in f}))  # "er|es|sie": not a lemma


MIN_UNG_STEM = 3  # "Abholung" → "abhol": shorter stems ("Ung", "Zung") are not derivations


def verb_of_noun(term: str) -> str | None:
    """The verb an -ung noun is made from, in normalised form: "abholung" → "abholen".

    Official names are nouns ("Abholung", "Umschreibung", "Verlängerung"), citizens use verbs
    ("abholen", "umschreiben", "verlängern"). German forms these nouns regularly from the verb stem,
    so adding the verb to both content and questions lets the two meet: stem + "en", or stem + "n"
    when the stem ends in an unstressed -er/-el ("verlaengerung" → "verlaengern", "erneuerung" →
    "erneuern"), but not after -ier or a long vowel ("registrierung" → "registrieren", "klaerung"
    → "klaeren").
    """
    if not term.endswith("ung") or len(term) - 3 < MIN_UNG_STEM:
        return None
    stem = term[:-3]
    if stem.endswith(("euer", "auer")):  # erneuern, dauern
        return stem + "n"
    if stem.endswith(("ier", "aer", "oer", "uer", "eer")):  # registrieren, erklären, stören, leeren
        return stem + "en"
    return stem + "n" if stem.endswith(("er", "el")) else stem + "en"


def with_verbs(terms: Iterable[str]) -> list[str]:
    """Terms plus the verbs their -ung nouns come from (see `verb_of_noun`)."""
    out: list[str] = []
    for term in terms:
        out.append(term)
        verb = verb_of_noun(term)
        if verb:
            out.append(verb)
    return out


@lru_cache(maxsize=1)
def _splitter() -> wordninja.LanguageModel:
    return wordninja.LanguageModel("de")


def _is_english_only(word: str) -> bool:
    """An English word that is no German one ("citizenship", "appointment"; not "Information")."""
    return simplemma.is_known(word.lower(), lang="en") and not is_german_word(word)


@lru_cache(maxsize=200_000)
def compound_parts(word: str) -> tuple[str, ...]:
    """Meaningful parts of a long German compound, as normalised lemmas; empty if not a compound."""
    if len(word) < MIN_COMPOUND_LENGTH or not word.isalpha():
        return ()
    if _is_english_only(word):
        return ()  # the German splitter reads "deregister" as "de" + "register", the opposite
    pieces = _splitter().split(word.lower())
    if len(pieces) < 2:
        return ()
    parts: list[str] = []
    for piece in pieces:
        if len(piece) < MIN_PART_LENGTH:
            continue
        parts.extend(lemmas(piece.capitalize()))
    return tuple(dict.fromkeys(parts))


@lru_cache(maxsize=1)
def synonym_table() -> dict[str, tuple[str, ...]]:
    """Colloquial/English word → official terms, keyed and valued by normalised form."""
    return {key: tuple(normalize(v) for v in values) for key, values in official_words().items()}


@lru_cache(maxsize=1)
def official_words() -> dict[str, tuple[str, ...]]:
    """Colloquial/English word (normalised) → official words as written ("führi" → "führerschein").

    The spelled form is what a sentence model reads: "fuehrerschein" or a compound part such as
    "schein" would only add noise to its vector.
    """
    raw = yaml.safe_load(SYNONYMS_FILE.read_text(encoding="utf-8")) or {}
    return {normalize(str(key)): tuple(str(v) for v in values) for key, values in raw.items()}


if not Token.has_extension("bb_terms"):
    Token.set_extension("bb_terms", default=())
if not Doc.has_extension("bb_expansions"):
    Doc.set_extension("bb_expansions", default=())
if not Doc.has_extension("bb_official"):
    Doc.set_extension("bb_official", default=())


@Language.component("bb_lemmas")
def _lemma_component(doc: Doc) -> Doc:
    """Attach normalised lemmas plus compound parts to every content word."""
    for token in doc:
        text = token.text
        if not _WORD.match(text):
            if token.like_num or token.like_url:
                continue
            # hyphenated or mixed tokens ("Kfz-Zulassung", "E-Mail"): analyse the pieces
            pieces = [p for p in re.split(r"[\W_]+", text) if p and p.isalpha()]
            terms: list[str] = []
            for piece in pieces:
                terms.extend(lemmas(piece))
                terms.extend(compound_parts(piece))
            token._.bb_terms = tuple(dict.fromkeys(t for t in with_verbs(terms) if t not in STOPWORDS))
            continue
        pieces = [p for p in text.split("-") if p] if "-" in text else [text]
        terms = []
        for piece in pieces:
            terms.extend(lemmas(piece))
            terms.extend(compound_parts(piece))
        if len(pieces) > 1:
            terms.append(normalize(text.replace("-", "")))
        token._.bb_terms = tuple(dict.fromkeys(t for t in with_verbs(terms) if t not in STOPWORDS and len(t) > 1))
    return doc


SEPARABLE_PARTICLES = frozenset({"an", "ab", "um", "aus", "ein", "zu", "auf", "weg", "zurück", "nach"})
_CLAUSE_END = frozenset({".", "?", "!", ",", ";", ":"})
# coordinated main clauses each put their own particle last: "Ich hör auf und mach den Laden zu"
# ("denn" and "aber" are mostly modal particles in questions: "Wie melde ich mich denn an?")
_COORDINATORS = frozenset({"und", "oder", "sondern"})


def _verb_candidates(words: list[Token], joined: set[str]) -> list[tuple[Token, list[str]]]:
    """The words of a clause that may be the verb its particle belongs to, with their verb-like terms.

    German writes verbs in lower case except first in a sentence, nouns capitalised: "mach den
    Laden zu" means "zumachen", not "zuladen". Only a text that also writes lower case gives that
    hint; in one written all in lower or upper case every verb-like word is a candidate.
    """
    alphabetic = [word for word in words if word.text[:1].isalpha()]
    capitalised = [word.text[:1].isupper() and not word.text.isupper() for word in alphabetic]
    cased = any(capitalised[1:]) and any(word.text[:1].islower() for word in alphabetic)
    candidates = []
    for position, word in enumerate(alphabetic):
        if cased and position > 0 and capitalised[position]:
            continue  # a noun, not the verb
        # a verb an earlier clause joined with its particle ("aufhoeren") takes no second one
        verbs = [t for t in word._.bb_terms if t.endswith("en") and len(t) > 3 and t not in joined]
        if verbs:
            candidates.append((word, verbs))
    return candidates


def _has_own_verb(words: list[Token]) -> bool:
    """Whether a clause has a word that may be its verb, recognised or not ("mach", "hol"): a lower-case
    word that is no stop word. "meine Familie" has none and shares the verb of its sentence."""
    return any(word.text[:1].islower() and word.lower_ not in STOPWORDS for word in words)


@Language.component("bb_particle_verbs")
def _particle_verb_component(doc: Doc) -> Doc:
    """Rejoin separated particle verbs: "Wie melde ich mein Auto an?" also means "anmelden".

    German moves the particle to the end of the clause; without this, "an" is a stop word and the
    question loses the difference between anmelden, abmelden and ummelden. The particle belongs to
    a verb of its own clause (`_verb_candidates`); a clause without one ("Wie melde ich mich und
    meine Familie an?") shares the verb of its sentence. Punctuation and line breaks end a sentence
    (content lines are paragraphs and list items); doubled spaces do not.
    """
    sentence: list[Token] = []  # words since the last punctuation mark or line break
    clause: list[Token] = []  # words since then or since the last coordinating conjunction
    joined: set[str] = set()
    for token in [*doc, None]:
        boundary = token is None or token.text in _CLAUSE_END or (token.is_space and "\n" in token.text)
        if token is not None and not boundary and token.lower_ not in _COORDINATORS:
            if not token.is_space:
                clause.append(token)
            continue
        if clause and clause[-1].lower_ in SEPARABLE_PARTICLES:
            particle = normalize(clause[-1].lower_)
            words = clause[:-1] if _has_own_verb(clause[:-1]) else [*sentence, *clause[:-1]]
            for word, verbs in _verb_candidates(words, joined):
                added = [particle + verb for verb in verbs]
                joined.update(added)
                word._.bb_terms = (*word._.bb_terms, *added)
        sentence = [] if boundary else [*sentence, *clause]
        clause = []
    return doc


@Language.component("bb_synonyms")
def _synonym_component(doc: Doc) -> Doc:
    """Add the official terms for colloquial words, so "Perso" also searches "Personalausweis"."""
    table = synonym_table()
    spelled = official_words()
    extra: list[str] = []
    official: list[str] = []
    for token in doc:
        for term in (normalize(token.text), *token._.bb_terms):
            # compounds are split as written: folded "fuehrungszeugnis" splits into nonsense ("ehrung")
            for synonym, written in zip(table.get(term, ()), spelled.get(term, ()), strict=True):
                extra.append(synonym)
                extra.extend(compound_parts(written))
            official.extend(spelled.get(term, ()))
    doc._.bb_expansions = tuple(dict.fromkeys(extra))
    doc._.bb_official = tuple(dict.fromkeys(official))
    return doc


@lru_cache(maxsize=1)
def german_pipeline() -> Language:
    """The shared pipeline; built once per process (about 0.2 s)."""
    nlp = spacy.blank("de")
    nlp.add_pipe("bb_lemmas")
    nlp.add_pipe("bb_particle_verbs")
    nlp.add_pipe("bb_synonyms")
    return nlp


def _doc_terms(doc: Doc, *, expand: bool) -> list[str]:
    terms = [t for token in doc for t in token._.bb_terms]
    if expand:
        terms.extend(doc._.bb_expansions)
    return terms


def analyze(text: str, *, expand: bool = True) -> list[str]:
    """BM25 terms of a text: normalised lemmas, compound parts and (optionally) synonyms."""
    return _doc_terms(german_pipeline()(text), expand=expand)


def analyze_expanded(text: str) -> tuple[list[str], tuple[str, ...]]:
    """BM25 terms with synonyms, and the official words for the text's colloquial ones, as written."""
    doc = german_pipeline()(text)
    return _doc_terms(doc, expand=True), tuple(doc._.bb_official)


def analyze_many(texts: Iterable[str], *, expand: bool = False) -> list[list[str]]:
    """Batch form for indexing; content is not synonym-expanded (questions are)."""
    return [_doc_terms(doc, expand=expand) for doc in german_pipeline().pipe(texts, batch_size=256)]


LEXICON_FILE = Path(__file__).parent / "data" / "en_de_lexicon.json"
MIN_TRANSLATION_P = 0.2  # weaker translations of the learned table are mostly alignment noise


@lru_cache(maxsize=1)
def english_german() -> dict[str, tuple[tuple[str, float], ...]]:
    """English term → (German lemma, probability), best first: the table learned from OMoS-QA's
    parallel training contexts (`knowledge/omosqa/lexicon.py`; CC BY 4.0 data, never dev).

    Empty when the file is missing or unreadable: English questions then reach German content only
    through the vectors and the synonym table.
    """
    try:
        table = json.loads(LEXICON_FILE.read_text(encoding="utf-8"))["table"]
        return {term: tuple(options) for term, options in parse_translations(table).items()}
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError):
        return {}


def parse_translations(table: dict[str, object]) -> dict[str, list[tuple[str, float]]]:
    """The lexicon file's table ("hund 0.852 hunde 0.1" per term) as (German lemma, probability) lists.

    One reader for the file `knowledge/omosqa/lexicon.py` writes, used by retrieval and by training.
    """
    parsed: dict[str, list[tuple[str, float]]] = {}
    for term, line in table.items():
        parts = str(line).split()
        parsed[str(term)] = [(parts[i], float(parts[i + 1])) for i in range(0, len(parts) - 1, 2)]
    return parsed


def german_for(term: str) -> tuple[str, ...]:
    """The likely German lemmas of an analysed English term ("licence" → "fuehrerschein"), or ()."""
    return tuple(german for german, p in english_german().get(term, ()) if p >= MIN_TRANSLATION_P)


@lru_cache(maxsize=50_000)
def is_german_word(word: str) -> bool:
    """A word of simplemma's German dictionary ("Amt", "Kita"; also loanwords such as "Parking")."""
    return simplemma.is_known(word, lang="de")


@lru_cache(maxsize=50_000)
def is_dictionary_word(word: str) -> bool:
    """A real German or English word (simplemma's dictionaries): never a typo of a content word."""
    return simplemma.is_known(word, lang=("de", "en"))


# The ways German says that something costs nothing ("Mitmachen kostet kein Geld", "Der Eintritt ist
# frei"): a fee fact for the answer lines (extraction) and a fee claim the LLM check must find in the
# sources (llm). Not bare "umsonst" ("Nicht umsonst ist die Stadt beliebt").
FREE_OF_CHARGE_DE = (
    r"gebührenfrei|gebuehrenfrei|kostenfrei|kostenlos|\bgratis\b|\b(?:ist|sind)\s+umsonst\b|\bunentgeltlich|"
    r"\bkost(?:et|en)\s+(?:\w+\s+)?(?:nichts|kein(?:en)?\s+(?:geld|cent|euro))\b|\bnichts\s+(?:zu\s+)?(?:be)?zahlen|"
    r"\bkeine(?:rlei)?\s+(?:kosten|gebühr\w*)|\bohne\s+(?:kosten|gebühren?)\b|\beintritt\s+(?:ist\s+)?frei\b"
)

_FOLDED = re.compile("ae|oe|ue|ss")
_UNFOLD = {"ae": ("ae", "ä"), "oe": ("oe", "ö"), "ue": ("ue", "ü"), "ss": ("ss", "ß")}
MAX_UNFOLDED = 3  # folded pairs tried back (2**3 spellings); longer words are rare and stay as they are


@lru_cache(maxsize=50_000)
def is_folded_dictionary_word(term: str) -> bool:
    """A term the analysis folded (`normalize`) from a dictionary word: "aufhoeren" from "aufhören".

    Terms the question never wrote as such (a particle verb joined from "hör … auf") can only be
    checked in their folded form, which the dictionary does not know; without this check the typo
    list "corrected" aufhören to anhören, a word of the content with another meaning.
    """
    if is_dictionary_word(term):
        return True
    parts = _FOLDED.split(term)
    pairs = _FOLDED.findall(term)
    if not pairs or len(pairs) > MAX_UNFOLDED:
        return False
    for choice in itertools.product(*(_UNFOLD[p] for p in pairs)):
        spelled = parts[0] + "".join(c + rest for c, rest in zip(choice, parts[1:], strict=True))
        if spelled != term and is_dictionary_word(spelled):
            return True
    return False


class TypoCorrector:
    """Maps unknown question words to the closest word the index knows ("hundsteuer" → "hundesteuer").

    Only words absent from the vocabulary are touched, and only within a small edit distance that
    grows with word length, so correct words never change meaning.
    """

    def __init__(self, vocabulary: Iterable[str]) -> None:
        self._vocabulary = sorted({w for w in vocabulary if len(w) >= MIN_PART_LENGTH})
        self._known = set(self._vocabulary)
        self._by_initial: dict[str, list[str]] = {}
        for word in self._vocabulary:
            self._by_initial.setdefault(word[0], []).append(word)

    def __contains__(self, word: str) -> bool:
        return word in self._known

    @staticmethod
    def max_distance(word: str) -> int:
        if len(word) < 4:
            return 0
        return 1 if len(word) < 9 else 2

    @lru_cache(maxsize=50_000)  # noqa: B019 - one corrector per index, lives as long as the index
    def correct(self, word: str) -> str | None:
        """The known word a typo most likely meant, or None when there is no single good reading.

        A word of the German or English dictionary is never a typo: the citizen means something
        the content does not cover, and "correcting" it changes the question's topic.

        Swapped letters count as one slip ("auot" → "auto", optimal string alignment). Four-letter
        words ("audo") are corrected only when exactly one known word is one slip away: short words
        have many neighbours, and a wrong correction sends the question to another service family.
        """
        if word in self._known:
            return word
        if is_folded_dictionary_word(word):
            return None  # a real word the content does not use ("Aktien", "Wien"): not a slip of "Aktion", "Wiesn"
        limit = self.max_distance(word)
        candidates = self._by_initial.get(word[:1], [])
        if limit == 0 or not candidates:
            return None
        if len(word) < 5:
            close = [c for c in candidates if len(c) < 6 and OSA.distance(word, c, score_cutoff=1) <= 1]
            return close[0] if len(close) == 1 else None
        match = extractOne(word, candidates, scorer=OSA.distance, score_cutoff=limit)
        return match[0] if match else None

    def correct_terms(self, terms: Iterable[str], keep: frozenset[str] | set[str] = frozenset()) -> list[str]:
        """Known terms, and unknown ones replaced by what they most likely meant.

        `keep`: terms of words the dictionary knows as written ("Käse" → "kaese", which the check
        on the folded form cannot see); they are never corrected.
        """
        corrected: list[str] = []
        for term in terms:
            if term in self._known:
                corrected.append(term)
                continue
            if term in keep:
                continue
            fixed = self.correct(term)
            if fixed:
                corrected.append(fixed)
                corrected.extend(compound_parts(fixed))
        return corrected


def detect_language(text: str) -> str:
    """'en' only when the text is clearly English; German is the safe default."""
    scores = dict(simplemma.langdetect(text, lang=("de", "en")))
    return "en" if scores.get("en", 0.0) > scores.get("de", 0.0) + 0.2 else "de"


GENERIC_TITLE_WORDS = frozenset({"beantragen", "anmelden", "abmelden", "stadt", "muenchen"})


def title_terms(title: str) -> set[str]:
    """Content words of a service name, as the analyzer sees them."""
    return {t for t in analyze(title, expand=False) if len(normalize(t)) > 2}


def title_words(title: str) -> set[str]:
    """Whole words of a service name (no compound parts), minus words most names share ("beantragen")."""
    words = {lemma for word in re.findall(r"[^\W\d_]+", title) if len(word) > 3 for lemma in lemmas(word)}
    return words - GENERIC_TITLE_WORDS
