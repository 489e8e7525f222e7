"""Download CWRU files into the data directory, once, atomically and checksum-verified.

Files land in ``<data_dir>/cwru/<number>.mat`` (data dir: ``--data-dir`` >
``$FAULTLAB_DATA_DIR`` > the user cache dir, see :mod:`faultlab.data.paths`). pooch does the
transfer: it streams to a temporary file beside the target, checks the sha256 when the
catalogue knows it and only then renames, so an interrupted download never leaves a
half-written ``.mat``. A file already present is reused after its hash is checked.

The source is ``https://engineering.case.edu/sites/default/files/{file}.mat``; a ``base_url``
argument or ``$FAULTLAB_CWRU_URL`` replaces it (a template with ``{file}``, or a folder URL to
which ``/<number>.mat`` is appended). ``http(s)://`` and ``file://`` URLs are supported.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse
from urllib.request import url2pathname

import pooch

from faultlab.data import catalogue
from faultlab.errors import DataError

ENV_URL = "FAULTLAB_CWRU_URL"


@dataclass
class FetchResult:
    """One file of a download: where it is and whether it was fetched or already there."""

    file: int
    path: Path
    status: Literal["downloaded", "cached"]
    url: str
    sha256: str | None = None


def url_template(base_url: str | None = None) -> str:
    """The URL template in force: argument > ``$FAULTLAB_CWRU_URL`` > the official site."""
    template = base_url or os.environ.get(ENV_URL) or catalogue.BASE_URL
    if "{file}" not in template:
        template = template.rstrip("/") + "/{file}.mat"
    return template


def cwru_url(file: int | str, base_url: str | None = None) -> str:
    """The URL of one file; a template without a scheme is a local folder (-> ``file://``)."""
    url = url_template(base_url).format(file=catalogue.file_number(file))
    if not urlparse(url).scheme:
        url = Path(url).expanduser().resolve().as_uri()
    return url


def _file_downloader(url: str, output_file: Any, pooch_obj: Any = None) -> None:
    """pooch downloader for ``file://`` URLs (pooch itself speaks http/ftp/doi only)."""
    source = Path(url2pathname(urlparse(url).path))
    if not source.is_file():
        raise FileNotFoundError(2, "no such file", str(source))
    if hasattr(output_file, "write"):
        with source.open("rb") as fh:
            shutil.copyfileobj(fh, output_file)
    else:
        shutil.copyfile(source, output_file)


def _downloader(number: int, url: str, progress: bool, timeout: float) -> Callable[..., None]:
    scheme = urlparse(url).scheme.lower()
    if scheme == "file":
        return _file_downloader
    if scheme in ("http", "https"):
        return pooch.HTTPDownloader(progressbar=progress, timeout=timeout)
    try:
        return pooch.downloaders.choose_downloader(url, progressbar=progress)
    except ValueError:
        raise DataError(
            f"CWRU file {number}: unsupported URL {url!r} (use http://, https://, file:// or a folder)"
        ) from None


@contextlib.contextmanager
def _quiet_pooch() -> Iterator[None]:
    """pooch logs every transfer at INFO; callers report results themselves."""
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def sha256(path: str | os.PathLike) -> str:
    return pooch.file_hash(str(path), alg="sha256")


def _mismatch(number: int, where: str, actual: str, expected: str, hint: str) -> DataError:
    return DataError(
        f"CWRU file {number}: {where} has sha256 {actual} but the catalogue expects "
        f"{expected}; {hint}"
    )


def fetch(
    file: int | str,
    data_dir: str | os.PathLike | None = None,
    base_url: str | None = None,
    *,
    progress: bool = False,
    retries: int = 2,
    redownload: bool = False,
    timeout: float = 60.0,
) -> FetchResult:
    """Make one catalogue file present in the data directory; see :func:`download_cwru`."""
    info = catalogue.entry(file)
    number = int(info["file"])
    known = info.get("sha256")
    path = catalogue.cwru_path(number, data_dir)
    url = cwru_url(number, base_url)

    if path.exists():
        if not known:
            return FetchResult(number, path, "cached", url, None)
        actual = sha256(path)
        if actual == known:
            return FetchResult(number, path, "cached", url, known)
        if not redownload:
            raise _mismatch(
                number,
                str(path),
                actual,
                known,
                "delete it or download again with --redownload",
            )

    registry = {path.name: f"sha256:{known}" if known else None}
    store = pooch.create(
        path=str(path.parent),
        base_url="",
        registry=registry,
        urls={path.name: url},
        retry_if_failed=max(0, int(retries)),
        allow_updates=True,
    )
    import requests

    try:
        with _quiet_pooch():
            store.fetch(path.name, downloader=_downloader(number, url, progress, timeout))
    except requests.exceptions.HTTPError as exc:
        code = exc.response.status_code if exc.response is not None else "?"
        reason = exc.response.reason if exc.response is not None else str(exc)
        raise DataError(
            f"CWRU file {number}: download from {url} failed (HTTP {code} {reason})"
        ) from None
    except requests.exceptions.RequestException as exc:
        raise DataError(
            f"CWRU file {number}: could not download {url} ({exc.__class__.__name__})"
        ) from None
    except FileNotFoundError as exc:
        raise DataError(f"CWRU file {number}: {url} does not exist ({exc.filename})") from None
    except OSError as exc:
        raise DataError(f"CWRU file {number}: could not write {path} ({exc})") from None
    except ValueError as exc:
        found = re.search(r"expected (?:sha256:)?(\w+) but got (\w+)", str(exc))
        if found:
            raise _mismatch(
                number,
                f"the download from {url}",
                found.group(2),
                found.group(1),
                "the download was discarded (corrupt transfer or wrong source?)",
            ) from None
        raise DataError(f"CWRU file {number}: {exc}") from None
    return FetchResult(number, path, "downloaded", url, known)


def fetch_cwru(file: int | str, data_dir: str | os.PathLike | None = None, **kwargs: Any) -> Path:
    """Path of one catalogue file, downloading it first if it is missing."""
    return fetch(file, data_dir, **kwargs).path


def download_cwru(
    files: Iterable[int | str],
    data_dir: str | os.PathLike | None = None,
    base_url: str | None = None,
    *,
    progress: bool = False,
    retries: int = 2,
    redownload: bool = False,
    timeout: float = 60.0,
    on_result: Callable[[FetchResult], None] | None = None,
) -> list[FetchResult]:
    """Fetch every file of a selection; already-present files are verified and reused.

    Every file is attempted; if any failed, a DataError naming each failure is raised after
    the others are in place (the successful ones stay: they are complete and verified).
    """
    numbers = [catalogue.file_number(f) for f in files]
    for n in numbers:  # unknown numbers fail before any transfer
        catalogue.entry(n)
    results: list[FetchResult] = []
    failures: list[str] = []
    for n in dict.fromkeys(numbers):
        try:
            result = fetch(
                n,
                data_dir,
                base_url,
                progress=progress,
                retries=retries,
                redownload=redownload,
                timeout=timeout,
            )
        except DataError as exc:
            failures.append(str(exc))
            continue
        results.append(result)
        if on_result is not None:
            on_result(result)
    if len(failures) == 1:
        raise DataError(failures[0])
    if failures:
        raise DataError(
            f"{len(failures)} of {len(numbers)} downloads failed: " + "; ".join(failures)
        )
    return results
