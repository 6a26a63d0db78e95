"""Writing files and folders so that an interruption never leaves half a result.

Files the user made (labels, calibrations, configs) must never be left half
written: a crash, Ctrl+C or a full disk during a save would otherwise destroy
hours of labeling. We write to temporary names beside the targets (so the
final ``os.replace`` is a rename on one file system, which is atomic) and only
then move them over the targets.

* :func:`atomic_write_path` / :func:`atomic_write_paths`: one file, or several
  files that must change together (DeepLabCut's labels ``.h5`` + ``.csv``):
  every temporary is written first, then all are renamed into place; if one
  rename fails, the files already replaced get their previous version back.
  A target's permissions are kept, and a target this process may not write
  is refused as ``open(path, "w")`` would refuse it (a rename alone would
  replace it: renaming ignores the file's own write permission).
* :func:`results_folder`: a folder of outputs that belong together
  (``facehmm analyze``'s tables, model, summary and figures) is written into a
  hidden sibling folder and swapped in whole.
* :func:`remove_stale_temporaries`: hidden temporaries left by a killed save.
* :func:`check_output_dir`: fail before any work when an output folder
  cannot be used, naming the option, the path and the cause.
"""

from __future__ import annotations

import contextlib
import json
import errno
import os
import secrets
import shutil
import signal
import stat
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from ..errors import FaceHMMError

__all__ = [
    "atomic_write_path",
    "atomic_write_paths",
    "backup_path",
    "check_output_dir",
    "remove_stale_temporaries",
    "results_folder",
    "RESULT_MARKERS",
]

#: files whose presence marks a folder as an earlier result of ours
RESULT_MARKERS = ("summary.json", "model.json")

# A hidden temporary (folder) of a writer whose process is gone, or this old
# whatever its process id says (ids are reused), is left over from a killed run.
_STALE_AFTER_S = 24 * 3600.0


def backup_path(path: str | Path) -> Path:
    """Where :func:`atomic_write_path` keeps the previous version of ``path``: ``<name>.bak``."""
    path = Path(path)
    return path.with_name(path.name + ".bak")


def _temporary_name(path: Path, kind: str) -> Path:
    """A hidden, not yet existing name beside ``path``: ``.<name>.<random>.<kind>``."""
    # ``kind`` ends with the target's suffix for writers that pick the format
    # by suffix (pandas: .h5/.csv).
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}.{kind}")


def _may_not_write(path: Path) -> bool:
    """True if ``path`` exists and this process may not write it.

    As ``open(path, "w")`` would decide (os.access): a rename would replace
    even a file the user may not write, so we ask first. Root may write any
    file, read-only or not, as with a plain write.
    """
    if not os.path.lexists(path):
        return False
    return not os.access(path, os.W_OK)


def _refuse_unwritable(path: Path) -> None:
    if _may_not_write(path):
        raise PermissionError(
            errno.EACCES, "you may not write this file (make it writable to save over it)", str(path)
        )


def _hold_previous(path: Path) -> Path | None:
    """A second name for the current version of ``path`` (None if there is none).

    A hard link costs nothing and keeps ``path`` in place; where links are not
    supported the file is copied.
    """
    if not path.exists():
        return None
    held = _temporary_name(path, "old")
    try:
        os.link(path, held)
    except OSError:
        shutil.copy2(path, held)
    return held


@contextlib.contextmanager
def atomic_write_paths(paths: Sequence[str | Path], backup: bool = True) -> Iterator[list[Path]]:
    """Yield temporary paths to write; on success they replace ``paths`` together.

    Parameters
    ----------
    paths
        The files to (over)write. Their folders must exist.
    backup
        If True, the previous version of each existing file is kept as
        ``<name>.bak`` beside it (one generation; an older backup is replaced).

    Yields
    ------
    list of Path
        One not-yet-existing hidden file per target, in the target's folder
        with the target's suffix (libraries such as pandas pick the format by
        suffix). Write each whole file there.

    Raises
    ------
    PermissionError
        A target this process may not write (checked before the body runs
        and again before replacing); nothing is changed.
    OSError
        Writing or renaming failed; its ``filename`` is the target concerned.

    Notes
    -----
    If the ``with`` body raises (including KeyboardInterrupt), the temporaries
    are removed, the targets are untouched and the exception propagates. If
    renaming the second file fails, the first gets its previous version back,
    so the files never hold a mix of old and new content. Each target keeps
    its permissions. The backup is the previous file itself (renamed), so
    every target exists at every moment: readers never see one missing.
    """
    paths = [Path(p) for p in paths]
    for path in paths:
        _refuse_unwritable(path)
    temps = [_temporary_name(path, f"tmp{path.suffix}") for path in paths]
    try:
        yield temps
        for path, temp in zip(paths, temps):
            if not temp.exists():
                raise FileNotFoundError(errno.ENOENT, "nothing was written to its temporary file", str(path))
            _refuse_unwritable(path)
            if path.exists():
                os.chmod(temp, stat.S_IMODE(path.stat().st_mode))
        _replace_all(paths, temps, backup)
    finally:
        for temp in temps:
            with contextlib.suppress(OSError):
                temp.unlink()


