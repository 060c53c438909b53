"""Files written and read safely, written once for the whole package.

Writing: every file tonecraft produces (audio, .tcq/.ecdc, checkpoints, exports, manifests, token caches,
corpus clips) goes through `AtomicFile` (or the helpers built on it). The bytes go to a temp file in the
target's folder with a short name of our own (`.tc-<pid>-<random>.tmp`, never derived from the target's
name, so a 250-character output name still fits the file system's 255-byte limit), are fsync'ed, get the
mode a plain `open()` would give (0666 & ~umask), and are `os.replace`d over the target: a kill or a full
disk at any moment leaves the previous file or the new one, never a half-written one, and the temp file
is removed on every error path.

Checks before slow work: `check_input_file`, `check_output_path`, `model_path` turn hostile paths (FIFOs,
symlink loops, over-long names, unwritable folders) into clear errors. Reading weight files: `safe_load.py`.
"""
from __future__ import annotations

import errno
import json
import os
import re
import secrets
import stat
import typing as tp
from contextlib import contextmanager
from pathlib import Path

from .errors import CheckpointError, OutputError, TonecraftError

TEMP_PREFIX = ".tc-"
TEMP_SUFFIX = ".tmp"


def new_file_mode() -> int:
    """The mode `open()` gives a new file now: 0666 minus the process umask."""
    try:  # Linux exposes the umask without changing it (os.umask has no read-only form)
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


# Temp files of this process not yet committed or removed: `remove_live_temps()` deletes them when a signal
# (SIGTERM via the CLI router) ends the process, even where no `finally` gets to run.
_LIVE_TEMPS: set[str] = set()
_TEMP_NAME = re.compile(re.escape(TEMP_PREFIX) + r"(\d+)-[0-9a-f]{8}[^/]*" + re.escape(TEMP_SUFFIX) + "$")


def temp_path_for(target: Path, suffix: str = "") -> Path:
    """A fresh, short temp name next to `target`; `suffix` (e.g. ".wav") for writers that read it.
    Temp files that a killed process (SIGKILL, power loss) left in that folder are swept first."""
    sweep_stale_temps(target.parent)
    temp = target.parent / f"{TEMP_PREFIX}{os.getpid()}-{secrets.token_hex(4)}{suffix}{TEMP_SUFFIX}"
    _LIVE_TEMPS.add(str(temp))
    return temp


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists, owned by someone else
        return True
    return True


def sweep_stale_temps(folder: str | os.PathLike) -> list[Path]:
    """Remove `.tc-<pid>-<hex>*.tmp` files in `folder` whose writer process no longer exists (it was killed
    before it could clean up). Files of live processes, and every other name, are never touched. Returns
    what was removed. (A folder shared between machines could hold a live writer's temp whose pid is not
    ours to see: its commit then fails with a clear error; the target is never damaged.)"""
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        m = _TEMP_NAME.match(entry.name)
        if m is None or _pid_alive(int(m.group(1))):
            continue
        try:
            if entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            pass
    return removed


def remove_live_temps() -> None:
    """Delete every temp file this process has open for writing (called when a signal ends the process)."""
    for temp in list(_LIVE_TEMPS):
        _unlink_quietly(Path(temp))


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable; some file systems refuse directory fsync, which is fine."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _unlink_quietly(path: Path) -> None:
    _LIVE_TEMPS.discard(str(path))
    try:
        os.unlink(path)
    except OSError:
        pass


def _output_error(target: Path, exc: OSError) -> OutputError:
    return OutputError(f"cannot write {target}: {exc.strerror or exc}")


def _make_parent(target: Path) -> None:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _output_error(target, exc) from None


def _commit(temp: Path, target: Path) -> None:
    """Give the temp file the umask mode and move it over the target (temp removed if that fails)."""
    try:
        os.chmod(temp, new_file_mode())
        os.replace(temp, target)
    except OSError as exc:
        _unlink_quietly(temp)
        raise _output_error(target, exc) from None
    _LIVE_TEMPS.discard(str(temp))
    _fsync_dir(target.parent)


