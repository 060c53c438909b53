"""Issue 18's codec targets for one or more codecs side by side (`tonecraft.eval.codec_targets`): the instrument
probe through the codec vs raw (target: keeps >= 90 %), onsets per second (within 15 %), SI-SNR (>= 6 dB).

    .venv/bin/python bench/codec_targets.py --codec tonecraft-default $DATA/runs/default_codec_dec/checkpoint.pt \
        --corpus $DATA/corpus-v1

--codec: codec or model names, codec / model folders, codec training checkpoints.
--corpus: a `tonecraft corpus music` folder: the probe trains on its raw train clips, scores its test clips.
One thread, deterministic (seeded clip choice). Tonal artefacts: bench/codec_tonal.py.
"""
from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import torch  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--codec", nargs="+", required=True, help="codec / model names, folders or checkpoint.pt")
    p.add_argument("--corpus", required=True, help="corpus folder (train clips for the probe, test clips scored)")
    p.add_argument("--n-train", type=int, default=300, help="raw train clips the probe learns from")
    p.add_argument("--n-heldout", type=int, default=200, help="held-out clips scored raw and through each codec")
    p.add_argument("--seconds", type=float, default=8.0, help="crop of each clip")
    p.add_argument("--min-class-count", type=int, default=10, help="probe classes with fewer train clips left out")
    p.add_argument("--no-codec-trained", action="store_true",
                   help="skip the probe trained through each codec (saves one round trip per train clip)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None, help="write the full report here")
    return p.parse_args(argv)


def main(argv=None) -> int:
    from tonecraft.errors import TonecraftError
    from tonecraft.eval.codec_targets import format_table, measure
    from tonecraft.eval.labels import load_split
    from tonecraft.eval.runner import load_eval_codec
    from tonecraft.eval.report import write_json

    a = parse_args(argv)
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    try:
        codecs = {spec: load_eval_codec(spec) for spec in a.codec}
        train = load_split(a.corpus, "train", a.n_train, a.seed)
        held = load_split(a.corpus, "test", a.n_heldout, a.seed)
        report = measure(codecs, train, held, a.seconds, a.min_class_count, not a.no_codec_trained)
    except (TonecraftError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    report["config"], report["seconds"] = vars(a), time.perf_counter() - t0
    print(format_table(report))
    print(f"({report['seconds']:.0f} s)")
    if a.json:
        print(f"wrote {write_json(a.json, report)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
