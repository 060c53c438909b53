"""Recorded sounds from Debian packages: download (`apt-get download`, never installed), unpack only the audio,
licence and attribution per file from the package's machine-readable `debian/copyright`.

The .deb's data tar is streamed (`dpkg-deb --fsys-tarfile`) rather than unpacked with `dpkg-deb -x`: only audio
files, zip-like containers (zip, pk3, wz: read with `zipfile`, their audio members kept) and the copyright file
ever reach the disk, so 0ad-data's 3 GB zip costs one scratch copy, not a full unpack. Everything lands in
`cache/packages/<pkg>/`: `files/<sha1 of the original path>.<ext>` and `index.json` (written last: a package
with an index is complete; the .deb is deleted after).
"""
from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tarfile
import zipfile
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path, PurePosixPath

from ...errors import TonecraftError
from ...fileio import atomic_write, atomic_write_bytes, atomic_write_json

AUDIO_EXTS = (".wav", ".ogg", ".oga", ".flac", ".mp3", ".opus", ".wv")  # .wv (WavPack): decoded by ffmpeg
CONTAINER_EXTS = (".zip", ".pk3", ".wz")
INDEX_VERSION = 1


class PackageError(TonecraftError):
    """A package that cannot be downloaded or unpacked (apt-get missing, offline, unknown name, bad .deb)."""


@dataclass(frozen=True)
class PackageNote:
    size_mb: int  # download size, for the plan and the docs
    licence: str  # the package-wide summary, used when a file has no DEP-5 stanza


# measured in the offline-data survey (download sizes; licences from debian/copyright)
PACKAGES = {
    "sound-theme-freedesktop": PackageNote(1, "CC-BY-SA-3.0 / CC-BY-3.0 / GPL-2+ per file"),
    "wesnoth-1.16-data": PackageNote(146, "GPL-2+"),
    "ufoai-sound": PackageNote(19, "GPL-2+ / CC-BY(-SA) / public domain per file"),
    "openarena-data": PackageNote(44, "GPL-2+"),
    "lincity-ng-data": PackageNote(45, "GPL-2+"),
    "supertux-data": PackageNote(162, "GPL / CC per file"),
    "supertuxkart-data": PackageNote(628, "CC-BY-SA-3/4, CC-BY, CC0, public domain, GPL per file"),
    "widelands-data": PackageNote(381, "GPL-2+ / CC-BY-SA"),
    "megaglest-data": PackageNote(242, "CC-BY-SA-3.0"),
    "hedgewars-data": PackageNote(145, "GFDL-1.3 (Droplet*: CC-BY-SA-3.0)"),
    "warmux-data": PackageNote(98, "GPL"),
    "warzone2100-data": PackageNote(143, "GPL-2+ / CC0 / CC-BY-SA"),
    "0ad-data": PackageNote(1378, "CC-BY-SA-3.0"),
}
DEFAULT_PACKAGES = tuple(PACKAGES)
# arcade and sci-fi shooters, surveyed for recorded laser, plasma and pulse-gun shots (the default packages have 27
# sci-fi weapon clips in all). Not in the default draw, which the shipped models were built from: the evaluation's
# probe learns them as recordings no model has heard (`bench/eval_sfx.py --probe-extra`)
ARCADE_PACKAGES = {
    "starfighter-data": PackageNote(45, "GPL-2+"),
    "powermanga-data": PackageNote(10, "GPL-3+"),
    "alienblaster-data": PackageNote(5, "GPL-2+"),
    "freedroidrpg-data": PackageNote(228, "GPL-2+"),
    "teeworlds-data": PackageNote(8, "Zlib / CC-BY-SA-3.0 (datasrc)"),
    "chromium-bsu-data": PackageNote(1, "Expat (data/wav)"),
}
PACKAGES.update(ARCADE_PACKAGES)
PACKAGE_GROUPS = {"default": DEFAULT_PACKAGES, "arcade": tuple(ARCADE_PACKAGES)}


def expand_packages(spec: str) -> tuple[str, ...]:
    """`--packages` value -> package names: comma-separated names or group names (default, arcade), in order,
    each once; "" -> none."""
    out: list[str] = []
    for item in (x.strip() for x in spec.split(",")):
        for name in PACKAGE_GROUPS.get(item, (item,) if item else ()):
            if name not in out:
                out.append(name)
    return tuple(out)


@dataclass
class CopyrightStanza:
    patterns: tuple[str, ...]
    copyright: str
    licence: str


def parse_copyright(text: str) -> list[CopyrightStanza]:
    """DEP-5 `Files:` stanzas (copyright-format 1.0) in file order; [] for a free-form copyright file."""
    stanzas = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        fields, key = {}, None
        for line in block.split("\n"):
            if line[:1] in (" ", "\t") and key:
                fields[key] += "\n" + line.strip()
            elif ":" in line:
                key, _, val = line.partition(":")
                key = key.strip().lower()
                fields[key] = val.strip()
        if "files" in fields:
            lic = fields.get("license", "").split("\n")[0].strip()
            stanzas.append(CopyrightStanza(tuple(fields["files"].split()),
                                           " ".join(fields.get("copyright", "").split()), lic))
    return stanzas


