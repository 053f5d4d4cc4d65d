"""Safe file handling for run folders: atomic writes, the ownership manifest, the lock.

    atomic_write      a file is replaced whole or not at all (temporary file, fsync, rename)
    Manifest          `.deepbsde-run`: the top-level entries a run wrote; only these are ever removed
    FolderLock        `.deepbsde-lock`: one process at a time per run folder (flock, freed on any exit)

Every failure is a RunFolderError naming the path (`path: reason`), never a bare OSError.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import IO

from deepbsde.errors import RunFolderError

MANIFEST = ".deepbsde-run"
LOCK = ".deepbsde-lock"
STAGING = ".deepbsde-new"  # a new run is built here, inside the target, and moved into place once started
MODEL_SWAP = (".model-new", ".model-old")  # a saved model is written beside the old one, then swapped in
_MANIFEST_FORMAT = 1

# What deepbsde itself writes inside the folders it owns; anything else there is someone else's.
_OWNED_CONTENT = {
    "checkpoints": re.compile(r"^(checkpoint|ckpt-\d+\.(index|data-\d+-of-\d+))(\.tmp.*|_temp.*)?$"),
    "model": re.compile(r"^(checkpoint|model\.(index|data-\d+-of-\d+))$"),
    "tensorboard": re.compile(r"^events\.out\.tfevents\..+$"),
}


def reason_of(error: OSError) -> str:
    """The readable part of an OSError (`No space left on device`)."""
    return error.strerror or str(error)


def _write_all(handle: IO[bytes], data: bytes) -> None:
    """The one place bytes reach the disk (tests replace it to simulate a full disk)."""
    handle.write(data)
    handle.flush()
    os.fsync(handle.fileno())


def fsync_directory(path: Path) -> None:
    """Makes a rename or a new entry in `path` durable."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def atomic_write(path: str | Path, data: str | bytes) -> None:
    """Replaces `path` by `data` whole or not at all; on failure the old file is unchanged."""
    path = Path(path)
    payload = data.encode() if isinstance(data, str) else data
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(temporary, "wb") as handle:
            _write_all(handle, payload)
        os.replace(temporary, path)
    except OSError as error:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise RunFolderError(str(path), f"cannot write: {reason_of(error)}") from None
    fsync_directory(path.parent)


def fsync_tree(path: Path) -> None:
    """fsyncs every file under `path` (files written by TensorFlow), then the folders."""
    for root, _, names in os.walk(path):
        for name in names:
            try:
                descriptor = os.open(os.path.join(root, name), os.O_RDONLY)
            except OSError:
                continue
            try:
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
        fsync_directory(Path(root))


class Manifest:
    """The `.deepbsde-run` file of a run folder: the top-level entries deepbsde wrote there."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.path = folder / MANIFEST

    def exists(self) -> bool:
        return self.path.is_file()

    def read(self) -> list[str]:
        """The listed names; a damaged manifest is a RunFolderError (nothing is then removed)."""
        try:
            data = json.loads(self.path.read_text())
            names = data["files"]
            if not isinstance(names, list) or not all(isinstance(n, str) and "/" not in n for n in names):
                raise ValueError("files is not a list of names")
            return names
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise RunFolderError(str(self.path), f"damaged run manifest ({error}); remove the folder's "
                                                 "contents yourself") from None

    def claim(self, names: Iterable[str]) -> None:
        """Records `names` as written by deepbsde (before they are written)."""
        listed = self.read() if self.exists() else []
        new = sorted(set(listed) | set(names))
        if new != listed or not self.exists():
            atomic_write(self.path, json.dumps({"format": _MANIFEST_FORMAT, "files": new}, indent=1) + "\n")


def foreign_entries(folder: Path) -> list[str]:
    """Entries of `folder` that deepbsde did not write (by its manifest), worst first.

    Links are always foreign (deepbsde writes none), as are files inside the
    folders it owns that it would not have written there."""
    listed = set(Manifest(folder).read()) if (folder / MANIFEST).is_file() else set()
    ours = listed | {MANIFEST, LOCK, STAGING, *MODEL_SWAP}
    foreign = []
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if entry.is_symlink():
            foreign.append(f"{entry.name} (a symbolic link)")
        elif entry.name not in ours and not _is_temporary(entry.name):
            foreign.append(entry.name)
        elif entry.is_dir(follow_symlinks=False) and entry.name in _OWNED_CONTENT:
            foreign.extend(_foreign_content(Path(entry.path), entry.name))
    return foreign


def _is_temporary(name: str) -> bool:
    """A temporary file left by an interrupted atomic_write."""
    return re.match(r"^\..+\.tmp-\d+$", name) is not None


def _foreign_content(path: Path, kind: str) -> list[str]:
    pattern = _OWNED_CONTENT[kind]
    found = []
    for entry in os.scandir(path):
        if entry.is_symlink():
            found.append(f"{kind}/{entry.name} (a symbolic link)")
        elif entry.is_dir(follow_symlinks=False) or not pattern.match(entry.name):
            found.append(f"{kind}/{entry.name}")
    return found


def remove_entry(path: Path) -> None:
    """Deletes a file or a folder tree without following any link."""
    if path.is_symlink() or not path.is_dir():
        path.unlink(missing_ok=True)
    else:
        shutil.rmtree(path)


def remove_owned(folder: Path, keep: Iterable[str] = ()) -> None:
    """Deletes what the manifest lists (and a stale staging folder), after checking that
    nothing else is there; a folder holding anything foreign is refused untouched."""
    foreign = foreign_entries(folder)
    if foreign:
        raise RunFolderError(str(folder), f"holds {_listing(foreign)} that deepbsde did not write; "
                                          "nothing was removed: choose another folder or move them away")
    listed = Manifest(folder).read() if (folder / MANIFEST).is_file() else []
    leftovers = [entry.name for entry in os.scandir(folder) if _is_temporary(entry.name)]
    for name in [*listed, STAGING, *MODEL_SWAP, *leftovers]:
        if name not in (MANIFEST, LOCK, *keep):
            remove_entry(folder / name)
    (folder / MANIFEST).unlink(missing_ok=True)
    fsync_directory(folder)


def _listing(names: list[str]) -> str:
    shown = ", ".join(names[:5])
    return shown + (f" and {len(names) - 5} more" if len(names) > 5 else "")


class FolderLock:
    """An exclusive lock on a run folder, held until release() or the process ends (even kill -9)."""

    def __init__(self, folder: Path):
        self.path = folder / LOCK
        self.descriptor: int | None = None
        self.created = False  # whether acquire() created the lock file

    def acquire(self) -> None:
        self.created = not self.path.exists()
        try:
            descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            raise RunFolderError(str(self.path.parent), f"cannot create a lock file: {reason_of(error)}") from None
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            os.close(descriptor)
            if error.errno in (errno.EWOULDBLOCK, errno.EACCES):
                raise RunFolderError(str(self.path.parent), "another deepbsde process is running in this "
                                                            "folder; wait for it or choose another") from None
            raise RunFolderError(str(self.path), f"cannot lock: {reason_of(error)}") from None
        self.descriptor = descriptor

    def release(self) -> None:
        if self.descriptor is not None:
            os.close(self.descriptor)  # closing frees the flock
            self.descriptor = None
