"""`tonecraft detect FILE...`: is this audio watermarked by tonecraft, with what payload, and where.

    tonecraft detect song.wav clip.mp3          # per file: watermarked yes/no, score, payload, windows
    tonecraft detect *.wav --json               # one JSON object per file
    tonecraft detect gen.wav --prompt "lofi beat" --seed 3     # does the payload match this prompt and seed?

Exit status 0 when every file could be read (whatever was found), 1 when one could not.
"""
from __future__ import annotations

import argparse
import json
import sys


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", metavar="FILE", help="audio files (wav, flac, ogg, opus, mp3, aiff)")
    p.add_argument("--json", action="store_true", help="one JSON object per file")
    p.add_argument("--no-windows", dest="windows", action="store_false",
                   help="only the whole-file verdict (faster on long files)")
    p.add_argument("--prompt", default=None, help="check the payload's hash against this prompt (with --seed)")
    p.add_argument("--seed", type=int, default=None, help="the seed that goes with --prompt")


def claim_check(found, prompt: str | None, seed: int | None) -> str | None:
    """Whether a claimed prompt and seed hash to the decoded payload's (None when nothing is claimed)."""
    from ..provenance.payload import prompt_hash

    if prompt is None and seed is None:
        return None
    if found.payload is None:
        return "cannot check: no payload decoded"
    ok = prompt_hash(prompt or None, seed) == found.payload.prompt_hash
    return ("matches" if ok else "does not match") + " the payload's prompt/seed hash"


def format_detection(path: str, found, claim: str | None = None) -> str:
    """Readable lines for one file."""
    from ..provenance.scheme import THRESHOLD

    rows = [("watermarked", "yes" if found.watermarked else "no"),
            ("score", f"{found.score:.1f} (unmarked audio scores ~0-4; threshold {THRESHOLD:g})")]
    if found.message:
        rows.append(("note", found.message))
    if found.payload is not None:
        d = found.payload.describe()
        model = d["model"] or "not a known model name"
        rows.append(("payload", f"{d['hex']}: tonecraft marker, model id {d['model_id']} ({model}), "
                                f"prompt/seed hash {d['prompt_hash']}"))
    elif found.watermarked:
        rows.append(("payload", "not decoded (the mark is there but too damaged for the 32 bits)"))
    if claim:
        rows.append(("prompt/seed", claim))
    if found.windows:
        marks = [f"{w.start:.1f}-{w.end:.1f} s {'yes' if w.watermarked else 'no'} ({w.score:.1f})"
                 for w in found.windows]
        rows.append(("windows", "; ".join(marks)))
    width = max(len(k) for k, _ in rows)
    return path + "\n" + "\n".join(f"  {k:<{width}}  {v}" for k, v in rows)


def run(args: argparse.Namespace) -> int:
    from ..audio import load_audio
    from ..errors import TonecraftError
    from ..provenance import detect

    status = 0
    for path in args.files:
        try:
            wav, sr = load_audio(path)
        except TonecraftError as exc:
            print(f"tonecraft detect: error: {exc}", file=sys.stderr)
            status = 1
            continue
        found = detect(wav, sr, windows=args.windows)
        claim = claim_check(found, args.prompt, args.seed)
        if args.json:
            print(json.dumps({"file": path, **found.as_dict(), **({"claim": claim} if claim else {})}))
        else:
            print(format_detection(path, found, claim))
        sys.stdout.flush()
    return status
