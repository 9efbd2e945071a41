"""Where a dataset's files come from: the first source that delivers them.

1. ``path``, a file or folder the user points at. It is trusted as it is (users may bring
   their own or newer copies) and only parsed and validated, never checksum-checked.
2. The cache ``raw_dir/<name>/``, but only if every file there matches its pinned sha256;
   a file that does not is removed and reported, so a truncated download never poisons
   later runs.
3. The publisher's download, through pooch: streamed to a temporary file and kept only if
   its sha256 matches, so nothing unverified enters the cache.
4. For MovieLens 100K only, the identical copy inside the RecBole wheel on PyPI, for
   machines that reach a package index but not GroupLens.

When every source fails, the error lists what was tried and which file to put where.
"""

from __future__ import annotations

import hashlib
import logging
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import pooch

from vaeops.errors import DataError

logger = logging.getLogger(__name__)
# pooch writes its own "Downloading data from ..." notices to stderr, outside logging, even
# when the download then fails; obtain() logs the one line that says where files came from.
pooch.get_logger().setLevel(logging.WARNING)

PIP_TIMEOUT_S = 300


class _SourceFailed(Exception):
    """One source could not deliver verified files; the message says why."""


# Failures of one source that should move on to the next source rather than crash; being
# offline and HTTP errors reach here as requests' exceptions, which are OSErrors.
_FETCH_ERRORS = (OSError, zipfile.BadZipFile, subprocess.SubprocessError, _SourceFailed)


@dataclass(frozen=True)
class LocatedFiles:
    """Where the files a parser reads are: plain files, or members of a verified cached zip.

    GroupLens publishes checksums only for its zips, so for ML-1M and ML-20M the cache keeps
    the zip itself (verifiable on every run) and the files are read straight out of it.
    """

    origin: str
    plain: Mapping[str, Path] = field(default_factory=dict)
    archive: Path | None = None

    def _member(self, name: str) -> str:
        assert self.archive is not None
        return f"{self.archive.stem}/{name}"

    def label(self, name: str) -> str:
        if self.archive is not None:
            return f"{self.archive}:{self._member(name)}"
        return str(self.plain[name])

    @contextmanager
    def open(self, name: str) -> Iterator[IO[bytes]]:
        if self.archive is None:
            with self.plain[name].open("rb") as stream:
                yield stream
        else:
            with (
                zipfile.ZipFile(self.archive) as archive,
                archive.open(self._member(name)) as stream,
            ):
                yield stream


@dataclass(frozen=True)
class Fetcher:
    """One outside source: ``fetch(cache_dir, checksums)`` stores the files in ``provides``
    in the cache, each only once its sha256 matches ``checksums``."""

    description: str
    provides: frozenset[str]
    fetch: Callable[[Path, Mapping[str, str]], None]


@dataclass(frozen=True)
class Sources:
    """The outside sources of one dataset, and what its cache may hold.

    ``checksums`` pins the sha256 of every file the cache may hold; nothing else enters it.
    ``archive`` names the one cached zip the files are read from, where only it is pinned.
    """

    checksums: Mapping[str, str] = field(default_factory=dict)
    fetchers: tuple[Fetcher, ...] = ()
    archive: str | None = None

    def cache_files(self, files: Sequence[str]) -> tuple[str, ...]:
        return (self.archive,) if self.archive else tuple(files)


# --------------------------------------------------------------------------- outside sources


def _download(url: str, folder: Path, name: str, sha256: str | None) -> Path:
    """``url`` as ``folder/name``; pooch keeps it only if its sha256 matches (when pinned)."""
    known_hash = None if sha256 is None else f"sha256:{sha256}"
    try:
        return Path(
            pooch.retrieve(url, known_hash=known_hash, fname=name, path=folder, progressbar=True)
        )
    except ValueError as error:  # pooch's checksum mismatch
        raise _SourceFailed(str(error)) from error


def _store_verified(
    files: Mapping[str, bytes], cache_dir: Path, checksums: Mapping[str, str], origin: str
) -> None:
    """Write ``files`` into the cache, all or none: only if each has its pinned sha256."""
    for name, data in files.items():
        actual = hashlib.sha256(data).hexdigest()
        if actual != checksums[name]:
            raise _SourceFailed(
                f"{name} from {origin} has sha256 {actual}, expected {checksums[name]}"
            )
    for name, data in files.items():
        (cache_dir / name).write_bytes(data)


