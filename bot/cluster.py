"""The same story from several outlets as one item: features, the index, the decision.

Pure: nothing here touches the store, the clock or Discord. An article becomes a bag of
normalised tokens (title and excerpt; case-folded, numbers without thousands separators,
stop words dropped, Snowball-stemmed in its own language), its language is identified from the
same text, and the window of recent items is an inverted index from (language, token) to
entries. Placing an article walks the postings of its rarer tokens only, scores the few best
candidates by IDF-weighted cosine, and refuses a merge for the reasons a similarity misses:

- two articles of one outlet (a correction, a follow-up) are two items;
- a live-update page is one day's page: it joins only a live page of the same day;
- templated stories ("Texas reports 5,120 new cases" beside "Ohio reports 3,200 new cases", or
  one state on two days) share most words; when both titles carry a name or a number the other
  article never mentions, they are different stories.

Why an inverted index with IDF weights, not MinHash LSH or fuzzy string ratios (figures from
``bench/cluster.py`` on the labelled pairs of tests/data): two outlets word one story
differently, so the overlap of their short texts is low (median Jaccard 0.32), and the best
Jaccard threshold, which MinHash only estimates, reaches precision 0.69 at recall 0.86, against
0.98 and 0.91 for this decision; the names, numbers and day rules need the tokens, not a
sketch. A ratio or any pairwise score needs a scan of the window per article (680 ms against
50,000 items). The postings of an article's rarest tokens (names, places, numbers) are short,
which keeps a placement near 1.5 ms against 50,000 items.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import Stemmer
from py3langid.langid import MODEL_FILE, LanguageIdentifier

from bot.articles import Article
from bot.articles.urls import outlet_key

# --- text -----------------------------------------------------------------------------------

_WORD = re.compile(r"\d+(?:[.,]\d+)*|[^\W_]+(?:['’][^\W_]+)?")
# "5,120" and "5.120" and "5 120" are one number (English, German and French habits).
_THOUSANDS = re.compile(r"(?<=\d)[,.\u00a0\u202f ](?=\d{3}\b)")
_LIVE = re.compile(
    r"\blive\b|\bliveblog\b|\blive-?ticker\b|\bticker\b|\ben direct\b|\ben vivo\b|\bao vivo\b"
    r"|\bin diretta\b|\bdirecto\b|\blive updates?\b|^\W*direct\b",
    re.IGNORECASE,
)
_TITLE_WORD = re.compile(r"[^\W\d_][^\W_]*")
# Languages whose capital letters mark names (German capitalises every noun).
_CASED_NAMES = frozenset({"en", "es", "fr", "it", "pt", "nl"})

# Snowball stemmers by ISO 639-1 code (langid's labels).
_STEMMERS = {
    "da": "danish",
    "de": "german",
    "en": "english",
    "es": "spanish",
    "fi": "finnish",
    "fr": "french",
    "hu": "hungarian",
    "it": "italian",
    "nl": "dutch",
    "no": "norwegian",
    "pl": "polish",
    "pt": "portuguese",
    "ro": "romanian",
    "ru": "russian",
    "sv": "swedish",
    "tr": "turkish",
}

# Function words of the languages newsbot's operators publish in most. IDF down-weights common
# words in a large window; these lists keep a small window (a fresh install) from matching on
# "the" and "of".
_STOP = {
    "en": "a an and are as at be been by for from has have he her his how in is it its of on or"
    " over says said that the their they this to was were what when who will with after amid"
    " into new more than up out about not but can could would after us its",
    "de": "der die das den dem des ein eine einen einem einer und oder ist sind war waren wird"
    " werden wurde hat haben im in am an auf aus bei mit nach von vor zu zum zur für über um"
    " nicht auch als wie so sich es er sie wir ihr dass noch nur mehr neue neuer neues",
    "fr": "le la les un une des du de d l et ou est sont a ont au aux en dans par pour sur avec"
    " sans sous ce cette ces qui que qu il elle ils elles se sa son ses leur leurs ne pas plus"
    " après selon entre été être nouvelle nouveau",
    "es": "el la los las un una unos unas y o es son fue ha han al del de en por para con sin"
    " sobre que qué se su sus lo le les más tras según entre este esta estos estas nuevo nueva",
    "it": "il lo la i gli le un uno una e o è sono ha hanno al allo alla ai agli alle del dello"
    " della dei degli delle di da in con su per tra fra che si non più dopo nuovo nuova",
    "pt": "o a os as um uma e ou é são foi tem têm ao aos do da dos das de em no na nos nas por"
    " para com sem sobre que se seu sua seus suas mais após segundo novo nova",
    "nl": "de het een en of is zijn was waren wordt worden heeft hebben in op aan bij met na van"
    " voor tot om over uit dat die dit deze niet ook als nog meer nieuwe nieuw",
}
STOP_WORDS = {lang: frozenset(words.split()) for lang, words in _STOP.items()}


def fold(text: str) -> str:
    """Compatibility-normalised and case-folded, numbers without thousands separators."""
    return _THOUSANDS.sub("", unicodedata.normalize("NFKC", text)).casefold()


def _is_number(token: str) -> bool:
    return token[:1].isdigit()


def outlet_of(article: Article) -> str:
    provider = article.provider
    return outlet_key(
        provider.domain if provider else "", article.web_url, provider.name if provider else ""
    )


@dataclass(frozen=True, slots=True)
class Features:
    """What the decision reads of one article."""

    language: str
    weights: dict[str, float]
    """Token -> field weight (2 in the title, 1 only in the excerpt)."""
    title_numbers: frozenset[str]
    numbers: frozenset[str]
    """Numbers of the title, and of the title and excerpt: what a templated story changes
    from one state or day to the next."""
    names: frozenset[str]
    """Capitalised words inside the title (in languages that capitalise names only, and not
    in a headline that capitalises every word)."""
    live: bool
    at: datetime | None
    outlet: str


class Analyzer:
    """Turns articles into :class:`Features`. Holds the language model (half a second to
    load, so it is loaded on first use, once per analyser) and one stemmer per language."""

    def __init__(self) -> None:
        self._identifier: LanguageIdentifier | None = None
        self._stemmers: dict[str, Any] = {}

    def language(self, text: str) -> str:
        if self._identifier is None:
            self._identifier = LanguageIdentifier.from_model_file(MODEL_FILE)
        label, _ = self._identifier.classify(text)
        return str(label)

    def _stem(self, language: str) -> Callable[[list[str]], list[str]]:
        stemmer = self._stemmers.get(language)
        if stemmer is None and language in _STEMMERS:
            stemmer = self._stemmers[language] = Stemmer.Stemmer(_STEMMERS[language])
        if stemmer is None:
            return lambda words: words
        return stemmer.stemWords  # type: ignore[no-any-return]

    def tokens(self, text: str, language: str) -> list[str]:
        stop = STOP_WORDS.get(language, frozenset())
        words = [
            w for w in _WORD.findall(fold(text)) if w not in stop and (len(w) > 1 or w.isdigit())
        ]
        return self._stem(language)(words)

    def _names(self, title: str, language: str) -> list[str]:
        if language not in _CASED_NAMES:
            return []
        words = _TITLE_WORD.findall(title)[1:]
        capital = [w for w in words if w[0].isupper()]
        long_words = [w for w in words if len(w) > 3]
        if long_words and sum(w[0].isupper() for w in long_words) > 0.6 * len(long_words):
            return []  # A Headline In Title Case says nothing about names.
        return self.tokens(" ".join(capital), language)

    def features(self, article: Article, at: datetime | None = None) -> Features:
        """``at``: the story's time when the article has none (when its item was stored)."""
        title, excerpt = article.title, article.excerpt
        language = self.language(f"{title}. {excerpt}")
        title_tokens = self.tokens(title, language)
        excerpt_tokens = self.tokens(excerpt, language)
        weights = dict.fromkeys(excerpt_tokens, 1.0)
        weights.update(dict.fromkeys(title_tokens, 2.0))
        return Features(
            language=language,
            weights=weights,
            title_numbers=frozenset(filter(_is_number, title_tokens)),
            numbers=frozenset(filter(_is_number, weights)),
            names=frozenset(self._names(title, language)),
            live=bool(_LIVE.search(title)),
            at=article.published_at or at,
            outlet=outlet_of(article),
        )


