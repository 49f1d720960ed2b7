"""Risk rules over customer messages, built on spaCy's PhraseMatcher and Matcher.

Blank ``zh`` and ``en`` pipelines (tokenizers only, nothing downloaded): Chinese is
split into characters, so a Chinese phrase matches anywhere in a sentence; English
is matched on lower-cased tokens. The concepts found in a message are combined by
the rules of ``rules.yml`` (all / any / unless). Thread-safe after construction;
built once per process by `default_detector()`.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import spacy
import yaml
from spacy.matcher import Matcher, PhraseMatcher

from actions.language import written_language
from actions.pii import find_pii, mask_pii

RULES_FILE = Path(__file__).resolve().parent / "rules.yml"
EXCERPT_CHARS = 60  # characters of context kept around the evidence
_CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")


@dataclass(frozen=True)
class MessageRule:
    """One message rule of rules.yml."""

    id: str
    version: int
    category: str
    score: float
    all: tuple[str, ...]
    any: tuple[str, ...] = ()
    unless: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> MessageRule:
        """Parse and check one rule entry."""
        rule = cls(
            id=str(raw["id"]),
            version=int(raw["version"]),
            category=str(raw["category"]),
            score=float(raw["score"]),
            all=tuple(raw.get("all") or ()),
            any=tuple(raw.get("any") or ()),
            unless=tuple(raw.get("unless") or ()),
        )
        if not rule.all:
            raise ValueError(f"risk rule {rule.id} needs at least one `all` concept")
        if not 0 < rule.score <= 1:
            raise ValueError(f"risk rule {rule.id}: score must be in (0, 1]")
        return rule


@dataclass(frozen=True)
class RiskHit:
    """A rule that fired, with its evidence (personal data masked)."""

    rule_id: str
    rule_version: int
    category: str
    score: float
    excerpt: str
    concepts: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form, as put into the NLU parse result."""
        return {
            "rule_id": self.rule_id,
            "rule_version": self.rule_version,
            "category": self.category,
            "score": self.score,
            "excerpt": self.excerpt,
            "concepts": list(self.concepts),
        }


