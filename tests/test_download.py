"""chromolib.download without the internet: archives built from ../shared/data/source-samples,
served by a local HTTP server (with Range support) on 127.0.0.1."""
from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import re
import socket
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import pytest

from chromolib import download
from chromolib.download import MARKER, SETS, DataError, content_digest, folder_digest, get, main_get

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
SAMPLES = SHARED / "source-samples"
COMMIT = "9d01d0c91703fe429639c14211a67a7768659a95"
TOP = f"Chromosome_Classification_Deep_Learning_Method-{COMMIT}"
REPO = SAMPLES / TOP
SPREADS_ZIP = SAMPLES / "BioImLab_json162_sample.zip"
needs_samples = pytest.mark.skipif(not REPO.is_dir() or not SPREADS_ZIP.is_file(),
                                   reason=f"source samples not found at {SAMPLES} (only developers and CI have ../shared/data)")


class _Handler(BaseHTTPRequestHandler):
    """Serves ``server.files`` (path -> bytes), honours ``Range: bytes=N-`` unless ``server.ranges``
    is False, and logs (path, Range header) of every request in ``server.log``."""

    def do_GET(self):
        srv = self.server
        srv.log.append((self.path, self.headers.get("Range")))
        data = srv.files.get(self.path)
        if data is None:
            self.send_error(404)
            return
        m = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
        start = int(m[1]) if m and srv.ranges else 0
        if start >= len(data) > 0:
            self.send_response(416)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(206 if start else 200)
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        self.wfile.write(data[start:])

    def log_message(self, *args):
        pass


def _repo_zip() -> bytes:
    """The sample repository zipped as GitHub lays out its archive (top folder, directory entries)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(REPO.rglob("*")):
            rel = p.relative_to(SAMPLES).as_posix()
            zf.writestr(rel + "/", b"") if p.is_dir() else zf.write(p, rel)
    return buf.getvalue()


@pytest.fixture(scope="module")
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.files, srv.log, srv.ranges = {}, [], True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture(scope="module")
def local_sets(server):
    """``SETS`` pointing at the local server, with the samples' own digests and SHA-256."""
    if not REPO.is_dir() or not SPREADS_ZIP.is_file():
        pytest.skip(f"source samples not found at {SAMPLES} (only developers and CI have ../shared/data)")
    spreads = SPREADS_ZIP.read_bytes()
    server.files.update({"/repo.zip": _repo_zip(), "/spreads.zip": spreads})
    base = f"http://127.0.0.1:{server.server_address[1]}"
    return {name: dataclasses.replace(ds, url=f"{base}/spreads.zip" if ds.sha256 else f"{base}/repo.zip",
                                      sha256=ds.sha256 and hashlib.sha256(spreads).hexdigest(),
                                      digest=ds.digest and folder_digest(REPO, ds.subdir))
            for name, ds in SETS.items()}


@pytest.fixture
def cache(tmp_path, monkeypatch, server):
    monkeypatch.setenv("CHROMOLIB_DATA", str(tmp_path / "cache"))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("TQDM_DISABLE", "1")
    server.log.clear()
    server.ranges = True
    return tmp_path / "cache"


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob(".*.part-*")) if folder.exists() else []


def test_content_digest_by_hand(tmp_path):
    """The README's definition, computed by hand (sha256sum) for a tiny folder."""
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "x.txt").write_bytes(b"hello")
    (tmp_path / "a" / "b" / "y.bin").write_bytes(b"")
    (tmp_path / "outside.txt").write_bytes(b"not counted")
    expected = "ade1a008c617ebf08e8ca0d2eb7eff908ccc0d883dd00a713827734cbf85c2fa"
    assert folder_digest(tmp_path, "a") == expected
    assert content_digest([("a/x.txt", b"hello"), ("a/b/y.bin", b"")]) == expected


def test_sets_are_complete():
    assert set(SETS) == {"pki3-gband", "bioimlab-qband", "bioimlab-spreads"}
    assert SETS["pki3-gband"].url == SETS["bioimlab-qband"].url and SETS["pki3-gband"].sha256 is None
    assert SETS["bioimlab-spreads"].sha256 and SETS["bioimlab-spreads"].digest is None


