"""EnCodec speed: tonecraft `Codec` vs the `encodec` package, same random-weight 24 kHz model, same run.

encodec_24khz architecture with random weights (and random codebooks), 6 kbps (8 codebooks), 10 s of
mono audio. Each repeat times reference and ours back to back (encode, then decode) so machine load
hits both alike; prints the best and median of the repeats as real-time factors (audio seconds per
second of compute) and our speed-up (never asserted). Also checks codes are identical.

    .venv/bin/python bench/codec.py                    # default threads
    .venv/bin/python bench/codec.py --threads 1 --repeats 9
    .venv/bin/python bench/codec.py --profile          # torch.profiler tables of our encode / decode
"""
from __future__ import annotations

import argparse
import importlib.machinery
import importlib.util
import statistics
import sys
import tempfile
import time
import types
from pathlib import Path

import torch


def _stub_torchaudio() -> None:
    """`encodec` imports torchaudio for file helpers we never call; register an empty module."""
    if importlib.util.find_spec("torchaudio") is None:
        mod = types.ModuleType("torchaudio")
        mod.__spec__ = importlib.machinery.ModuleSpec("torchaudio", loader=None)
        sys.modules["torchaudio"] = mod


def build_reference(seed: int = 0):
    from encodec import EncodecModel
    torch.manual_seed(seed)
    model = EncodecModel.encodec_model_24khz(pretrained=False)
    with torch.no_grad():
        for layer in model.quantizer.vq.layers:
            cb = layer._codebook
            cb.embed.copy_(torch.randn_like(cb.embed) * 0.5)
            cb.embed_avg.copy_(cb.embed)
            cb.inited.fill_(1.0)
    return model.eval()


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--bandwidth", type=float, default=6.0)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0 = torch default)")
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    _stub_torchaudio()
    from tonecraft.pretrained.codec_loading import load_codec

    ref = build_reference()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "encodec_24khz-d7cc33bc.th"
        torch.save(ref.state_dict(), path)
        ours = load_codec(path)
    ref.set_target_bandwidth(args.bandwidth)
    ours.set_target_bandwidth(args.bandwidth)

    sr = ours.sample_rate
    g = torch.Generator().manual_seed(0)
    t = torch.arange(int(args.seconds * sr)) / sr
    wav = (0.3 * torch.sin(2 * torch.pi * 220 * t) + 0.05 * torch.randn(t.numel(), generator=g)).view(1, 1, -1)

    def ref_encode():
        with torch.no_grad():
            return ref.encode(wav)

    def ref_decode(frames):
        with torch.no_grad():
            return ref.decode(frames)

    # warm-up (oneDNN primitive creation) and correctness check
    frames = ref_encode()
    codes, _ = ours.encode(wav)
    same = torch.equal(codes, frames[0][0])
    diff = (ours.decode(codes) - ref_decode(frames)).abs().max().item()

    times = {k: [] for k in ("ref_enc", "ours_enc", "ref_dec", "ours_dec")}
    for _ in range(args.repeats):
        frames, dt = timed(ref_encode)
        times["ref_enc"].append(dt)
        (codes, _), dt = timed(lambda: ours.encode(wav))
        times["ours_enc"].append(dt)
        _, dt = timed(lambda: ref_decode(frames))
        times["ref_dec"].append(dt)
        _, dt = timed(lambda: ours.decode(codes))
        times["ours_dec"].append(dt)

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.seconds:g} s of 24 kHz audio, "
          f"{args.bandwidth:g} kbps ({ours.n_q} codebooks), {args.repeats} repeats")
    print(f"codes identical: {same}; decoded max |diff|: {diff:.2e}")
    print(f"{'':8}{'encodec best':>14}{'tonecraft best':>16}{'speed-up':>10}   "
          f"{'encodec med':>12}{'tonecraft med':>15}{'speed-up':>10}")
    for stage in ("enc", "dec"):
        r, o = times[f"ref_{stage}"], times[f"ours_{stage}"]
        rb, ob, rm, om = min(r), min(o), statistics.median(r), statistics.median(o)
        rtf = lambda s: f"{args.seconds / s:7.1f}x RT"  # noqa: E731
        print(f"{'encode' if stage == 'enc' else 'decode':8}{rtf(rb):>14}{rtf(ob):>16}{rb / ob:>9.2f}x   "
              f"{rtf(rm):>12}{rtf(om):>15}{rm / om:>9.2f}x")
    tot_r = min(times["ref_enc"]) + min(times["ref_dec"])
    tot_o = min(times["ours_enc"]) + min(times["ours_dec"])
    print(f"encode+decode (best): encodec {tot_r * 1e3:.0f} ms, tonecraft {tot_o * 1e3:.0f} ms, "
          f"speed-up {tot_r / tot_o:.2f}x")

    if args.profile:
        from torch.profiler import ProfilerActivity, profile
        for name, fn in (("encode", lambda: ours.encode(wav)), ("decode", lambda: ours.decode(codes))):
            with profile(activities=[ProfilerActivity.CPU]) as prof:
                fn()
            print(f"--- tonecraft {name}")
            print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12))


if __name__ == "__main__":
    main()
