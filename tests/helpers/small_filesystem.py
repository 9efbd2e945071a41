"""A real full disk for tests: a command run with a small tmpfs mounted over a folder.

The command runs in its own user and mount namespaces (``unshare``), so no root is
needed and the mount vanishes with it; the folder is untouched outside.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

MOUNT_THEN_RUN = 'mount -t tmpfs -o size="$1" tmpfs "$2" && shift 2 && exec "$@"'


def run_with_small_filesystem(
    folder: Path, size: str, command: list[str], **options
) -> subprocess.CompletedProcess:
    """Run ``command`` with a tmpfs of ``size`` (e.g. "64k") mounted over ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", MOUNT_THEN_RUN, "sh"]
        + [size, str(folder), *command],
        capture_output=True,
        text=True,
        timeout=300,
        **options,
    )


def python_with_small_filesystem(folder: Path, size: str, code: str) -> str:
    """Run Python ``code`` (``folder`` is ``FOLDER`` in it) on the small filesystem; its
    output. Fails the test, with the output, if it fails."""
    finished = run_with_small_filesystem(
        folder,
        size,
        [sys.executable, "-c", f"from pathlib import Path\nFOLDER = Path({str(folder)!r})\n{code}"],
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    return finished.stdout
