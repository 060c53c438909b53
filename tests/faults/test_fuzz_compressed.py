"""Fuzzed .tcq and .ecdc files through `tonecraft info` and `tonecraft decompress` (in-process, hypothesis):
every mutation is either decoded or refused with one clear line; nothing is left in the output folder."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers_faults import assert_clean, assert_only, tone_wav

FUZZ = settings(max_examples=150, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture(scope="module")
def good(models, tmp_path_factory):
    from tonecraft.cli import main

    d = tmp_path_factory.mktemp("fuzz_src")
    wav = tone_wav(d / "in.wav", seconds=0.3)
    files = {}
    for ext in ("tcq", "ecdc"):
        assert main(["compress", str(wav), str(d / f"good.{ext}"), "--model", str(models["codec"])]) == 0
        files[ext] = (d / f"good.{ext}").read_bytes()
    return files


def mutations(data_len: int):
    flips = st.lists(st.tuples(st.integers(0, data_len - 1), st.integers(0, 7)), min_size=1, max_size=4)
    return st.one_of(
        flips.map(lambda fs: ("flip", fs)),
        st.integers(0, data_len - 1).map(lambda n: ("truncate", n)),
        st.tuples(st.integers(0, data_len), st.binary(min_size=1, max_size=16)).map(lambda t: ("insert", t)),
        st.tuples(st.integers(0, max(0, data_len - 8)), st.binary(min_size=8, max_size=8)).map(lambda t: ("set", t)),
    )


def mutate(data: bytes, m) -> bytes:
    kind, arg = m
    b = bytearray(data)
    if kind == "flip":
        for pos, bit in arg:
            b[pos] ^= 1 << bit
    elif kind == "truncate":
        del b[arg:]
    elif kind == "insert":
        b[arg[0]:arg[0]] = arg[1]
    else:
        b[arg[0]:arg[0] + 8] = arg[1]
    return bytes(b)


@pytest.mark.parametrize("ext", ["tcq", "ecdc"])
def test_fuzzed_files_decode_or_fail_cleanly(good, models, tmp_path, capsys, ext):
    from tonecraft.cli import main

    data = good[ext]
    src, out = tmp_path / f"x.{ext}", tmp_path / "out"
    out.mkdir()

    @FUZZ
    @given(mutations(len(data)))
    def check(m):
        bad = mutate(data, m)
        src.write_bytes(bad)
        rc = main(["info", str(src)])
        assert_clean(rc, capsys.readouterr().err)
        rc = main(["decompress", str(src), str(out / "o.wav"), "--model", str(models["codec"])])
        assert_clean(rc, capsys.readouterr().err)
        if rc == 0:
            assert_only(out, "o.wav")
            (out / "o.wav").unlink()
        assert_only(out)

    check()