def _journal_path(path: Path) -> Path:
    """Where :func:`_replace_all` notes a replacement of several files that starts with ``path``."""
    return path.with_name(f".{path.name}.replacing.json")


def _write_journal(paths: list[Path], temps: list[Path], held: list[Path | None], backup: bool) -> Path:
    journal = _journal_path(paths[0])
    entries = [
        {"target": p.name, "temp": t.name, "previous": h.name if h is not None else None}
        for p, t, h in zip(paths, temps, held)
    ]
    staged = _temporary_name(paths[0], "journal.tmp")
    try:
        staged.write_text(json.dumps({"backup": backup, "files": entries}), encoding="utf-8")
        os.replace(staged, journal)
    finally:
        with contextlib.suppress(OSError):
            staged.unlink()
    return journal


def finish_interrupted_replacement(path: str | Path) -> list[Path]:
    """Complete a replacement of several files (starting with ``path``) that a kill cut short.

    :func:`atomic_write_paths` writes every new file completely, then notes
    the renames it is about to do in a hidden journal beside the first file,
    then renames. A process killed between two renames leaves the journal:
    the renames that are missing are done now (the new versions were all
    complete), so the files agree again, holding the newest save.

    Returns
    -------
    list of Path
        The files that were completed now (empty when nothing was left).
    """
    path = Path(path)
    journal = _journal_path(path)
    if not journal.is_file():
        return []
    try:
        record = json.loads(journal.read_text(encoding="utf-8"))
        entries, backup = record["files"], bool(record["backup"])
    except (OSError, ValueError, KeyError, TypeError):
        return []  # not ours or unreadable: leave it for a person to look at
    folder = path.parent
    completed = []
    for entry in entries:
        temp, target = folder / entry["temp"], folder / entry["target"]
        if temp.exists():
            os.replace(temp, target)
            completed.append(target)
    for entry in entries:
        if entry["previous"] and (folder / entry["previous"]).exists():
            previous = folder / entry["previous"]
            if backup:
                os.replace(previous, backup_path(folder / entry["target"]))
            else:
                previous.unlink()
    journal.unlink()
    return completed


def _replace_all(paths: list[Path], temps: list[Path], backup: bool) -> None:
    held: list[tuple[Path, Path | None]] = []
    replaced: list[Path] = []
    journal = None
    try:
        held = [(path, _hold_previous(path)) for path in paths]
        if len(paths) > 1:
            journal = _write_journal(paths, temps, [h for _, h in held], backup)
        for path, temp in zip(paths, temps):
            try:
                os.replace(temp, path)
            except OSError as error:
                raise type(error)(error.errno, error.strerror, str(path)) from error
            replaced.append(path)
    except BaseException as error:
        # Give every file already replaced its previous version back, so the
        # targets never hold a mix of old and new content.
        for path, previous in reversed(held):
            try:
                if path in replaced:
                    if previous is not None:
                        os.replace(previous, path)
                    else:
                        path.unlink()
                elif previous is not None:
                    previous.unlink()
            except OSError as rollback_error:
                error.add_note(
                    f"could not put back the previous version of {path} ({rollback_error}); "
                    f"it is kept as {previous}"
                )
        if journal is not None:
            with contextlib.suppress(OSError):
                journal.unlink()
        raise
    for path, previous in held:
        if previous is None:
            continue
        if backup:
            os.replace(previous, backup_path(path))
        else:
            with contextlib.suppress(OSError):
                previous.unlink()
    if journal is not None:
        journal.unlink()