class AtomicFile:
    """A binary file object whose content appears at `path` only on `commit()` (or a clean `with` exit).

        with AtomicFile(out) as f:       # an exception inside the block leaves `out` untouched
            f.write(header); f.write(body)
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        _make_parent(self.path)
        self.temp_path = temp_path_for(self.path)
        try:
            fd = os.open(self.temp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as exc:
            raise _output_error(self.path, exc) from None
        self._fo = os.fdopen(fd, "wb")

    def write(self, data: bytes) -> int:
        try:
            return self._fo.write(data)
        except OSError as exc:
            self.abort()
            raise _output_error(self.path, exc) from None

    def fileno(self) -> int:
        return self._fo.fileno()

    def flush(self) -> None:
        self._fo.flush()

    def tell(self) -> int:
        return self._fo.tell()

    @property
    def closed(self) -> bool:
        return self._fo.closed

    def commit(self) -> Path:
        try:
            self._fo.flush()
            os.fsync(self._fo.fileno())
            self._fo.close()
        except OSError as exc:
            self.abort()
            raise _output_error(self.path, exc) from None
        _commit(self.temp_path, self.path)
        return self.path

    def abort(self) -> None:
        """Drop what was written; the target keeps its previous content (or stays absent)."""
        try:
            self._fo.close()
        except OSError:
            pass
        _unlink_quietly(self.temp_path)

    def __enter__(self) -> "AtomicFile":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
            return
        self.abort()
        if isinstance(exc, OSError):  # e.g. a library writing into us hit a full disk
            raise _output_error(self.path, exc) from None


@contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "",
                library_errors: tuple[type[BaseException], ...] = ()) -> tp.Iterator[Path]:
    """For libraries that write by file name (soundfile, safetensors): yield a temp path next to `path`,
    then fsync it and move it into place; on any error the temp file is removed and `path` is untouched.
    `library_errors` (e.g. libsndfile's, which say only "System error") become an OutputError that names a
    full disk, judged while the temp file still holds its space: once removed, a disk our output filled
    looks fine again."""
    target = Path(path)
    _make_parent(target)
    temp = temp_path_for(target, suffix)
    try:
        yield temp
        fd = os.open(temp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        _unlink_quietly(temp)
        raise _output_error(target, exc) from None
    except library_errors as exc:
        error = _library_write_error(target, exc)
        _unlink_quietly(temp)
        raise error from None
    except BaseException:
        _unlink_quietly(temp)
        raise
    _commit(temp, target)


def atomic_write(path: str | os.PathLike, write: tp.Callable[[tp.BinaryIO], tp.Any]) -> Path:
    """Call `write(fileobj)` on an `AtomicFile` for `path` and commit it."""
    with AtomicFile(path) as f:
        write(f)
    return Path(path)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    return atomic_write(path, lambda f: f.write(data))


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: tp.Any, indent: int | None = 2) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=indent) + "\n")


NAME_MAX = 255  # bytes in one path component (ext4, xfs, btrfs, tmpfs ...)
PATH_MAX = 4096


def path_problem(exc: OSError) -> str:
    """A short reason for a failed stat/open, worded for users."""
    if exc.errno == errno.ELOOP:
        return "a symbolic link loop (too many levels of symbolic links)"
    if exc.errno == errno.ENAMETOOLONG:
        return "the path or a name in it is too long"
    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        return "no such file"
    return exc.strerror or str(exc)


def check_input_file(path: str | os.PathLike, error: type[TonecraftError] = TonecraftError,
                     what: str = "an input file") -> Path:
    """`path` if it is a non-empty regular file, else `error` with a clear reason. Called before anything
    opens an input: a FIFO would block open() forever, a pipe cannot seek, a symlink loop cannot resolve."""
    p = Path(path)
    try:
        st = os.stat(p)
    except OSError as exc:
        raise error(f"{p}: {path_problem(exc)}") from None
    if stat.S_ISDIR(st.st_mode):
        raise error(f"{p}: is a directory, not {what}")
    if not stat.S_ISREG(st.st_mode):
        raise error(f"{p}: not a regular file (a pipe, socket or device); save it to a file first")
    if st.st_size == 0:
        raise error(f"{p}: the file is empty (0 bytes)")
    return p


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether two paths name one file (never raises: symlink loops and missing files compare by name)."""
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        return os.path.abspath(a) == os.path.abspath(b)


def check_output_path(path: str | os.PathLike) -> Path:
    """Fail now, before slow work, if `path` cannot be written: a name over 255 bytes, a parent that is a
    file, a target that is a folder, a folder we may not create files in (probed with a real temp file in
    the nearest existing folder, so a read-only file system is caught even as root). Creates nothing."""
    target = Path(path)
    for part in target.parts:
        if len(os.fsencode(part)) > NAME_MAX:
            raise OutputError(f"cannot write {target}: the name {part[:40]!r}... is {len(os.fsencode(part))} "
                              f"bytes long; the file system limit is {NAME_MAX}")
    if os.path.isdir(target):
        raise OutputError(f"cannot write {target}: it is a folder")
    folder = target.parent
    while True:
        try:
            st = os.stat(folder)
        except (FileNotFoundError, NotADirectoryError):  # (a file on the way up is found next round)
            if folder.parent == folder:
                break
            folder = folder.parent
            continue
        except OSError as exc:
            raise OutputError(f"cannot write {target}: {folder}: {path_problem(exc)}") from None
        if not stat.S_ISDIR(st.st_mode):
            raise OutputError(f"cannot write {target}: {folder} is a file, not a folder")
        break
    probe = temp_path_for(folder / "probe")
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError as exc:
        _LIVE_TEMPS.discard(str(probe))
        raise OutputError(f"cannot write {target}: cannot create files in {folder} "
                          f"({exc.strerror or exc})") from None
    _unlink_quietly(probe)
    return target


def _library_write_error(target: str | os.PathLike, exc: Exception) -> OutputError:
    """An OutputError for a write that failed inside a C library (libsndfile says only "System error"):
    name a full disk when that is the cause."""
    folder = Path(target).parent
    try:
        full = os.statvfs(folder).f_bavail == 0
    except OSError:
        full = False
    reason = "No space left on device" if full else str(exc)
    return OutputError(f"cannot write {target}: {reason}")


def rescue_path(target: str | os.PathLike) -> Path:
    """Where to keep an output that could not be written to `target` (a fresh folder in the system temp
    dir), so that work already done (generated audio) is not lost."""
    import tempfile

    name = Path(target).name
    if len(os.fsencode(name)) > 100:
        name = name[:40] + Path(name).suffix[:12]
    return Path(tempfile.mkdtemp(prefix="tonecraft-kept-")) / (name or "output")


def model_path(name_or_path: str | os.PathLike) -> Path | None:
    """The local file or folder a model id names, or None when nothing exists there (then it is a model
    name or a hub id). Hostile ids (from --model or the header of a .tcq/.ecdc file) get a clear error
    instead of a crash or a hang: control characters, names over 255 bytes, symlink loops, FIFOs/devices."""
    from .errors import ModelNotFoundError

    text = os.fspath(name_or_path)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    if not text or any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise ModelNotFoundError(f"{text!r} is not a model name or path (empty, or control characters)")
    p = Path(text).expanduser()
    if len(os.fsencode(str(p))) > PATH_MAX or any(len(os.fsencode(part)) > NAME_MAX for part in p.parts):
        raise ModelNotFoundError(f"{text[:60]!r}... is too long to be a model name or a file path")
    try:
        st = os.stat(p)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise CheckpointError(f"{p}: {path_problem(exc)}") from None
    if not (stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode)):
        raise CheckpointError(f"{p}: not a model folder or a regular checkpoint file (a pipe, socket or device)")
    return p