# --- the decision ---------------------------------------------------------------------------

THRESHOLD = 0.28
"""The least similarity of one story, chosen on the labelled pairs (tests/data)."""
# What is taken off the similarity when both articles carry something the other never
# mentions: numbers of the titles (another day's count, another state's), numbers anywhere,
# names in the titles (another state, the other chamber).
TITLE_NUMBERS_PENALTY = 0.5
NUMBERS_PENALTY = 0.1
NAMES_PENALTY = 0.15


def _both_unmatched(a: frozenset[str], b: frozenset[str], a_all: Any, b_all: Any) -> bool:
    return bool(a - b_all) and bool(b - a_all)


def penalty(a: Features, b: Features) -> float:
    """How much the marks of a templated story count against ``a`` and ``b`` being one."""
    ka, kb = a.weights.keys(), b.weights.keys()
    total = 0.0
    if _both_unmatched(a.title_numbers, b.title_numbers, ka, kb):
        total += TITLE_NUMBERS_PENALTY
    if _both_unmatched(a.numbers, b.numbers, ka, kb):
        total += NUMBERS_PENALTY
    if _both_unmatched(a.names, b.names, ka, kb):
        total += NAMES_PENALTY
    return total


def vetoed(a: Features, b: Features, window: timedelta) -> str | None:
    """Why ``a`` and ``b`` cannot be one story whatever their words, or None."""
    if a.language != b.language:
        return "languages differ"
    if a.outlet and a.outlet == b.outlet:
        return "same outlet"
    if a.at is not None and b.at is not None and abs(a.at - b.at) > window:
        return "outside the window"
    if a.live or b.live:
        same_day = a.at is not None and b.at is not None and a.at.date() == b.at.date()
        if not (a.live and b.live and same_day):
            return "a live page is one day's page"
    return None