@contextlib.contextmanager
def atomic_write_path(path: str | Path, backup: bool = True) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path``.

    :func:`atomic_write_paths` for one file (same parameters, same guarantees:
    permissions kept, a ``path`` we may not write refused with PermissionError,
    ``path`` untouched if the body raises).
    """
    with atomic_write_paths([path], backup=backup) as (temp,):
        yield temp


def _pid_alive(pid: int) -> bool:
    if os.name != "posix":
        return True  # cannot tell: rely on the age alone
    if pid == os.getpid():
        return True  # maybe another thread of ours is writing it right now
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _older_than(path: Path, age_s: float) -> bool:
    try:
        return time.time() - path.lstat().st_mtime >= age_s
    except OSError:
        return False


def remove_stale_temporaries(path: str | Path, min_age_s: float = 0.0) -> list[Path]:
    """Remove hidden temporaries that a killed save of ``path`` left beside it.

    Parameters
    ----------
    path
        A file written with :func:`atomic_write_path(s)`.
    min_age_s
        Only remove temporaries at least this old (a reader passes a minute or
        so, in case another process is saving right now).

    Returns
    -------
    list of Path
        The files removed. Errors (a read-only folder) are ignored.
    """
    import glob

    path = Path(path)
    folder = path.parent
    patterns = [
        f".{glob.escape(path.name)}.*.tmp{glob.escape(path.suffix)}",
        f".{glob.escape(path.name)}.*.old",
        f".{glob.escape(path.name)}.*.journal.tmp",
        # names of earlier versions of this module
        f".{glob.escape(path.stem)}.*.tmp{glob.escape(path.suffix)}",
        f".{glob.escape(path.stem)}.*.bak.tmp",
    ]
    removed = []
    for pattern in patterns:
        for candidate in folder.glob(pattern):
            if candidate in removed or not candidate.is_file() or not _older_than(candidate, min_age_s):
                continue
            try:
                candidate.unlink()
            except OSError:
                continue
            removed.append(candidate)
    return removed


# ------------------------------------------------------------ result folders
def _owner_pid(name: str) -> int | None:
    """The process id in ``.<target>.tmp-<pid>-<token>`` / ``.old-``."""
    try:
        return int(name.rsplit("-", 2)[-2])
    except (ValueError, IndexError):
        return None


def _remove_stale_result_folders(target: Path) -> None:
    """Clean what a killed run left beside ``target``.

    A temporary folder (``.<name>.tmp-<pid>-<token>``) of a process that is
    gone is removed. A previous result moved aside (``.<name>.old-...``) is
    removed too, unless ``target`` is missing: then the run was killed
    between the two renames of the swap, and the previous result is put back.
    """
    import glob

    parent = target.parent
    prefix = f".{glob.escape(target.name)}"
    for kind in ("old", "tmp"):
        for candidate in sorted(parent.glob(f"{prefix}.{kind}-*-*")):
            if not candidate.is_dir() or candidate.is_symlink():
                continue
            pid = _owner_pid(candidate.name)
            if pid is not None and _pid_alive(pid) and not _older_than(candidate, _STALE_AFTER_S):
                continue
            if kind == "old" and not os.path.lexists(target):
                with contextlib.suppress(OSError):
                    os.rename(candidate, target)
                continue
            shutil.rmtree(candidate, ignore_errors=True)


def _visible_entries(folder: Path) -> list[str]:
    return sorted(entry.name for entry in folder.iterdir() if not entry.name.startswith("."))


def _check_replaceable(target: Path, markers: Iterable[str], option: str | None = None) -> None:
    """Raise FaceHMMError if ``target`` is a file, or a non-empty folder that is no result of ours."""
    where = f"{option} {target}" if option else str(target)
    if not os.path.lexists(target):
        return
    if not target.is_dir():
        raise FaceHMMError(f"{where}: is a file, not a folder; choose a folder for the results")
    entries = _visible_entries(target)
    markers = tuple(markers)
    if entries and not any(os.path.lexists(target / marker) for marker in markers):
        shown = ", ".join(entries[:5]) + (f" and {len(entries) - 5} more" if len(entries) > 5 else "")
        raise FaceHMMError(
            f"{where}: the folder is not empty ({shown}) and holds no earlier facehmm result "
            f"(no {' or '.join(markers)}); the results replace the folder as a whole, so choose "
            "a new or empty folder"
        )


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold Ctrl+C and SIGTERM until the block ends (main thread only).

    The swap of a result folder is two renames; an interrupt between them
    would leave no folder at the target. Signals received meanwhile are
    raised again right after, so the interrupt still happens, once the
    results are whole.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = {}
    for number in (signal.SIGINT, getattr(signal, "SIGTERM", None)):
        if number is None:
            continue
        handler = signal.getsignal(number)
        if handler is None:
            continue  # installed outside Python: leave it alone
        previous[number] = signal.signal(number, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        for number in received:
            signal.raise_signal(number)


class _KeepTemporary(FaceHMMError):
    """The temporary folder holds the user's files and must not be removed."""