def _read_member(archive: zipfile.ZipFile, member: str, origin: str) -> bytes:
    try:
        return archive.read(member)
    except KeyError:
        raise _SourceFailed(f"{member} is not in {origin}") from None


def download_files(urls: Mapping[str, str]) -> Fetcher:
    """Files kept exactly as served (name -> url), e.g. a GroupLens zip or LightGCN's files."""

    def fetch(cache_dir: Path, checksums: Mapping[str, str]) -> None:
        for name, url in urls.items():
            _download(url, cache_dir, name, checksums[name])

    return Fetcher(f"download {', '.join(urls.values())}", frozenset(urls), fetch)


def extract_from_zip(url: str, sha256: str | None, members: Mapping[str, str]) -> Fetcher:
    """A zip downloaded only to take ``members`` (archive path -> cache name) out of it.

    ``sha256`` is None where the publisher replaces the zip between releases; the extracted
    files are still verified against the dataset's checksums.
    """

    def fetch(cache_dir: Path, checksums: Mapping[str, str]) -> None:
        with tempfile.TemporaryDirectory() as folder:
            archive_path = _download(url, Path(folder), "download.zip", sha256)
            with zipfile.ZipFile(archive_path) as archive:
                extracted = {
                    name: _read_member(archive, member, url) for member, name in members.items()
                }
        _store_verified(extracted, cache_dir, checksums, url)

    return Fetcher(f"download {url}", frozenset(members.values()), fetch)


def _pip_download(requirement: str, folder: Path) -> Path:
    """Download one wheel without installing it; pip already knows the user's index and proxy."""
    logger.debug("downloading %s from the package index with pip", requirement)
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        requirement,
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "--quiet",
        "-d",
        str(folder),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=PIP_TIMEOUT_S)
    if result.returncode != 0:
        last_lines = " | ".join(result.stderr.strip().splitlines()[-3:])
        raise _SourceFailed(
            f"pip download {requirement} failed ({result.returncode}): {last_lines}"
        )
    wheels = sorted(folder.glob("*.whl"))
    if len(wheels) != 1:
        raise _SourceFailed(f"pip download {requirement} gave {len(wheels)} wheels, expected 1")
    return wheels[0]


_RECBOLE_REQUIREMENT = "recbole==1.2.1"
_RECBOLE_ML100K = "recbole/dataset_example/ml-100k/"
# RecBole's typed header; the rows below it are GroupLens' u.data byte for byte (tab, LF).
_RECBOLE_INTER_HEADER = b"user_id:token\titem_id:token\trating:float\ttimestamp:float\n"


def _fetch_recbole_ml100k(cache_dir: Path, checksums: Mapping[str, str]) -> None:
    """Rebuild u.data from the copy of MovieLens 100K inside the RecBole wheel on PyPI."""
    with tempfile.TemporaryDirectory() as folder:
        wheel = _pip_download(_RECBOLE_REQUIREMENT, Path(folder))
        with zipfile.ZipFile(wheel) as archive:
            inter = _read_member(archive, _RECBOLE_ML100K + "ml-100k.inter", wheel.name)
            items = _read_member(archive, _RECBOLE_ML100K + "ml-100k.item", wheel.name)
    if not inter.startswith(_RECBOLE_INTER_HEADER):
        raise _SourceFailed(f"ml-100k.inter in {wheel.name} lacks the expected typed header")
    rebuilt = {"u.data": inter[len(_RECBOLE_INTER_HEADER) :], "ml-100k.item": items}
    _store_verified(rebuilt, cache_dir, checksums, wheel.name)


PYPI_MIRROR_OF_ML100K = Fetcher(
    f"PyPI mirror: {_RECBOLE_REQUIREMENT} wheel, {_RECBOLE_ML100K}",
    frozenset({"u.data", "ml-100k.item"}),
    _fetch_recbole_ml100k,
)


# --------------------------------------------------------------------------- local path


def _existing(path: str | Path) -> Path:
    path = Path(path)
    if not path.exists():
        raise DataError(f"`path` {path} does not exist; point it at the data file or its folder.")
    return path


def local_files(path: str | Path, files: Sequence[str]) -> LocatedFiles:
    """``files`` at the user's ``path``: the one file itself, or a folder holding them all."""
    path = _existing(path)
    if path.is_file():
        if len(files) != 1:
            raise DataError(
                f"`path` {path} is a file, but this dataset needs {', '.join(files)}: "
                "pass the folder holding them."
            )
        return LocatedFiles(origin=str(path), plain={files[0]: path})
    missing = [name for name in files if not (path / name).is_file()]
    if missing:
        raise DataError(
            f"`path` folder {path} has no {', '.join(missing)}; pass a folder holding "
            f"{', '.join(files)}, or the file itself."
        )
    return LocatedFiles(origin=str(path), plain={name: path / name for name in files})