def _rows(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


@needs_samples
@pytest.mark.parametrize("name", ["pki3-gband", "bioimlab-qband"])
def test_crops_match_the_shared_conversion(name, cache, local_sets):
    out = get(name, progress=False, sets=local_sets)
    assert out == cache / name and (out / MARKER).exists()
    rows = _rows(out / "labels.csv")
    assert list(rows[0]) == ["file", "cell", "chromosome", "copy"]
    assert len(rows) == (90 if name == "pki3-gband" else 92)
    assert not any("clase25" in r["file"] for r in rows)
    if not (SHARED / name / "labels.csv").exists():
        pytest.skip(f"converted copy {SHARED / name} not found")
    cells = {r["cell"] for r in rows}
    shared = [r for r in _rows(SHARED / name / "labels.csv") if r["cell"] in cells]
    assert rows == shared  # same rows, same order
    for r in rows:
        a = cv2.imread(str(out / r["file"]), cv2.IMREAD_UNCHANGED)
        b = cv2.imread(str(SHARED / name / r["file"]), cv2.IMREAD_UNCHANGED)
        assert a.dtype == b.dtype == "uint8" and a.shape == b.shape and (a == b).all(), r["file"]


@needs_samples
def test_spreads_match_the_shared_conversion(cache, local_sets):
    out = get("bioimlab-spreads", progress=False, sets=local_sets)
    names = sorted(p.stem for p in (out / "images").iterdir())
    assert names == ["original_1", "original_2", "original_24a"]
    if not (SHARED / "bioimlab-spreads").is_dir():
        pytest.skip(f"converted copy {SHARED / 'bioimlab-spreads'} not found")
    for n in names:  # byte for byte: the embedded JPEG as it is, the JSON without imageData
        assert (out / "images" / f"{n}.jpg").read_bytes() == (SHARED / "bioimlab-spreads/images" / f"{n}.jpg").read_bytes()
        assert ((out / "annotations" / f"{n}.json").read_bytes()
                == (SHARED / "bioimlab-spreads/annotations" / f"{n}.json").read_bytes())


@needs_samples
def test_one_download_serves_both_and_second_call_fetches_nothing(cache, local_sets, server):
    a = get("pki3-gband", progress=False, sets=local_sets)
    b = get("bioimlab-qband", progress=False, sets=local_sets)
    assert server.log == [("/repo.zip", None)]
    assert get("pki3-gband", sets=local_sets) == a and server.log == [("/repo.zip", None)]
    for p in sorted(b.rglob("*"), reverse=True):  # converted set gone, archive kept: converted again, no request
        p.unlink() if p.is_file() else p.rmdir()
    b.rmdir()
    assert get("bioimlab-qband", progress=False, sets=local_sets) == b and len(_rows(b / "labels.csv")) == 92
    assert server.log == [("/repo.zip", None)]
    assert _leftovers(cache) == []


@needs_samples
def test_main_get_prints_where_and_how_many(cache, local_sets, monkeypatch, capsys):
    monkeypatch.setattr(download, "get", lambda name, to, progress: get(name, to, progress=False, sets=local_sets))
    assert main_get("bioimlab-qband", None, quiet=False) == 0
    assert capsys.readouterr().out.strip() == f"bioimlab-qband: 92 images, 2 cells in {cache / 'bioimlab-qband'}"
    assert main_get("bioimlab-spreads", str(cache / "elsewhere"), quiet=True) == 0
    assert capsys.readouterr().out.strip() == str(cache / "elsewhere")


@needs_samples
def test_digest_mismatch_raises_and_leaves_nothing(cache, local_sets, tmp_path, monkeypatch):
    bad = {**local_sets, "pki3-gband": dataclasses.replace(local_sets["pki3-gband"], digest="0" * 64)}
    to = tmp_path / "sets" / "pki3"
    with pytest.raises(DataError, match="content digest") as exc:
        get("pki3-gband", to, progress=False, sets=bad)
    assert isinstance(exc.value, ValueError)  # the CLI maps ValueError to exit code 2
    assert str(cache / download._REPO_ZIP) in str(exc.value) and bad["pki3-gband"].url in str(exc.value)
    assert not to.exists() and _leftovers(to.parent) == []
    assert not (cache / download._REPO_ZIP).exists()  # a wrong archive is not kept
    monkeypatch.setattr(download, "get", lambda name, to, progress: get(name, to, progress=False, sets=bad))
    with pytest.raises(ValueError, match="pki3-gband"):
        main_get("pki3-gband", str(to), quiet=True)
    assert not to.exists()


@needs_samples
def test_sha256_mismatch_keeps_no_archive(cache, local_sets):
    bad = {"bioimlab-spreads": dataclasses.replace(local_sets["bioimlab-spreads"], sha256="0" * 64)}
    with pytest.raises(DataError, match="download failed"):
        get("bioimlab-spreads", progress=False, sets=bad)
    assert not (cache / "bioimlab-spreads").exists()
    assert sorted(p.name for p in cache.iterdir()) == []  # no archive, no partial download


def test_server_down_names_url_and_cache_path(cache):
    with socket.socket() as s:  # a free port, then closed: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/BioImLab_json162.zip"
    sets = {"bioimlab-spreads": dataclasses.replace(SETS["bioimlab-spreads"], url=url)}
    with pytest.raises(DataError) as exc:
        get("bioimlab-spreads", progress=False, sets=sets)
    msg = str(exc.value)
    assert "bioimlab-spreads" in msg and url in msg and str(cache / "BioImLab_json162.zip") in msg
    assert "--to" in msg and "CHROMOLIB_DATA" in msg
    assert not (cache / "bioimlab-spreads").exists()


def test_http_error_and_unknown_name(cache, server):
    url = f"http://127.0.0.1:{server.server_address[1]}/missing.zip"
    sets = {"x": dataclasses.replace(SETS["bioimlab-spreads"], url=url)}
    with pytest.raises(DataError, match="404"):
        get("x", progress=False, sets=sets)
    with pytest.raises(DataError, match="unknown data set"):
        get("no-such-set")


@needs_samples
def test_killed_conversion_leaves_nothing_and_next_call_succeeds(cache, local_sets, server, monkeypatch):
    real, calls = download._gray_png, []

    def dies_on_the_10th(data, path):
        calls.append(path)
        if len(calls) == 10:
            raise KeyboardInterrupt
        real(data, path)

    monkeypatch.setattr(download, "_gray_png", dies_on_the_10th)
    with pytest.raises(KeyboardInterrupt):
        get("pki3-gband", progress=False, sets=local_sets)
    assert not (cache / "pki3-gband").exists() and _leftovers(cache) == []
    assert (cache / download._REPO_ZIP).exists()  # the verified archive is kept
    monkeypatch.setattr(download, "_gray_png", real)
    out = get("pki3-gband", progress=False, sets=local_sets)
    assert len(_rows(out / "labels.csv")) == 90 and len(server.log) == 1


@needs_samples
def test_existing_foreign_folder_is_not_touched(tmp_path, cache, local_sets):
    to = tmp_path / "mine"
    to.mkdir()
    (to / "keep.txt").write_text("mine")
    with pytest.raises(DataError, match="not written by|is not bioimlab-qband"):
        get("bioimlab-qband", to, progress=False, sets=local_sets)
    assert [p.name for p in to.iterdir()] == ["keep.txt"]


@needs_samples
@pytest.mark.parametrize("ranges", [True, False])
def test_partial_download_continues_with_range(cache, local_sets, server, ranges):
    data = SPREADS_ZIP.read_bytes()
    cache.mkdir(parents=True)
    (cache / "BioImLab_json162.zip.part").write_bytes(data[:1000] if ranges else b"x" * 1000)
    server.ranges = ranges  # a server that ignores Range sends everything: the part starts again
    out = get("bioimlab-spreads", progress=False, sets=local_sets)
    assert server.log == [("/spreads.zip", "bytes=1000-")]
    assert (cache / "BioImLab_json162.zip").read_bytes() == data
    assert not (cache / "BioImLab_json162.zip.part").exists() and len(list((out / "images").iterdir())) == 3


def test_data_get_command_offline_says_what_to_download_and_exits_2(cache, monkeypatch, capsys):
    from chromolib import download
    from chromolib.cli import main

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/BioImLab_json162.zip"
    monkeypatch.setitem(download.SETS, "bioimlab-spreads", dataclasses.replace(SETS["bioimlab-spreads"], url=url))
    assert main(["data", "get", "bioimlab-spreads", "--to", str(cache / "spreads"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and url in err and not (cache / "spreads").exists()


def test_data_get_command_converts_then_finds_the_set(cache, local_sets, monkeypatch, capsys):
    from chromolib import download
    from chromolib.cli import main

    monkeypatch.setattr(download, "SETS", local_sets)
    assert main(["data", "get", "bioimlab-qband"]) == 0
    first = capsys.readouterr().out
    assert main(["data", "get", "bioimlab-qband"]) == 0
    assert capsys.readouterr().out == first and "2 cells" in first