@dataclass(frozen=True)
class RiskAssessment:
    """Every rule that fired on one message; empty when the message is fine."""

    ruleset: str
    language: str
    hits: tuple[RiskHit, ...] = field(default_factory=tuple)

    @property
    def score(self) -> float:
        """The highest score of any hit (0 when nothing fired)."""
        return max((h.score for h in self.hits), default=0.0)

    @property
    def category(self) -> str | None:
        """The category of the strongest hit."""
        best = max(self.hits, key=lambda h: h.score, default=None)
        return best.category if best else None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form, as put into the NLU parse result under ``risk``."""
        return {
            "ruleset": self.ruleset,
            "language": self.language,
            "score": self.score,
            "category": self.category,
            "hits": [h.as_dict() for h in self.hits],
        }


def excerpt(text: str, start: int, end: int, width: int = EXCERPT_CHARS) -> str:
    """The evidence span with some context, personal data masked, one line.

    The window is widened to whole pieces of personal data before masking: a card
    number cut in half at the edge would no longer be recognised, and would leak.
    """
    pad = max(0, (width - (end - start)) // 2)
    lo, hi = max(0, start - pad), min(len(text), end + pad)
    for match in find_pii(text):
        if match.start < lo < match.end:
            lo = match.start
        if match.start < hi < match.end:
            hi = match.end
    piece = " ".join(text[lo:hi].split())
    return ("…" if lo else "") + mask_pii(piece) + ("…" if hi < len(text) else "")


class _LanguageMatcher:
    """The concept matchers of one language."""

    def __init__(
        self,
        lang: str,
        concepts: Mapping[str, Sequence[str]],
        patterns: Mapping[str, Sequence[Any]],
    ) -> None:
        self.lang = lang
        self.nlp = spacy.blank(lang)
        if lang == "zh":
            # Chinese is split into characters: a Latin-only entry would match inside
            # any English word ("eth" in "method"). English lists cover those.
            latin = [
                w for ws in concepts.values() for w in ws if not _CJK.search(str(w))
            ]
            if latin:
                raise ValueError(f"zh risk concepts need Chinese characters: {latin}")
        self.phrases = PhraseMatcher(self.nlp.vocab, attr="LOWER")
        for name, words in concepts.items():
            docs = [self.nlp.make_doc(str(w)) for w in words if str(w).strip()]
            self.phrases.add(name, docs)
        self.tokens = Matcher(self.nlp.vocab)
        for name, token_patterns in patterns.items():
            self.tokens.add(name, list(token_patterns))
        self.names = set(concepts) | set(patterns)

    def find(self, text: str) -> dict[str, tuple[int, int]]:
        """Concept name → character span of its first occurrence in `text`."""
        if self.lang != "zh":
            # "帮我transfer 5w到USDT": blank Chinese out (same length, so the offsets
            # stay right) and the English words stand as tokens of their own.
            text = _CJK.sub(" ", text)
        doc = self.nlp.make_doc(text)
        found: dict[str, tuple[int, int]] = {}
        raw = list(self.phrases(doc))
        if len(self.tokens):
            raw += self.tokens(doc)
        matches = sorted(raw, key=lambda m: (m[1], m[2]))
        for match_id, start, end in matches:
            name = self.nlp.vocab.strings[match_id]
            if name not in found:
                span = doc[start:end]
                found[name] = (span.start_char, span.end_char)
        return found


class RiskDetector:
    """Finds risky requests in customer messages, in Chinese and English."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.version = str(config["version"])
        self.rules = tuple(MessageRule.from_dict(r) for r in config["rules"])
        patterns = config.get("patterns") or {}
        self._matchers = {
            lang: _LanguageMatcher(lang, concepts, patterns.get(lang) or {})
            for lang, concepts in config["concepts"].items()
        }
        self._lock = threading.Lock()  # spaCy's vocab grows on unseen words
        for rule in self.rules:
            for lang, matcher in self._matchers.items():
                unknown = set(rule.all + rule.any + rule.unless) - matcher.names
                if unknown:
                    raise ValueError(
                        f"risk rule {rule.id} uses concepts missing in {lang}: "
                        f"{sorted(unknown)}"
                    )

    @classmethod
    def from_file(cls, path: Path = RULES_FILE) -> RiskDetector:
        """The detector described by a rules file."""
        return cls(yaml.safe_load(path.read_text(encoding="utf-8")))

    def concepts(self, text: str) -> dict[str, tuple[int, int]]:
        """Every concept found in either language's word lists (for debugging rules)."""
        found: dict[str, tuple[int, int]] = {}
        with self._lock:
            for lang in self._languages_for(text):
                for name, span in self._matchers[lang].find(text).items():
                    found.setdefault(name, span)
        return found

    def assess(self, text: str) -> RiskAssessment:
        """Run every message rule over `text`.

        Mixed messages ("帮我transfer 5w到USDT") are matched with both languages'
        word lists.

        Args:
            text: the customer's message, raw (evidence excerpts are masked).

        Returns:
            The rules that fired, strongest first.
        """
        language = written_language(text) or "zh"
        if not text.strip():
            return RiskAssessment(self.version, language)
        found = self.concepts(text)
        hits = [self._hit(rule, found, text) for rule in self.rules]
        ranked = sorted((h for h in hits if h), key=lambda h: -h.score)
        return RiskAssessment(self.version, language, tuple(ranked))

    def _languages_for(self, text: str) -> Iterable[str]:
        has_cjk = any("\u4e00" <= ch <= "\u9fff" for ch in text)
        has_latin = any("a" <= ch.lower() <= "z" for ch in text)
        if has_cjk and "zh" in self._matchers:
            yield "zh"
        if (has_latin or not has_cjk) and "en" in self._matchers:
            yield "en"

    @staticmethod
    def _hit(
        rule: MessageRule, found: Mapping[str, tuple[int, int]], text: str
    ) -> RiskHit | None:
        if not all(c in found for c in rule.all):
            return None
        if rule.any and not any(c in found for c in rule.any):
            return None
        if any(c in found for c in rule.unless):
            return None
        used = [c for c in (*rule.all, *rule.any) if c in found]
        spans = [found[c] for c in used]
        start, end = min(s for s, _ in spans), max(e for _, e in spans)
        return RiskHit(
            rule_id=rule.id,
            rule_version=rule.version,
            category=rule.category,
            score=rule.score,
            excerpt=excerpt(text, start, end),
            concepts=tuple(used),
        )


@lru_cache(maxsize=1)
def default_detector() -> RiskDetector:
    """The process-wide detector over `rules.yml` (built on first use, ~0.2 s)."""
    return RiskDetector.from_file()
