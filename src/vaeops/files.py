"""Files written so that a failure never leaves a truncated file where a good one was,
and files only one process at a time may use.

Each write goes to a temporary file beside its target, is flushed to disk, then
renamed over the target (``os.replace`` is atomic on one filesystem). A failed write
removes its temporary file, and a full disk is named as such: PyTorch's serializer
reports it only as "unexpected pos ...", with the ``OSError`` as its context.
"""

from __future__ import annotations

import errno
import os
import socket
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import torch
from filelock import FileLock, Timeout

OUT_OF_SPACE = (errno.ENOSPC, errno.EDQUOT)


class NoSpaceLeft(OSError):
    """The filesystem holding a file ran out of space (or quota) while writing it."""


def write_atomically(path: Path, write_to: Callable[[Path], None]) -> None:
    """Call ``write_to`` with a temporary path beside ``path``, then rename it to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write_to(temporary)
        with open(temporary, "rb+") as file:
            os.fsync(file.fileno())
        os.replace(temporary, path)
        _fsync_directory(path.parent)  # so that the rename itself survives a power cut
    except BaseException as error:
        temporary.unlink(missing_ok=True)
        if out_of_space(error):
            raise NoSpaceLeft(
                errno.ENOSPC,
                f"no space left on {path.parent.resolve()} while writing {path.name}; "
                "the file there before, if any, is unchanged. Free some space and run again",
            ) from error
        raise


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def torch_save_atomically(state: object, path: Path) -> None:
    """``torch.save`` through a Python file, whose ``OSError`` tells a full disk."""

    def save(temporary: Path) -> None:
        with open(temporary, "wb") as file:
            torch.save(state, file)

    write_atomically(path, save)


def out_of_space(error: BaseException | None) -> bool:
    """Whether ``error``, or an error it was raised from or during, is a full disk."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, OSError) and error.errno in OUT_OF_SPACE:
            return True
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return False


class LockHeld(RuntimeError):
    """Another process holds the lock; ``holder`` says which, as it recorded itself."""

    def __init__(self, path: Path, holder: str):
        super().__init__(f"{path} is locked by {holder}")
        self.path, self.holder = path, holder


def hold_exclusive_lock(path: str | Path) -> FileLock:
    """Take the lock on ``path`` at once, or raise LockHeld naming its holder.

    The lock is a ``flock`` (filelock's native lock), which the kernel drops when its
    holder exits, however it exits, so a file a killed process leaves behind blocks
    nobody. The file records the holder (pid, host, since when) for the refusal.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(path, timeout=0, preserve_lock_file=True, on_acquired=_record_holder)
    try:
        lock.acquire()
    except Timeout:
        raise LockHeld(path, path.read_text().strip() or "another process") from None
    return lock


def release_lock(lock: FileLock) -> None:
    os.truncate(lock.lock_file, 0)
    lock.release()


def _record_holder(descriptor: int) -> None:
    os.ftruncate(descriptor, 0)
    since = datetime.now(timezone.utc).isoformat(timespec="seconds")
    holder = f"pid {os.getpid()} on {socket.gethostname()} since {since}"
    os.pwrite(descriptor, holder.encode(), 0)