def licence_for(stanzas: list[CopyrightStanza], path: str, fallback: str) -> tuple[str, str]:
    """(licence, attribution) of an installed path: the last stanza whose pattern matches the end of the path
    wins (DEP-5: later stanzas override). Container members match by their inner path too."""
    tails = {path, path.split("!/")[-1]}
    found = None
    for st in stanzas:
        for pat in st.patterns:
            pat = pat.lstrip("./")
            if any(fnmatch(t, pat) or fnmatch(t, "*/" + pat) for t in tails):
                found = st
                break
    if found is None or not found.licence:
        return fallback, found.copyright if found else ""
    return found.licence, found.copyright


def _safe_member(name: str) -> str | None:
    """A member name as a relative path ("./usr/x" -> "usr/x"); None for empty names and "..". (Files are stored
    under hashed names anyway: a hostile name can only mislabel, never escape the cache.)"""
    parts = [x for x in PurePosixPath(name).parts if x not in ("/", ".")]
    if not parts or ".." in parts:
        return None
    return "/".join(parts)


def _stored_name(orig: str) -> str:
    h = hashlib.sha1(orig.encode("utf-8")).hexdigest()
    return f"{h[:2]}/{h}{PurePosixPath(orig).suffix.lower()}"


def unpack_container(src, container_path: str, files_dir: Path) -> list[dict]:
    """Audio members of a zip-like file (path or file object) -> stored files; entries for the index."""
    out = []
    with zipfile.ZipFile(src) as zf:
        for info in sorted(zf.infolist(), key=lambda i: i.filename):
            inner = _safe_member(info.filename)
            if info.is_dir() or not inner or not inner.lower().endswith(AUDIO_EXTS):
                continue
            orig = f"{container_path}!/{inner}"
            data = zf.read(info)
            stored = _stored_name(orig)
            atomic_write_bytes(files_dir / stored, data)
            out.append({"path": orig, "file": stored, "bytes": len(data), "sha1": hashlib.sha1(data).hexdigest()})
    return out


def unpack_deb(deb: Path, pkg: str, dest: Path) -> dict:
    """Stream the .deb's data tar; keep audio, containers' audio and the copyright file. -> the index."""
    files_dir = dest / "files"
    entries, copyright_text = [], ""
    proc = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
            for m in tar:
                name = _safe_member(m.name)
                if not name or not m.isfile():
                    continue
                low = name.lower()
                if name == f"usr/share/doc/{pkg}/copyright":
                    copyright_text = tar.extractfile(m).read().decode("utf-8", "replace")
                elif low.endswith(AUDIO_EXTS):
                    data = tar.extractfile(m).read()
                    stored = _stored_name(name)
                    atomic_write_bytes(files_dir / stored, data)
                    entries.append({"path": name, "file": stored, "bytes": len(data),
                                    "sha1": hashlib.sha1(data).hexdigest()})
                elif low.endswith(CONTAINER_EXTS):
                    scratch = dest / "scratch.zip"
                    src = tar.extractfile(m)
                    atomic_write(scratch, lambda f: shutil.copyfileobj(src, f, 1 << 20))
                    try:
                        entries += unpack_container(scratch, name, files_dir)
                    except zipfile.BadZipFile:
                        pass  # a file named .zip that is not one: nothing to take
                    finally:
                        scratch.unlink(missing_ok=True)
    finally:
        proc.stdout.close()
        err = proc.stderr.read().decode("utf-8", "replace")
        proc.stderr.close()
        rc = proc.wait()
    if rc != 0:
        raise PackageError(f"dpkg-deb --fsys-tarfile {deb.name} failed: {err.strip()[-300:]}")
    note = PACKAGES.get(pkg, PackageNote(0, "see usr/share/doc/%s/copyright" % pkg))
    stanzas = parse_copyright(copyright_text)
    for e in entries:
        e["licence"], e["attribution"] = licence_for(stanzas, e["path"], note.licence)
    entries.sort(key=lambda e: e["path"])
    if copyright_text:
        atomic_write_bytes(dest / "copyright", copyright_text.encode("utf-8"))
    return {"index_version": INDEX_VERSION, "package": pkg, "deb": deb.name, "files": entries,
            "copyright_format": "dep5" if stanzas else ("free-form" if copyright_text else "missing")}


def read_index(cache: Path, pkg: str) -> dict | None:
    path = cache / "packages" / pkg / "index.json"
    if not path.exists():
        return None
    try:
        idx = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return idx if idx.get("index_version") == INDEX_VERSION else None


def fetch_package(pkg: str, cache: Path, timeout_s: float = 3600.0) -> dict:
    """Download and unpack `pkg` once into `cache/packages/<pkg>/` (an existing index is reused)."""
    idx = read_index(cache, pkg)
    if idx is not None:
        return idx
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        raise PackageError("apt-get and dpkg-deb are needed to fetch Debian packages (Debian/Ubuntu only)")
    debs = cache / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    found = sorted(debs.glob(f"{pkg}_*.deb"))
    if not found:
        try:
            r = subprocess.run(["apt-get", "download", pkg], cwd=debs, capture_output=True, text=True,
                               timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise PackageError(f"apt-get download {pkg} took over {timeout_s:.0f} s") from None
        found = sorted(debs.glob(f"{pkg}_*.deb"))
        if r.returncode != 0 or not found:
            msg = (r.stderr or r.stdout).strip().splitlines()
            raise PackageError(f"apt-get download {pkg} failed: {msg[-1] if msg else 'no .deb'} "
                               "(offline? run `apt-get update`?)")
    dest = cache / "packages" / pkg
    idx = unpack_deb(found[-1], pkg, dest)
    atomic_write_json(dest / "index.json", idx, indent=1)
    for deb in found:
        deb.unlink(missing_ok=True)
    return idx
