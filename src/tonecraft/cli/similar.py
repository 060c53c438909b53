"""`tonecraft similar FILE --against CACHE_OR_MANIFEST`: the training clips most like FILE, and near copies.

    tonecraft similar gen.wav --against ~/data/cache --top 5      # token cache: codec tokens + chroma
    tonecraft similar gen.wav --against train.jsonl               # manifest: chroma only

A stretch of >= 2 s that matches a training clip's codec tokens (or its chroma, transposed or not) is flagged
as a near copy (`eval/similar.py` says how).
"""
from __future__ import annotations

import argparse
import json


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="audio file to check (e.g. a generated clip)")
    p.add_argument("--against", required=True, metavar="CACHE_OR_MANIFEST",
                   help="a token cache folder (tonecraft data cache) or a manifest (.jsonl[.gz])")
    p.add_argument("--top", type=int, default=5, help="how many training clips to list")
    p.add_argument("--codec", default=None,
                   help="codec that made the token cache (default: the one its index names)")
    p.add_argument("--chroma-candidates", type=int, default=20,
                   help="with a token cache: compare the chroma of this many best token matches")
    p.add_argument("--json", action="store_true", help="print the results as JSON")


def _line(s) -> str:
    out = [f"{s.path}{'  NEAR COPY' if s.near_copy else ''}"]
    if s.tokens:
        t = s.tokens
        out.append(f"    tokens  query {t.query_start:.2f}-{t.query_end:.2f} s = clip {t.item_start:.2f}-"
                   f"{t.item_end:.2f} s ({t.seconds:.2f} s, {100 * t.score:.0f} % of frames)")
    if s.chroma:
        c = s.chroma
        shift = f", transposed {'+' if c.shift <= 6 else ''}{c.shift if c.shift <= 6 else c.shift - 12}" \
            if c.shift else ""
        out.append(f"    chroma  query {c.query_start:.2f}-{c.query_end:.2f} s ~ clip {c.item_start:.2f}-"
                   f"{c.item_end:.2f} s, cosine {c.score:.2f}{shift}")
    return "\n".join(out)


def run(args: argparse.Namespace) -> int:
    from ..audio import load_audio
    from ..errors import ConfigError
    from ..eval.similar import find_similar, load_against

    if args.top < 1:
        raise ConfigError(f"--top must be at least 1, got {args.top}")
    cache, paths = load_against(args.against)
    wav, sr = load_audio(args.file)
    codes = None
    if cache is not None:
        codec_name = args.codec or cache.codec
        if not codec_name:
            raise ConfigError(f"{args.against} does not name the codec that made it: pass --codec NAME")
        from ..data.token_cache import encode_codes
        from ..pretrained.codec_loading import load_codec

        codec = load_codec(codec_name)
        q, _ = load_audio(args.file, sample_rate=cache.sample_rate, channels=int(cache.index.get("channels", 1)))
        codes = encode_codes(codec, q[None])[0]
    found = find_similar(wav, sr, cache=cache, query_codes=codes, audio_paths=paths, top=args.top,
                         chroma_candidates=args.chroma_candidates)
    if args.json:
        print(json.dumps({"file": args.file, "near_copy": any(s.near_copy for s in found),
                          "matches": [s.as_dict() for s in found]}, indent=2))
        return 0
    verdict = "near copy found" if any(s.near_copy for s in found) else "no near copy (>= 2 s)"
    print(f"{args.file}: {verdict}; {len(found)} most similar of {len(paths)} clips")
    for i, s in enumerate(found, 1):
        print(f"{i}. {_line(s)}")
    return 0
