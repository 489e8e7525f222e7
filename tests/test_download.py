"""Download + cache against a local http.server on 127.0.0.1 and file:// URLs (never the web)."""

from __future__ import annotations

import hashlib
import http.server
import shutil
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from faultlab.data import catalogue, paths
from faultlab.data.download import cwru_url, download_cwru, fetch, url_template
from faultlab.errors import DataError

SERVED = (105, 118)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def source_dir(tmp_path: Path, cwru_dir: Path) -> Path:
    """A temp folder holding copies of two shared files (made at test time, never in the repo)."""
    src = tmp_path / "srv"
    src.mkdir()
    for n in SERVED:
        shutil.copyfile(cwru_dir / f"{n}.mat", src / f"{n}.mat")
    return src


class _Server:
    def __init__(self, root: Path) -> None:
        self.requests: Counter[str] = Counter()
        counts = self.requests

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=str(root), **kwargs)

            def do_GET(self):  # noqa: N802 - http.server API
                counts[self.path] += 1
                super().do_GET()

            def log_message(self, *args):  # keep test output quiet
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def total(self) -> int:
        return sum(self.requests.values())


@pytest.fixture
def server(source_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[_Server]:
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    srv = _Server(source_dir)
    srv.thread.start()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()


def test_download_then_reuse_without_new_requests(server: _Server, tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = download_cwru(SERVED, data_dir=data, base_url=server.url + "/{file}.mat", retries=0)
    assert [r.status for r in first] == ["downloaded", "downloaded"]
    for n in SERVED:
        path = data / "cwru" / f"{n}.mat"
        assert path.is_file()
        assert _sha(path) == catalogue.entry(n)["sha256"]
    assert server.requests == Counter({"/105.mat": 1, "/118.mat": 1})
    assert sorted(p.name for p in (data / "cwru").iterdir()) == [
        "105.mat",
        "118.mat",
    ]  # no temp files

    again = download_cwru(SERVED, data_dir=data, base_url=server.url + "/{file}.mat", retries=0)
    assert [r.status for r in again] == ["cached", "cached"]
    assert server.total == 2  # nothing fetched twice


def test_env_url_and_env_data_dir(
    server: _Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAULTLAB_CWRU_URL", server.url)  # a folder URL: /<number>.mat is appended
    monkeypatch.setenv("FAULTLAB_DATA_DIR", str(tmp_path / "envdata"))
    assert url_template() == server.url + "/{file}.mat"
    result = fetch(105, retries=0)
    assert result.path == tmp_path / "envdata" / "cwru" / "105.mat"
    assert result.status == "downloaded" and server.requests["/105.mat"] == 1


def test_present_file_with_wrong_hash_is_a_clear_error(server: _Server, tmp_path: Path) -> None:
    target = tmp_path / "data" / "cwru" / "105.mat"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"not the real file")
    bad = hashlib.sha256(b"not the real file").hexdigest()
    good = catalogue.entry(105)["sha256"]
    with pytest.raises(DataError) as err:
        fetch(105, tmp_path / "data", server.url, retries=0)
    msg = str(err.value)
    assert "CWRU file 105" in msg and bad in msg and good in msg and "--redownload" in msg
    assert server.total == 0

    fixed = fetch(105, tmp_path / "data", server.url, retries=0, redownload=True)
    assert fixed.status == "downloaded" and _sha(target) == good


def test_downloaded_file_with_wrong_hash_is_discarded(
    source_dir: Path, server: _Server, tmp_path: Path
) -> None:
    shutil.copyfile(source_dir / "118.mat", source_dir / "105.mat")  # the server lies about 105
    data = tmp_path / "data"
    with pytest.raises(DataError) as err:
        fetch(105, data, server.url, retries=0)
    msg = str(err.value)
    assert "CWRU file 105" in msg
    assert catalogue.entry(105)["sha256"] in msg and catalogue.entry(118)["sha256"] in msg
    assert not any((data / "cwru").glob("*"))  # nothing half-written or unverified left behind


def test_file_url_works(source_dir: Path, tmp_path: Path) -> None:
    template = source_dir.as_uri() + "/{file}.mat"
    results = download_cwru([118], data_dir=tmp_path / "d", base_url=template)
    assert results[0].status == "downloaded"
    assert _sha(tmp_path / "d" / "cwru" / "118.mat") == catalogue.entry(118)["sha256"]
    with pytest.raises(DataError, match=r"CWRU file 106: .*106\.mat does not exist"):
        fetch(106, tmp_path / "d", template)
    # a plain folder works as a source too
    assert cwru_url(105, str(source_dir)) == (source_dir / "105.mat").as_uri()
    assert fetch(105, tmp_path / "d", str(source_dir)).status == "downloaded"
    with pytest.raises(DataError, match="CWRU file 97: unsupported URL 'gopher://x/97.mat'"):
        fetch(97, tmp_path / "d", "gopher://x")


def test_http_404_names_the_file(server: _Server, tmp_path: Path) -> None:
    with pytest.raises(DataError) as err:
        fetch(106, tmp_path / "data", server.url + "/{file}.mat", retries=0)
    msg = str(err.value)
    assert msg.startswith("CWRU file 106: download from ") and "HTTP 404" in msg
    assert "106.mat" in msg
    assert not (tmp_path / "data" / "cwru" / "106.mat").exists()


def test_batch_keeps_good_files_and_reports_every_failure(server: _Server, tmp_path: Path) -> None:
    seen = []
    with pytest.raises(
        DataError, match=r"2 of 3 downloads failed: CWRU file 106: .*; CWRU file 107"
    ):
        download_cwru(
            [106, 105, 107],
            data_dir=tmp_path / "d",
            base_url=server.url,
            retries=0,
            on_result=seen.append,
        )
    assert [r.file for r in seen] == [105]
    assert (tmp_path / "d" / "cwru" / "105.mat").is_file()


def test_unknown_number_fails_before_any_transfer(server: _Server, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="CWRU file 9999 is not in the catalogue"):
        download_cwru([105, 9999], data_dir=tmp_path, base_url=server.url)
    assert server.total == 0


def test_urls_and_data_dir_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FAULTLAB_CWRU_URL", raising=False)
    assert cwru_url("105.mat") == "https://engineering.case.edu/sites/default/files/105.mat"
    assert cwru_url(97, "http://mirror/x/{file}.mat") == "http://mirror/x/97.mat"
    monkeypatch.setenv("FAULTLAB_DATA_DIR", str(tmp_path / "env"))
    assert paths.data_dir(tmp_path / "arg") == tmp_path / "arg"
    assert paths.data_dir() == tmp_path / "env"
    assert paths.dataset_dir("cwru") == tmp_path / "env" / "cwru"
    monkeypatch.delenv("FAULTLAB_DATA_DIR")
    assert paths.data_dir().name == "data" and "faultlab" in str(paths.data_dir())