def similarity(a: Features, b: Features, idf: Callable[[str], float]) -> float:
    """IDF-weighted cosine of the two bags of tokens, less the conflict penalty."""
    wa = {t: w * idf(t) for t, w in a.weights.items()}
    wb = {t: w * idf(t) for t, w in b.weights.items()}
    dot = sum(w * wb[t] for t, w in wa.items() if t in wb)
    if not dot:
        return 0.0
    norm = math.sqrt(sum(w * w for w in wa.values()) * sum(w * w for w in wb.values()))
    return dot / norm - penalty(a, b)


# --- the index over the window ----------------------------------------------------------------


@dataclass(slots=True)
class Entry:
    """One item of the window: its lead's features and every outlet already in its story."""

    key: Any
    """The item's id, or its url while it is new in the batch being stored."""
    features: Features
    outlets: set[str] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a new article goes: ``entry`` is the story it joins (None: a new item)."""

    entry: Entry | None
    score: float
    features: Features


class ClusterIndex:
    """The window's items by (language, token). Never scanned whole: a placement reads the
    postings of the article's tokens, skipping the commonest ones, which say nothing."""

    CANDIDATES = 8
    """How many of the best partial matches are scored in full."""
    RAREST = 12
    """How many of an article's rarest tokens find its candidates."""
    COMMON = 0.05
    """A token in more than this share of a language's items (and at least 50) is not read."""

    def __init__(self, window: timedelta, threshold: float = THRESHOLD) -> None:
        self.window = window
        self.threshold = threshold
        self._entries: list[Entry] = []
        self._postings: dict[tuple[str, str], list[int]] = {}
        self._counts: dict[str, int] = {}
        self._by_key: dict[Any, int] = {}
        self._dead: set[int] = set()

    def __len__(self) -> int:
        return len(self._by_key)

    def __contains__(self, key: object) -> bool:
        return key in self._by_key

    def entry(self, key: Any) -> Entry | None:
        slot = self._by_key.get(key)
        return None if slot is None else self._entries[slot]

    def add(self, key: Any, features: Features, outlets: Iterable[str] = ()) -> Entry:
        entry = Entry(key, features, {features.outlet, *outlets} - {""})
        slot = len(self._entries)
        self._entries.append(entry)
        self._by_key[key] = slot
        language = features.language
        self._counts[language] = self._counts.get(language, 0) + 1
        for token in features.weights:
            self._postings.setdefault((language, token), []).append(slot)
        return entry

    def discard(self, keys: Iterable[Any]) -> None:
        """Forget entries (a batch whose transaction failed); they are skipped from now on
        and dropped at the next :meth:`prune`."""
        for key in keys:
            slot = self._by_key.pop(key, None)
            if slot is not None:
                self._dead.add(slot)

    def prune(self, before: datetime) -> int:
        """Drop the entries older than ``before`` (and discarded ones), so that a bot running
        for months keeps a window, not its history; returns how many were dropped. Rebuilds
        the postings: linear in the window, so it is for every few hours, not every batch."""
        keep = [
            entry
            for slot, entry in enumerate(self._entries)
            if slot not in self._dead and (entry.features.at is None or entry.features.at >= before)
        ]
        dropped = len(self._entries) - len(keep)
        if dropped:
            self._entries, self._postings, self._counts = [], {}, {}
            self._by_key, self._dead = {}, set()
            for entry in keep:
                self.add(entry.key, entry.features, entry.outlets)
        return dropped

    def idf(self, language: str) -> Callable[[str], float]:
        total = self._counts.get(language, 0)
        postings = self._postings

        def weight(token: str) -> float:
            df = len(postings.get((language, token), ()))
            return math.log((total + 1) / (df + 1)) + 1.0

        return weight

    def place(self, features: Features) -> Placement:
        """The story ``features`` belongs to, or none (a new item)."""
        language = features.language
        total = self._counts.get(language, 0)
        if not total:
            return Placement(None, 0.0, features)
        idf = self.idf(language)
        common = max(50, int(total * self.COMMON))
        postings = []
        for token, weight in features.weights.items():
            slots = self._postings.get((language, token))
            if slots and len(slots) <= common:
                postings.append((len(slots), token, weight, slots))
        # The rarest tokens (names, places, numbers) find a story's other articles; the
        # commoner ones would only add work.
        postings.sort(key=lambda posting: posting[0])
        partial: dict[int, float] = {}
        for _, token, weight, slots in postings[: self.RAREST]:
            gain = weight * idf(token) ** 2
            for slot in slots:
                partial[slot] = partial.get(slot, 0.0) + gain
        best: Entry | None = None
        best_score = 0.0
        ranked = sorted(partial, key=partial.__getitem__, reverse=True)
        checked = 0
        for slot in ranked:
            if checked >= self.CANDIDATES:
                break
            if slot in self._dead:
                continue
            entry = self._entries[slot]
            if features.outlet in entry.outlets:
                continue  # one outlet's two articles stay two items
            if vetoed(features, entry.features, self.window) is not None:
                continue
            checked += 1
            score = similarity(features, entry.features, idf)
            if score > best_score:
                best, best_score = entry, score
        if best is None or best_score < self.threshold:
            return Placement(None, best_score, features)
        return Placement(best, best_score, features)
