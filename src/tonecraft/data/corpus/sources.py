"""Which music21 works may enter the corpus, with their licence notes and caption vocabulary.

Only collections whose encodings allow derivatives and commercial use are listed. Left out on purpose:
essenFolksong (non-commercial permission only), palestrina and every Humdrum `.krn` file (CCARH /
encoder notices reserve derivative formats), beethoven / haydn / mozart (CCARH-derived encodings),
monteverdi (Ut Orpheus edition copyright), and files whose rights field is an empty "Copyright ©".
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .deps import load_music21


@dataclass(frozen=True)
class Collection:
    name: str
    licence: str
    genre: str  # one keyword for the sidecar `genre`
    style: str  # caption noun phrase when the tune gives no better one
    origin: str = ""  # caption adjective ("Irish")
    artist: str = "traditional"
    folk: bool = True  # single-line dance tunes and airs (tempo and instrument tables differ)


PD = "public-domain composition"
M21 = "encoding distributed with the music21 corpus (BSD-licensed toolkit, used with permission)"
COLLECTIONS: dict[str, Collection] = {c.name: c for c in [
    Collection("oneills1850", f"{PD}; O'Neill's Music of Ireland (1903) transcribed to ABC; {M21}",
               "folk", "folk tune", "Irish"),
    Collection("ryansMammoth", f"{PD}; Ryan's Mammoth Collection (1883) ABC transcription; {M21}",
               "folk", "fiddle tune", "traditional"),
    Collection("airdsAirs", f"{PD}; Aird's Selection of Scotch, English, Irish and Foreign Airs (1782-97) "
               f"ABC transcription; {M21}", "folk", "folk tune", "Scottish"),
    Collection("miscFolk", f"{PD}; traditional tunes (American fife, Northumbrian minstrelsy); {M21}",
               "folk", "folk tune", "traditional"),
    Collection("bach", f"{PD}; J. S. Bach chorale harmonisations; {M21}", "classical",
               "four-part Bach chorale", artist="Johann Sebastian Bach", folk=False),
    Collection("josquin", f"{PD}; encoding (C) 1999 Laura E. Conrad, GPL-2.0-or-later", "classical",
               "Renaissance motet", artist="Josquin des Prez", folk=False),
    Collection("trecento", f"{PD}; 14th-century Italian polyphony encoded by M. S. Cuthbert; {M21}",
               "classical", "medieval Italian song", artist="anonymous", folk=False),
    Collection("ciconia", f"{PD}; encoding CC-BY-SA-3.0 M. S. Cuthbert", "classical",
               "medieval motet", artist="Johannes Ciconia", folk=False),
    Collection("luca", f"{PD}; encoding CC-BY-SA-3.0 M. S. Cuthbert", "classical", "medieval Gloria",
               artist="anonymous", folk=False),
    Collection("corelli", f"{PD}; encoding CC-BY", "classical", "Baroque trio sonata",
               artist="Arcangelo Corelli", folk=False),
    Collection("cpebach", f"{PD}; {M21}", "classical", "Baroque keyboard piece", artist="C. P. E. Bach", folk=False),
    Collection("handel", f"{PD}; {M21}", "classical", "Baroque aria", artist="George Frideric Handel", folk=False),
    Collection("joplin", f"{PD}; {M21}", "classical", "ragtime piece", artist="Scott Joplin", folk=False),
    Collection("verdi", f"{PD}; {M21}", "classical", "opera aria", artist="Giuseppe Verdi", folk=False),
    Collection("weber", f"{PD}; encoding released to the public domain (1998)", "classical",
               "Romantic concertino", artist="Carl Maria von Weber", folk=False),
    Collection("schumann_robert", f"{PD}; {M21}", "classical", "Romantic piece", artist="Robert Schumann",
               folk=False),
    Collection("johnson_j_r", f"{PD}; encoding CC0 (M. S. Cuthbert)", "classical", "hymn",
               artist="J. Rosamond Johnson", folk=False),
    Collection("liliuokalani", f"{PD}; encoding CC0 (M. S. Cuthbert)", "classical", "Hawaiian song",
               artist="Liliuokalani", folk=False),
    Collection("lusitano", f"{PD}; encoding CC0 (M. S. Cuthbert)", "classical", "Renaissance motet",
               artist="Vicente Lusitano", folk=False),
    Collection("leadSheet", f"{PD}; encoding marked Public Domain", "classical", "ragtime song",
               artist="Irving Berlin", folk=False),
    Collection("beach", f"{PD} (published 1915, US public domain); {M21}", "classical", "Romantic piano piece",
               artist="Amy Beach", folk=False),
]}
DEFAULT_COLLECTIONS = tuple(COLLECTIONS)
EXCLUDED_NOTE = {
    "essenFolksong": "Essen encodings: non-commercial use only",
    "palestrina": "Humdrum encodings (c) John Miller: rights to derivative formats reserved",
    "beethoven": "CCARH-derived encodings with copyright notices",
    "haydn": "CCARH-derived encodings", "mozart": "CCARH-derived encodings",
    "monteverdi": "Ut Orpheus Edizioni edition copyright",
    "schubert": "unclear 'Copyright' rights field", "schumann_clara": "unclear 'Copyright' rights field",
    "demos": "unclear 'Copyright' rights field", "chopin": "Humdrum (.krn) encoding only",
    "schoenberg": "20th-century works, rights unclear outside the US", "webern": "CC-BY-SA edition, PD status varies",
    "nottingham-dataset": "licence not stated", "theoryExercises": "exercises, not music",
}
SCORE_EXTENSIONS = (".abc", ".mxl", ".xml", ".musicxml")  # never .krn (restricted) or .rntxt (analyses)


@dataclass(frozen=True)
class Work:
    """One tune or movement in the music21 corpus."""

    piece_id: str  # "oneills1850/0001-0050#6", "bach/bwv66.6"
    collection: str
    path: str  # relative to the music21 corpus folder
    number: int | None  # ABC reference number (X:) inside a multi-tune book
    title: str | None
    tune_key: str  # what the train/valid/test split hashes: same tune -> same split

    @property
    def book(self) -> str:
        return self.path


_WORD = re.compile(r"[a-z0-9]+")
_GENERIC = {"the", "a", "an", "no", "or", "and", "of", "tune", "air", "reel", "jig", "hornpipe", "march",
            "strathspey", "waltz", "setting", "version", "slow", "quick", "step"}


def tune_key(collection: str, piece_id: str, title: str | None) -> str:
    """Group settings of one tune: folk tunes by normalised title, Bach by BWV number without suffix."""
    if collection == "bach":
        stem = piece_id.split("/", 1)[1]
        return "bach/" + re.sub(r"-[a-z]+$", "", stem)
    if COLLECTIONS[collection].folk and title:
        words = [w for w in _WORD.findall(title.lower()) if w not in _GENERIC]
        if len(words) >= 2 or (words and len(words[0]) >= 5):
            return "tune/" + " ".join(words)
    return piece_id


def corpus_root() -> Path:
    m21 = load_music21()
    return Path(m21.__file__).parent / "corpus"


def list_works(collections: tuple[str, ...] | list[str] = DEFAULT_COLLECTIONS) -> list[Work]:
    """All allowed works, sorted by (path, number): a stable order for a given music21 version."""
    return list(_list_works(tuple(collections)))


@lru_cache(maxsize=4)
def _list_works(collections: tuple[str, ...]) -> tuple[Work, ...]:
    unknown = [c for c in collections if c not in COLLECTIONS]
    if unknown:
        from ...errors import ConfigError

        why = "; ".join(f"{c}: {EXCLUDED_NOTE.get(c, 'not a music21 collection')}" for c in unknown)
        raise ConfigError(f"music21 collection(s) not allowed ({why}); choose from {', '.join(COLLECTIONS)}")
    m21 = load_music21()
    bundle = m21.corpus.corpora.CoreCorpus().metadataBundle
    wanted = set(collections)
    works = []
    for entry in bundle._metadataEntries.values():
        rel = str(entry.sourcePath).replace("\\", "/")
        col = rel.split("/", 1)[0]
        if col not in wanted or not rel.lower().endswith(SCORE_EXTENSIONS):
            continue
        number = int(entry.number) if entry.number not in (None, "") else None
        md = entry.metadata
        title = (getattr(md, "title", None) or getattr(md, "movementName", None) or None)
        if title and re.search(r"\.(mxl|xml|musicxml|abc)$", str(title)):
            title = None
        stem = rel.rsplit(".", 1)[0]
        pid = f"{stem}#{number}" if number is not None else stem
        works.append(Work(pid, col, rel, number, str(title) if title else None,
                          tune_key(col, pid, str(title) if title else None)))
    works.sort(key=lambda w: (w.path, w.number if w.number is not None else -1))
    numbered = {w.path for w in works if w.number is not None}
    out, seen = [], set()
    for w in works:  # drop the whole-book entry of multi-tune files and .xml/.mxl twins
        if (w.number is None and w.path in numbered) or w.piece_id in seen:
            continue
        seen.add(w.piece_id)
        out.append(w)
    return tuple(out)
