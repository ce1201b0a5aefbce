"""Candidate phrases for names and keywords: runs of content words, counted per paper.

A candidate is a contiguous 1..n-gram inside a run of content words: it never
crosses a stop word, a number, punctuation, LaTeX or a URL, so no "of the" and
no "method propose". Singular and plural forms count as one candidate (a
*form*), shown as the variant most papers write. A form is *nameable* when it
has at most ``max_words`` words, is not a fragment of a longer phrase
("large language" inside "large language models"), ends in a word the
corpus uses as a head noun rather than as a modifier ("training deep" ends in
"deep", which almost always precedes another word), and, as a single word, is
not an everyday English word ("scale", "image"; see :data:`EVERYDAY_ZIPF`).
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

from .keys import norm_form


def _word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Words that say nothing about a paper's topic: they make names like "proposed method".
ACADEMIC_STOP_WORDS = _word_set("""
paper papers propose proposed proposes proposing present presents presented method methods
approach approaches result results show shows shown showing based using use used uses novel new
work works study studies demonstrate demonstrates demonstrated achieve achieves achieved
significantly significant existing experiments experimental extensive comprehensive substantial
superior outperform outperforms outperforming improve improves improved improving various different
including however recent recently furthermore additionally moreover et al e g ie eg i.e e.g via
introduce introduces introduced able specifically particular particularly respectively typically
provide provides provided enable enables leverage leverages leveraging given finally first second
third previous prior crucial key main yields yield address addresses paradigm challenge
challenges problem problems art state-of-the-art sota effectiveness well widely commonly
better worse larger smaller deeper faster slower higher lower wider stronger greater fewer
argue argues emerging unique generate generates generated
""")

_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-'][A-Za-z0-9]+)*")
_LATEX = re.compile(r"\$[^$]*\$|\\[A-Za-z]+|https?://\S+|www\.\S+|\S+@\S+")
_BREAK = re.compile(r"[.,;:!?()\[\]{}\"“”/|=+*<>]")
# A name ends in a noun: these endings mark adverbs, participles and adjectives ...
_NOT_NOUN_END = re.compile(r"(ly|ed|able|ible|ous|ful|less|ive)$")
# ... except in these nouns of research writing.
_NOUN_EXCEPTIONS = frozenset(
    [
        "objective",
        "objectives",
        "derivative",
        "derivatives",
        "alternative",
        "alternatives",
        "perspective",
        "perspectives",
        "incentive",
        "incentives",
        "narrative",
        "narratives",
        "initiative",
        "initiatives",
        "speed",
        "speeds",
        "seed",
        "seeds",
        "need",
        "needs",
        "feed",
        "feeds",
        "table",
        "tables",
        "variable",
        "variables",
        "cable",
        "cables",
        "family",
        "families",
        "anomaly",
        "anomalies",
        "assembly",
        "assemblies",
        "supply",
        "reply",
        "monopoly",
    ]
)
# A word that ends a chunk less often than this (share of its occurrences) is a modifier.
MIN_END_SHARE = 0.2
FRAGMENT_SHARE = 0.7


def stop_words(extra: list[str] = ()) -> frozenset[str]:
    # scikit-learn is imported where it is used: an update that names nothing never loads it.
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS | ACADEMIC_STOP_WORDS | {w.lower() for w in extra})


def phrase_chunks(text: str, stops: frozenset[str]) -> list[list[str]]:
    """Runs of content words: stop words, numbers and punctuation end a run."""
    chunks: list[list[str]] = []
    for segment in _BREAK.split(_LATEX.sub(" . ", text)):  # LaTeX and URLs end a run
        run: list[str] = []
        for tok in segment.split():
            m = _TOKEN.fullmatch(tok.strip("'’`-"))
            word = m.group(0).lower() if m else None
            if word is None or word in stops or len(word) < 2:
                if run:
                    chunks.append(run)
                run = []
            else:
                # Interned: a corpus's runs then hold one string per distinct word (the
                # runs of 147k papers took 1.4 GB as separate strings).
                run.append(sys.intern(word))
        if run:
            chunks.append(run)
    return chunks


def run_grams(runs: list[list[str]], ngram_range: tuple[int, int]) -> list[str]:
    """The n-grams inside each run of content words (never across two runs)."""
    lo, hi = ngram_range
    grams = []
    for run in runs:
        for n in range(lo, hi + 1):
            grams.extend(" ".join(run[i : i + n]) for i in range(len(run) - n + 1))
    return grams


# Buckets of the repeated-phrase test: 2**26 (two 64 MB bit sets) keep collisions rare at
# hundreds of thousands of papers.
HASH_BITS = 26


def possibly_repeated(
    runs: list[list[list[str]]], ngram_range: tuple[int, int]
) -> Callable[[str], bool]:
    """A test true for every n-gram that two or more papers use, and for the few others that
    share a hash bucket with one.

    ``min_df=2`` drops the rest anyway, but scikit-learn's vectorizer first puts every phrase
    of every paper in its vocabulary, and most occur once: at 147k papers that dictionary
    was the largest thing in memory. Counting only what passes this test gives the same
    vocabulary and counts (a phrase in two papers always passes) from a fraction of it.
    Python's string hash is salted per process; only which rare phrases are counted and then
    dropped depends on it, never the result.
    """
    mask = (1 << HASH_BITS) - 1
    seen, again = np.zeros(mask + 1, dtype=bool), np.zeros(mask + 1, dtype=bool)
    for r in runs:
        grams = run_grams(r, ngram_range)
        h = np.unique(np.fromiter((hash(g) & mask for g in grams), np.int64, len(grams)))
        again[h[seen[h]]] = True
        seen[h] = True
    del seen
    return lambda g: bool(again[hash(g) & mask])


def make_analyzer(
    stops: frozenset[str], ngram_range: tuple[int, int]
) -> Callable[[str], list[str]]:
    def analyze(text: str) -> list[str]:
        return run_grams(phrase_chunks(text, stops), ngram_range)

    return analyze


def fragment_mask(
    vocab: np.ndarray, doc_freq: np.ndarray, share: float = FRAGMENT_SHARE
) -> np.ndarray:
    """True for an n-gram that mostly occurs inside one longer n-gram ('large language' in
    'large language models'): as a name it would read as a fragment."""
    index = {str(v): i for i, v in enumerate(vocab)}
    best_ext = np.zeros(len(vocab))
    for j, q in enumerate(vocab):
        words = str(q).split()
        if len(words) < 2:
            continue
        for part in (" ".join(words[:-1]), " ".join(words[1:])):
            i = index.get(part)
            if i is not None:
                best_ext[i] = max(best_ext[i], doc_freq[j])
    return best_ext >= share * np.maximum(doc_freq, 1)


def end_shares(texts: list[str], stops: frozenset[str]) -> dict[str, float]:
    """For each word, the share of its occurrences that end a run of content words.

    A head noun often ends a run ("retrieval", "laws"); a modifier almost never
    does ("deep", "neural", "large"): the data tells them apart without a tagger.
    """
    return run_end_shares([phrase_chunks(text, stops) for text in texts])


def run_end_shares(runs_per_text: list[list[list[str]]]) -> dict[str, float]:
    """:func:`end_shares` of texts already cut into runs."""
    ends, total = Counter(), Counter()
    for runs in runs_per_text:
        for run in runs:
            total.update(run)
            ends[run[-1]] += 1
    return {w: ends[w] / n for w, n in total.items()}


def ends_in_a_noun(phrase: str, end_share: dict[str, float]) -> bool:
    last = phrase.split()[-1].lower()
    if last in _NOUN_EXCEPTIONS:
        return True
    if _NOT_NOUN_END.search(last):
        return False
    return end_share.get(last, 1.0) >= MIN_END_SHARE


# A single word everyday English uses this often names no topic on its own ("scale", "image",
# "error", "quantum", "models"): wordfreq's Zipf scale, where 4 is ten uses per million words
# of general text. A field's own terms are rarer ("retrieval" 3.3, "superconductivity" 2.5,
# "embeddings" 1.8); such words still name topics inside phrases ("image segmentation").
EVERYDAY_ZIPF = 4.0


def everyday_word(word: str) -> bool:
    """True for a plain word too common in general English to name a topic alone."""
    if not word.isalpha():  # hyphenated compounds and words with digits are specific
        return False
    from wordfreq import zipf_frequency

    return zipf_frequency(word, "en") >= EVERYDAY_ZIPF


class Vocabulary:
    """Candidate phrases of a corpus and which papers use each (singular and plural merged).

    Attributes
    ----------
    doc_terms : csr (papers x n-grams) counts; ``vocab`` the n-grams, ``n_words`` their lengths.
    present : csr (papers x forms) 0/1; ``forms`` the merged forms, ``surface`` how they are shown,
        ``df`` papers per form, ``nameable`` which forms may be names, ``longer`` for each form the
        nameable longer forms that contain it.
    """

    def __init__(
        self,
        texts: list[str],
        stops: frozenset[str],
        ngram_range: tuple[int, int],
        max_words: int,
    ):
        # Each text is cut into runs once; the counts and the head-noun shares both read them.
        from sklearn.feature_extraction.text import CountVectorizer

        runs = [phrase_chunks(text, stops) for text in texts]
        min_df = 2 if len(texts) >= 20 else 1
        repeated = possibly_repeated(runs, ngram_range) if min_df == 2 else None

        def analyze(r: list[list[str]]) -> list[str]:
            grams = run_grams(r, ngram_range)
            return grams if repeated is None else [g for g in grams if repeated(g)]

        vectorizer = CountVectorizer(analyzer=analyze, min_df=min_df)
        self.doc_terms = vectorizer.fit_transform(runs).tocsr()
        self.vocab = vectorizer.get_feature_names_out()
        self.n_words = np.array([len(v.split()) for v in self.vocab])
        self.plain_word = np.array([v.isalnum() for v in self.vocab])
        doc_freq = np.asarray((self.doc_terms > 0).sum(axis=0)).ravel()
        self.fragment = fragment_mask(self.vocab, doc_freq)
        self._merge_forms(doc_freq, max_words, run_end_shares(runs))

    def _merge_forms(self, doc_freq: np.ndarray, max_words: int, shares: dict[str, float]) -> None:
        forms = [norm_form(str(v)) for v in self.vocab]
        group_of = {f: g for g, f in enumerate(dict.fromkeys(forms))}
        cols = np.array([group_of[f] for f in forms], dtype=np.int64)
        merge = sp.csr_matrix(
            (np.ones(len(forms)), (np.arange(len(forms)), cols)), shape=(len(forms), len(group_of))
        )
        self.present = ((self.doc_terms @ merge) > 0).astype(np.float32).tocsr()
        self.forms = np.array(list(group_of), dtype=object)
        self.df = np.asarray(self.present.sum(axis=0)).ravel()
        surface = [""] * len(group_of)
        best = np.full(len(group_of), -1.0)
        for i, g in enumerate(cols):
            if doc_freq[i] > best[g]:
                best[g], surface[g] = doc_freq[i], str(self.vocab[i])
        self.surface = np.array(surface, dtype=object)
        self.form_words = np.array([len(f.split()) for f in self.forms])
        self.nameable = (
            (self.form_words <= max_words)
            & ~fragment_mask(self.forms, self.df)
            & np.array([ends_in_a_noun(s, shares) for s in surface])
            & ~np.array([n == 1 and everyday_word(s) for n, s in zip(self.form_words, surface)])
        )
        # Longer forms containing each form, for the "yield to a more specific phrase" rule.
        self.longer: dict[int, list[int]] = {}
        for j, f in enumerate(self.forms):
            if not self.nameable[j]:
                continue
            words = f.split()
            for n in range(1, len(words)):
                for k in range(len(words) - n + 1):
                    i = group_of.get(" ".join(words[k : k + n]))
                    if i is not None:
                        self.longer.setdefault(i, []).append(j)

    # --- as arrays, for the stage cache (taxonomy.naming.extractive.vocabulary) ----------------

    _MATRICES = ("doc_terms", "present")
    _ARRAYS = ("vocab", "n_words", "plain_word", "fragment", "forms", "df", "surface",
               "form_words", "nameable")  # fmt: skip
    _STRINGS = ("vocab", "forms", "surface")

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Every attribute as plain arrays (no pickles): :meth:`from_arrays` reads them back."""
        out: dict[str, np.ndarray] = {}
        for name in self._MATRICES:
            m = getattr(self, name)
            out |= {
                f"{name}.data": m.data,
                f"{name}.indices": m.indices,
                f"{name}.indptr": m.indptr,
                f"{name}.shape": np.array(m.shape, dtype=np.int64),
            }
        for name in self._ARRAYS:
            a = getattr(self, name)
            out[name] = a.astype(str) if name in self._STRINGS else np.asarray(a)
        keys = sorted(self.longer)
        out["longer.keys"] = np.array(keys, dtype=np.int64)
        out["longer.counts"] = np.array([len(self.longer[k]) for k in keys], dtype=np.int64)
        out["longer.values"] = np.array([j for k in keys for j in self.longer[k]], dtype=np.int64)
        return out

    @classmethod
    def from_arrays(cls, a: dict[str, np.ndarray]) -> Vocabulary:
        v = cls.__new__(cls)
        for name in cls._MATRICES:
            parts = (a[f"{name}.data"], a[f"{name}.indices"], a[f"{name}.indptr"])
            setattr(v, name, sp.csr_matrix(parts, shape=tuple(a[f"{name}.shape"])))
        for name in cls._ARRAYS:
            setattr(v, name, a[name].astype(object) if name in cls._STRINGS else a[name])
        ends = np.cumsum(a["longer.counts"])
        starts = ends - a["longer.counts"]
        v.longer = {
            int(k): a["longer.values"][s:e].tolist()
            for k, s, e in zip(a["longer.keys"], starts, ends)
        }
        return v

    def doc_freq_in(self, doc_idx: np.ndarray) -> np.ndarray:
        """Papers among ``doc_idx`` using each form."""
        return np.asarray(self.present[doc_idx].sum(axis=0)).ravel()


def surface_case(phrase: str, texts: list[str]) -> str:
    """Keep acronyms and mixed case as the papers write them ('LLMs', 'BEIR'); else lower case."""
    words = phrase.split()
    counts: dict[str, Counter] = {w: Counter() for w in words}
    for text in texts[:200]:
        for tok in re.findall(r"[A-Za-z][A-Za-z0-9\-']*", text):
            low = tok.lower()
            if low in counts:
                counts[low][tok] += 1
    out = []
    for w in words:
        form = counts[w].most_common(1)[0][0] if counts[w] else w
        out.append(form if any(c.isupper() for c in form[1:]) else w)
    return " ".join(out)