def _swap_in(temp: Path, target: Path, owned_names: frozenset[str]) -> None:
    """Rename ``temp`` to ``target``; carry the user's files of an old ``target`` over."""
    if not os.path.lexists(target):
        os.rename(temp, target)
        return
    with contextlib.suppress(OSError):
        os.chmod(temp, stat.S_IMODE(target.stat().st_mode))
    carried = [
        entry.name
        for entry in target.iterdir()
        if entry.name not in owned_names and not os.path.lexists(temp / entry.name)
    ]
    moved: list[str] = []
    try:
        for name in carried:
            os.rename(target / name, temp / name)
            moved.append(name)
        aside = target.with_name(f".{target.name}.old-{os.getpid()}-{secrets.token_hex(3)}")
        os.rename(target, aside)
        try:
            os.rename(temp, target)
        except BaseException:
            os.rename(aside, target)
            raise
    except BaseException as error:
        try:
            for name in reversed(moved):
                os.rename(temp / name, target / name)
        except OSError as rollback_error:
            raise _KeepTemporary(
                f"{target}: could not put your files back ({rollback_error}); they are in {temp}"
            ) from error
        raise
    shutil.rmtree(aside, ignore_errors=True)


@contextlib.contextmanager
def results_folder(
    target: str | Path,
    owned_names: Iterable[str] = (),
    markers: Iterable[str] = RESULT_MARKERS,
) -> Iterator[Path]:
    """Write a set of result files into a folder that appears whole or not at all.

    Parameters
    ----------
    target
        The results folder (e.g. ``--out``). Its parent is created; the parent
        must be writable (the new folder is built beside ``target``).
    owned_names
        Names of every file or folder a result set of this kind may contain
        (all of them, not only this run's: an earlier run's figure is dropped
        when this run draws none). Other entries of an earlier result in
        ``target`` belong to the user and are carried over into the new one.
    markers
        Names that mark a folder as an earlier result (default
        :data:`RESULT_MARKERS`).

    Yields
    ------
    Path
        An empty hidden folder beside ``target`` (``.<name>.tmp-<pid>-<random>``,
        on the same file system). Write every output there.

    Raises
    ------
    FaceHMMError
        ``target`` is a file, or a non-empty folder that is no earlier result
        (none of ``markers`` in it): it is refused before anything is written,
        since replacing it would hide the user's files among ours.
    OSError
        The parent cannot be created or written.

    Notes
    -----
    When the ``with`` body ends normally, the user's files are moved from the
    old folder into the new one, the old folder is renamed aside, the new one
    renamed to ``target`` and the old one removed (Ctrl+C and SIGTERM are held
    during these renames, in the main thread). If the body raises anything
    (KeyboardInterrupt, a full disk, Cancelled), the temporary folder is
    removed and ``target`` is left exactly as it was. Temporary folders of an
    earlier run that was killed (its process is gone) are removed when the
    next run starts.
    """
    target = Path(target)
    if target.is_symlink():
        target = target.resolve()
    owned = frozenset(owned_names)
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_result_folders(target)
    _check_replaceable(target, markers)
    temp = None
    while temp is None:
        candidate = target.with_name(f".{target.name}.tmp-{os.getpid()}-{secrets.token_hex(3)}")
        try:
            candidate.mkdir()  # the user's umask applies, unlike tempfile.mkdtemp's 0o700
        except FileExistsError:
            continue
        temp = candidate
    keep_temp = False
    try:
        yield temp
        with _signals_deferred():
            try:
                _swap_in(temp, target, owned)
            except _KeepTemporary:
                keep_temp = True
                raise
            keep_temp = True  # renamed to target: nothing of it is temporary any more
    finally:
        if not keep_temp:
            shutil.rmtree(temp, ignore_errors=True)


# ------------------------------------------------------------ output checks
def check_output_dir(
    path: str | Path, option: str = "--out", result_set: bool = False, markers: Iterable[str] = RESULT_MARKERS
) -> Path:
    """Check, before any work, that results can be written to the folder ``path``.

    Parameters
    ----------
    path
        The output folder; it need not exist yet.
    option
        How the user gave it (``"--out"``, ``"--output-dir"``), for the message.
    result_set
        ``path`` will be written with :func:`results_folder`: its parent must
        be writable too, and an existing ``path`` must be empty or an earlier
        result (holding one of ``markers``, as for :func:`results_folder`).

    Returns
    -------
    Path
        ``path`` as a :class:`~pathlib.Path`, checked.

    Raises
    ------
    FaceHMMError
        Naming the option, the path and the cause: ``path`` is a file, lies
        under a regular file, or its folder cannot be written.
    """
    path = Path(path)
    where = f"{option} {path}"
    existing = path
    try:
        if os.path.lexists(path) and not path.is_dir():
            raise FaceHMMError(f"{where}: is a file, not a folder")
        # The folder that must accept new entries: the nearest existing one.
        existing = path.parent if result_set else path
        while not os.path.lexists(existing) and existing.parent != existing:
            existing = existing.parent
        if not existing.is_dir():
            raise FaceHMMError(f"{where}: cannot create a folder there: {existing} is a file, not a folder")
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as error:
        raise FaceHMMError(f"{where}: cannot write in {existing}: {error.strerror or error}") from error
    if result_set:
        _check_replaceable(path, markers, option)
    return path
