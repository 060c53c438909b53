"""Package unpacking: DEP-5 licences, zip-like containers, a .deb built here, and one real Debian package."""
import io
import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from helpers_sfx import tone
from tonecraft.data.sfx.packages import (PackageError, fetch_package, licence_for, parse_copyright, unpack_container,
                                         unpack_deb)

COPYRIGHT = """Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: fake

Files: *
Copyright: 2020 Everyone
License: GPL-2+

Files: sounds/birds*.ogg
 sounds/owl.wav
Copyright: 2021 A. Recordist
License: CC-BY-SA-3.0
 The long licence text follows.
"""


def _wav_bytes(seconds=0.5, sr=22050):
    buf = io.BytesIO()
    sf.write(buf, tone(seconds, sr), sr, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def test_dep5_last_matching_stanza_wins():
    st = parse_copyright(COPYRIGHT)
    assert [s.licence for s in st] == ["GPL-2+", "CC-BY-SA-3.0"]
    assert licence_for(st, "usr/share/games/fake/sounds/birds3.ogg", "?") == ("CC-BY-SA-3.0", "2021 A. Recordist")
    assert licence_for(st, "usr/share/games/fake/sounds/owl.wav", "?")[0] == "CC-BY-SA-3.0"
    assert licence_for(st, "usr/share/games/fake/sounds/dog.wav", "?") == ("GPL-2+", "2020 Everyone")
    assert licence_for(st, "data.pk3!/sounds/owl.wav", "?")[0] == "CC-BY-SA-3.0"
    assert licence_for(parse_copyright("free text, no stanzas"), "x.wav", "GPL") == ("GPL", "")


def test_container_keeps_only_audio(tmp_path):
    pk3 = tmp_path / "data.pk3"
    with zipfile.ZipFile(pk3, "w") as zf:
        zf.writestr("sound/weapons/shotgun.wav", _wav_bytes())
        zf.writestr("sound/readme.txt", "not audio")
        zf.writestr("textures/wall.png", b"\x89PNG")
        zf.writestr("../escape.wav", _wav_bytes())  # hostile member name: ignored
    got = unpack_container(pk3, "usr/share/games/x/data.pk3", tmp_path / "files")
    assert [e["path"] for e in got] == ["usr/share/games/x/data.pk3!/sound/weapons/shotgun.wav"]
    data = (tmp_path / "files" / got[0]["file"]).read_bytes()
    assert sf.info(io.BytesIO(data)).samplerate == 22050
    assert not (tmp_path / "escape.wav").exists()


def test_unpack_a_deb_built_here(tmp_path):
    if shutil.which("dpkg-deb") is None:
        pytest.skip("dpkg-deb not installed (Debian/Ubuntu only)")
    root = tmp_path / "pkg"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text("Package: fake-sfx\nVersion: 1.0\nArchitecture: all\n"
                                             "Maintainer: t <t@example.org>\nDescription: test\n")
    doc = root / "usr/share/doc/fake-sfx"
    doc.mkdir(parents=True)
    (doc / "copyright").write_text(COPYRIGHT)
    snd = root / "usr/share/games/fake/sounds"
    snd.mkdir(parents=True)
    (snd / "owl.wav").write_bytes(_wav_bytes())
    with zipfile.ZipFile(root / "usr/share/games/fake/extra.zip", "w") as zf:
        zf.writestr("sounds/birds2.ogg", b"")  # empty member: still listed (decode fails later, reported)
        zf.writestr("sounds/steam.wav", _wav_bytes())
    deb = tmp_path / "fake-sfx_1.0_all.deb"
    subprocess.run(["dpkg-deb", "--build", "-Zgzip", str(root), str(deb)], check=True, capture_output=True)
    idx = unpack_deb(deb, "fake-sfx", tmp_path / "cache")
    paths = {e["path"]: e for e in idx["files"]}
    assert sorted(paths) == ["usr/share/games/fake/extra.zip!/sounds/birds2.ogg",
                             "usr/share/games/fake/extra.zip!/sounds/steam.wav",
                             "usr/share/games/fake/sounds/owl.wav"]
    assert paths["usr/share/games/fake/sounds/owl.wav"]["licence"] == "CC-BY-SA-3.0"
    assert paths["usr/share/games/fake/extra.zip!/sounds/birds2.ogg"]["licence"] == "CC-BY-SA-3.0"
    assert paths["usr/share/games/fake/extra.zip!/sounds/steam.wav"]["licence"] == "GPL-2+"
    assert idx["copyright_format"] == "dep5" and not (tmp_path / "cache" / "scratch.zip").exists()


def test_one_real_debian_package_end_to_end(tmp_path):
    """sound-theme-freedesktop (0.4 MB, 27 .oga files, DEP-5 copyright) through apt-get download."""
    from tonecraft.data.sfx.build import SfxCorpusConfig, build_sfx_corpus

    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        pytest.skip("apt-get/dpkg-deb not available: not a Debian system")
    try:
        fetch_package("sound-theme-freedesktop", tmp_path / "cache", timeout_s=60)
    except PackageError as exc:
        pytest.skip(f"apt-get download sound-theme-freedesktop failed (offline? no apt lists?): {exc}")
    cfg = SfxCorpusConfig(out=tmp_path / "out", seed=0, packages=("sound-theme-freedesktop",), synth_hours=0,
                          cache=tmp_path / "cache", progress=False)
    r = build_sfx_corpus(cfg, log=lambda m: None)
    assert not r.failed, r.failed
    assert r.packages["sound-theme-freedesktop"] >= 12 and r.categories.get("ui", 0) >= 10
    assert r.skipped.get("speech/test signal") == 9  # the spoken channel names and the test signal
    sides = {json.loads(p.read_text())["source"]["path"].rsplit("/", 1)[-1]: json.loads(p.read_text())
             for p in (tmp_path / "out" / "audio").rglob("*.json")}
    phone = sides["phone-incoming-call.oga"]
    assert phone["description"] == "a telephone ringing" and phone["licence"] == "GPL-2+"
    assert "Damien Sandras" in phone["attribution"]
    assert sides["bell.oga"]["licence"] == "CC-BY-3.0"
    x, sr = sf.read(tmp_path / "out" / "audio" / phone["split"] / "real" / "sound-theme-freedesktop" /
                    (phone["name"] + ".flac"))
    assert sr == 16000 and x.ndim == 1 and 0.05 < np.abs(x).max() <= 0.9


def test_package_groups_expand_in_order_once():
    from tonecraft.data.sfx.packages import ARCADE_PACKAGES, DEFAULT_PACKAGES, expand_packages

    assert expand_packages("") == ()
    assert expand_packages("default") == DEFAULT_PACKAGES
    both = expand_packages("default,arcade,teeworlds-data")
    assert both == DEFAULT_PACKAGES + tuple(ARCADE_PACKAGES)
    assert expand_packages(" wesnoth-1.16-data , arcade") == ("wesnoth-1.16-data",) + tuple(ARCADE_PACKAGES)
    assert not set(DEFAULT_PACKAGES) & set(ARCADE_PACKAGES)  # v3's corpus stays what the default draw builds