def files_beside(
    path: str | Path, layouts: Sequence[Sequence[str]]
) -> tuple[int, LocatedFiles] | None:
    """The first of ``layouts`` complete in ``path`` (a folder) or beside it (a file), if any.

    Files from anywhere else are never mixed in with the user's copy.
    """
    located = _existing(path)
    folder = located if located.is_dir() else located.parent
    for index, files in enumerate(layouts):
        if all((folder / file).is_file() for file in files):
            plain = {file: folder / file for file in files}
            return index, LocatedFiles(origin=str(folder), plain=plain)
    return None


# --------------------------------------------------------------------------- cache


def _verified_cache(
    sources: Sources, cache_dir: Path, files: Sequence[str], failures: list[str]
) -> LocatedFiles | None:
    """The cached files if all verify; a file that fails is removed so it is never used."""
    usable = True
    for name in sources.cache_files(files):
        cached = cache_dir / name
        if not cached.is_file():
            failures.append(f"cache {cached}: not there")
            usable = False
            continue
        expected, actual = sources.checksums[name], pooch.file_hash(str(cached))
        if actual != expected:
            try:
                cached.unlink()
                outcome = "removed"
            except OSError as error:
                outcome = f"not used, and could not be removed: {error}"
            logger.warning(
                "cached %s is corrupt or not the expected file (sha256 %s, expected %s); %s. "
                "To use your own copy, pass it as `path` instead.",
                cached,
                actual,
                expected,
                outcome,
            )
            failures.append(f"cache {cached}: sha256 {actual}, expected {expected}; {outcome}")
            usable = False
    if not usable:
        return None
    if sources.archive:
        return LocatedFiles(origin=f"cache {cache_dir}", archive=cache_dir / sources.archive)
    return LocatedFiles(
        origin=f"cache {cache_dir}", plain={name: cache_dir / name for name in files}
    )


def obtain(
    name: str,
    description: str,
    sources: Sources,
    cache_dir: Path,
    layouts: Sequence[Sequence[str]],
) -> tuple[int, LocatedFiles]:
    """Verified files for one of ``layouts`` (preferred first): cached, else fetched.

    A source that fails before another delivers is named in the one line that says where
    the files came from; the full errors go to the DataError when every source fails.
    """
    failures: list[str] = []
    unreachable: list[str] = []
    for index, files in enumerate(layouts):
        found = _verified_cache(sources, cache_dir, files, failures)
        if found is not None:
            logger.info("%s: using verified %s", name, found.origin)
            return index, found
    for fetcher in sources.fetchers:
        served = [
            i
            for i, files in enumerate(layouts)
            if set(sources.cache_files(files)) <= fetcher.provides
        ]
        if not served:
            continue
        index = served[0]
        cache_dir.mkdir(parents=True, exist_ok=True)
        try:
            fetcher.fetch(cache_dir, sources.checksums)
        except _FETCH_ERRORS as error:
            # Said once: in the line of the source that delivers, or in the DataError.
            logger.debug("%s: %s failed: %s", name, fetcher.description, error)
            failures.append(f"{fetcher.description}: {error}")
            unreachable.append(f"{fetcher.description} failed ({type(error).__name__})")
            continue
        before = "".join(f"{failed}; " for failed in unreachable)
        logger.info(
            "%s: %s%s verified and stored in %s", name, before, fetcher.description, cache_dir
        )
        found = _verified_cache(sources, cache_dir, layouts[index], failures)
        assert found is not None, "files just verified and stored must verify"
        return index, found
    by_hand = ", ".join(
        f"{file} (sha256 {sources.checksums[file]})" for file in sources.cache_files(layouts[0])
    )
    tried = "\n".join(f"  - {failure}" for failure in failures)
    wanted = layouts[0]
    local = (
        f"{wanted[0]} itself or a folder holding it"
        if len(wanted) == 1
        else f"a folder holding {', '.join(wanted)}"
    )
    raise DataError(
        f"could not obtain dataset {name!r} ({description}). Sources tried:\n{tried}\n"
        f"To provide it by hand, put {by_hand} into {cache_dir}/, "
        f"or pass `path`: {local}."
    )
