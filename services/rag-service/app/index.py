"""A small TF-IDF index with cosine ranking; rebuilt in place when documents change."""

from __future__ import annotations

import math
import re
import threading
from collections import Counter
from dataclasses import dataclass

TOKEN = re.compile(r"[a-z0-9]+")
STOPWORDS = frozenset("a an and the of to in on is are be for with and or it its that this".split())


class IndexBusy(Exception):
    """The index is being rebuilt; try again shortly."""


@dataclass(frozen=True)
class Document:
    doc_id: str
    text: str


@dataclass(frozen=True)
class Hit:
    doc_id: str
    score: float
    text: str


def tokenize(text: str) -> list[str]:
    return [t for t in TOKEN.findall(text.lower()) if t not in STOPWORDS]


class TfidfIndex:
    def __init__(self) -> None:
        self._docs: dict[str, Document] = {}
        self._vectors: dict[str, dict[str, float]] = {}
        self._idf: dict[str, float] = {}
        self._lock = threading.Lock()
        self.building = False
        self.generation = 0

    def __len__(self) -> int:
        return len(self._docs)

    def add(self, documents: list[Document]) -> None:
        with self._lock:
            for doc in documents:
                self._docs[doc.doc_id] = doc
        self.rebuild()

    def rebuild(self) -> None:
        self.building = True
        try:
            with self._lock:
                docs = list(self._docs.values())
            frequencies = {d.doc_id: Counter(tokenize(d.text)) for d in docs}
            document_frequency = Counter(term for counts in frequencies.values() for term in counts)
            total = len(docs)
            idf = {term: math.log((1 + total) / (1 + df)) + 1 for term, df in document_frequency.items()}
            vectors = {}
            for doc_id, counts in frequencies.items():
                vector = {term: count * idf[term] for term, count in counts.items()}
                norm = math.sqrt(sum(v * v for v in vector.values())) or 1.0
                vectors[doc_id] = {term: v / norm for term, v in vector.items()}
            with self._lock:
                self._idf, self._vectors = idf, vectors
                self.generation += 1
        finally:
            self.building = False

    def search(self, query: str, k: int = 3) -> list[Hit]:
        if self.building:
            raise IndexBusy("index rebuild in progress")
        with self._lock:
            counts = Counter(t for t in tokenize(query) if t in self._idf)
            vector = {t: c * self._idf[t] for t, c in counts.items()}
            norm = math.sqrt(sum(v * v for v in vector.values())) or 1.0
            scores = []
            for doc_id, doc_vector in self._vectors.items():
                score = sum(weight / norm * doc_vector.get(term, 0.0) for term, weight in vector.items())
                if score > 0:
                    scores.append(Hit(doc_id, round(score, 4), self._docs[doc_id].text))
        return sorted(scores, key=lambda h: (-h.score, h.doc_id))[:k]
