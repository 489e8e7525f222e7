"""Download catalogue files into the data directory, once, atomically and checksum-verified.

Files land in ``<data_dir>/<dataset>/<original file name>`` (``cwru/105.mat``,
``mfpt/baseline_1.mat``; data dir: ``--data-dir`` > ``$FAULTLAB_DATA_DIR`` > the user cache
dir, see :mod:`faultlab.data.paths`). pooch does the transfer: it streams to a temporary file
beside the target, checks the sha256 when the catalogue knows it and only then renames, so an
interrupted download never leaves a half-written file. A file already present is reused
after its hash is checked. Where the catalogue has no sha256 (most MFPT files), the dataset's
``verify`` hook checks the download (readable, right signal, rate and length) and a file
that fails is deleted.

The source is the catalogue row's ``url`` (CWRU:
``https://engineering.case.edu/sites/default/files/{file}.mat``); a ``base_url`` argument or
the dataset's variable (``$FAULTLAB_CWRU_URL``, ``$FAULTLAB_MFPT_URL``) replaces it: a template
with ``{file}`` (the file id: ``105``, ``baseline_1``), or a folder URL to which
``/<file name>`` is appended. ``http(s)://`` and ``file://`` URLs are supported.
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

from faultlab.data.datasets import get_dataset
from faultlab.errors import DataError

ENV_URL = "FAULTLAB_CWRU_URL"


@dataclass
class FetchResult:
    """One file of a download: where it is and whether it was fetched or already there."""

    file: int | str
    path: Path
    status: Literal["downloaded", "cached"]
    url: str
    sha256: str | None = None


def url_template(base_url: str | None = None, dataset: str = "cwru") -> str | None:
    """The URL template in force: argument > the dataset's variable > its default template
    (None where every catalogue row carries its own URL, as in MFPT)."""
    spec = get_dataset(dataset)
    template = base_url or os.environ.get(spec.env_url) or spec.base_url
    if template and "{file}" not in template:
        template = template.rstrip("/") + "/{file}" + spec.suffix
    return template or None


def file_url(file: int | str, base_url: str | None = None, dataset: str = "cwru") -> str:
    """The URL of one file; a template without a scheme is a local folder (-> ``file://``)."""
    spec = get_dataset(dataset)
    template = url_template(base_url, dataset)
    fid = spec.catalogue.file_id(file)
    url = template.format(file=fid) if template else spec.catalogue.entry(fid).get("url") or ""
    if not url:
        raise DataError(f"{spec.label} file {fid}: no URL in the catalogue; pass --base-url")
    if not urlparse(url).scheme:
        url = Path(url).expanduser().resolve().as_uri()
    return url


def cwru_url(file: int | str, base_url: str | None = None) -> str:
    """The URL of one CWRU file (see :func:`file_url`)."""
    return file_url(file, base_url, "cwru")


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


def _downloader(what: str, url: str, progress: bool, timeout: float) -> Callable[..., Any]:
    scheme = urlparse(url).scheme.lower()
    if scheme == "file":
        return _file_downloader
    if scheme in ("http", "https"):
        return pooch.HTTPDownloader(progressbar=progress, timeout=timeout)
    try:
        return pooch.downloaders.choose_downloader(url, progressbar=progress)
    except ValueError:
        raise DataError(
            f"{what}: unsupported URL {url!r} (use http://, https://, file:// or a folder)"
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


def _mismatch(what: str, where: str, actual: str, expected: str, hint: str) -> DataError:
    return DataError(
        f"{what}: {where} has sha256 {actual} but the catalogue expects {expected}; {hint}"
    )


def fetch(
    file: int | str,
    data_dir: str | os.PathLike | None = None,
    base_url: str | None = None,
    *,
    dataset: str = "cwru",
    progress: bool = False,
    retries: int = 2,
    redownload: bool = False,
    timeout: float = 60.0,
) -> FetchResult:
    """Make one catalogue file present in the data directory; see :func:`download`."""
    spec = get_dataset(dataset)
    info = spec.catalogue.entry(file)
    fid = info["file"]
    what = f"{spec.label} file {fid}"
    known = info.get("sha256")
    path = spec.catalogue.path(fid, data_dir)
    url = file_url(fid, base_url, dataset)

    if path.exists():
        if not known:
            return FetchResult(fid, path, "cached", url, None)
        actual = sha256(path)
        if actual == known:
            return FetchResult(fid, path, "cached", url, known)
        if not redownload:
            raise _mismatch(
                what, str(path), actual, known, "delete it or download again with --redownload"
            )
    _transfer(what, path, url, known, progress=progress, retries=retries, timeout=timeout)
    if not known and spec.verify is not None:
        try:
            spec.verify(path, info)
        except DataError as exc:
            path.unlink(missing_ok=True)
            raise DataError(
                f"{what}: the download from {url} failed its check and was discarded ({exc})"
            ) from None
    return FetchResult(fid, path, "downloaded", url, known)


def _transfer(
    what: str,
    path: Path,
    url: str,
    known: str | None,
    *,
    progress: bool,
    retries: int,
    timeout: float,
) -> None:
    """pooch: temporary file, sha256 check when known, rename; errors name the file."""
    import requests

    store = pooch.create(
        path=str(path.parent),
        base_url="",
        registry={path.name: f"sha256:{known}" if known else None},
        urls={path.name: url},
        retry_if_failed=max(0, int(retries)),
        allow_updates=True,
    )
    try:
        with _quiet_pooch():
            store.fetch(path.name, downloader=_downloader(what, url, progress, timeout))
    except requests.exceptions.HTTPError as exc:
        code = exc.response.status_code if exc.response is not None else "?"
        reason = exc.response.reason if exc.response is not None else str(exc)
        raise DataError(f"{what}: download from {url} failed (HTTP {code} {reason})") from None
    except requests.exceptions.RequestException as exc:
        raise DataError(f"{what}: could not download {url} ({exc.__class__.__name__})") from None
    except FileNotFoundError as exc:
        raise DataError(f"{what}: {url} does not exist ({exc.filename})") from None
    except OSError as exc:
        raise DataError(f"{what}: could not write {path} ({exc})") from None
    except ValueError as exc:
        found = re.search(r"expected (?:sha256:)?(\w+) but got (\w+)", str(exc))
        if found:
            raise _mismatch(
                what,
                f"the download from {url}",
                found.group(2),
                found.group(1),
                "the download was discarded (corrupt transfer or wrong source?)",
            ) from None
        raise DataError(f"{what}: {exc}") from None


def fetch_cwru(file: int | str, data_dir: str | os.PathLike | None = None, **kwargs: Any) -> Path:
    """Path of one CWRU catalogue file, downloading it first if it is missing."""
    return fetch(file, data_dir, dataset="cwru", **kwargs).path


def download(
    dataset: str,
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
    cat = get_dataset(dataset).catalogue
    ids = [cat.file_id(f) for f in files]
    for fid in ids:  # unknown files fail before any transfer
        cat.entry(fid)
    results: list[FetchResult] = []
    failures: list[str] = []
    for fid in dict.fromkeys(ids):
        try:
            result = fetch(
                fid,
                data_dir,
                base_url,
                dataset=dataset,
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
        raise DataError(f"{len(failures)} of {len(ids)} downloads failed: " + "; ".join(failures))
    return results


def download_cwru(
    files: Iterable[int | str],
    data_dir: str | os.PathLike | None = None,
    base_url: str | None = None,
    **kwargs: Any,
) -> list[FetchResult]:
    """:func:`download` for CWRU files (numbers)."""
    return download("cwru", files, data_dir, base_url, **kwargs)
