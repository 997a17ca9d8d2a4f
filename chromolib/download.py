"""The public chromosome data sets in one call: ``get("pki3-gband")`` downloads, checks and converts.

Sources (``SETS``), each converted to the layout the loaders read (8-bit gray PNG, ``labels.csv``
with ``file,cell,chromosome,copy``, chromosomes 1..22, X, Y):

- ``pki3-gband``: Pki-3 G-band crops, p up (612 cells), and ``bioimlab-qband``: BioImLab Q-band
  crops (119 cells), both from the GitHub archive of IrohXu/Chromosome_Classification_Deep_Learning_Method
  at commit 9d01d0c (one download serves both), checked by a content digest of the set's files.
- ``bioimlab-spreads``: BioImLab Q-band metaphases with labelme outlines, ``BioImLab_json162.zip``
  of Alex17swim/BioImLab (commit b279035), checked by the archive's SHA-256; written as
  ``images/original_N.jpg`` + ``annotations/original_N.json``.

Cache: archives and converted sets in ``cache_dir()`` = ``$CHROMOLIB_DATA`` if set, else
``pooch.os_cache("chromolib")``; a set is ``cache_dir()/<name>`` unless ``to`` is given.

Licences and citations:
Pki-3: no licence file, research use (the Pki-3 G-band karyotype database).
BioImLab Q-band: University of Padova BioImLab, research use (Poletti et al., CMPB 2012).
Spreads: BioImLab images; annotations MPL-2.0, cite Wang et al., Biomed. Signal Process. Control 86:105199 (2023).
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import secrets
import shutil
import tempfile
import time
import zipfile
import zlib
from base64 import b64decode
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Callable, Iterable

from .images import first_line, to_gray
from .karyotype import TYPES

__all__ = ["DataError", "DataSet", "SETS", "cache_dir", "content_digest", "folder_digest", "get", "holds", "main_get"]

MARKER = ".chromolib-complete.json"  # written last, with the verified digest: the set is complete
ENV = "CHROMOLIB_DATA"
_COMMIT = "9d01d0c91703fe429639c14211a67a7768659a95"
_REPO_URL = f"https://github.com/IrohXu/Chromosome_Classification_Deep_Learning_Method/archive/{_COMMIT}.zip"
_REPO_ZIP = f"Chromosome_Classification_Deep_Learning_Method-{_COMMIT}.zip"
_TYPES = dict(zip(map(str, range(1, 25)), TYPES))  # the sources number the types 1..24 (23 = X, 24 = Y)


class DataError(ValueError):
    """A set cannot be downloaded, verified or converted (the CLI exits with code 2)."""


@dataclass(frozen=True)
class DataSet:
    """One public set: where its archive is, how to check it and how to convert it.

    ``sha256``: of the archive (None where the host may re-pack it); ``digest``: content digest
    (see ``content_digest``) of the files under ``subdir``, paths inside the repository;
    ``convert(zip, subdir, out)`` writes the set into ``out`` and returns its counts;
    ``contents``: what a folder holding the converted set has (``holds``)."""
    url: str
    archive: str
    sha256: str | None
    digest: str | None
    subdir: str
    convert: Callable[[zipfile.ZipFile, str, Path], dict]
    contents: tuple[str, ...] = ("labels.csv",)


def cache_dir() -> Path:
    """``$CHROMOLIB_DATA`` if set, else the OS cache folder ``pooch.os_cache("chromolib")``."""
    import pooch

    env = os.environ.get(ENV)
    return Path(env).expanduser() if env else Path(pooch.os_cache("chromolib"))


def content_digest(files: Iterable[tuple[str, bytes]]) -> str:
    """SHA-256 hex of the sorted lines ``<path>\\t<sha256 hex of the bytes>\\n`` (UTF-8), one per file."""
    lines = sorted(f"{path}\t{hashlib.sha256(data).hexdigest()}\n" for path, data in files)
    return hashlib.sha256("".join(lines).encode("utf-8")).hexdigest()


def folder_digest(root: str | Path, subdir: str) -> str:
    """``content_digest`` of the files under ``root/subdir``, paths relative to ``root`` (``/``-separated)."""
    root = Path(root)
    files = sorted(p for p in (root / subdir).rglob("*") if p.is_file())
    return content_digest((p.relative_to(root).as_posix(), p.read_bytes()) for p in files)


def _members(zf: zipfile.ZipFile, subdir: str) -> list[tuple[str, zipfile.ZipInfo]]:
    """(path below the archive's top folder, member) of the files under ``subdir``, sorted by path."""
    out = []
    for info in zf.infolist():
        rel = info.filename.split("/", 1)[-1]
        if not info.is_dir() and (not subdir or rel.startswith(subdir.rstrip("/") + "/")):
            out.append((rel, info))
    return sorted(out, key=lambda m: m[0])


def _gray_png(data: bytes, path: Path) -> None:
    """Decode any image, convert it to 8-bit gray (RGBA composited on white) and write a PNG."""
    import cv2
    import numpy as np

    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise DataError(f"cannot decode {path.name} from the archive")
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), to_gray(img)):
        raise OSError(f"cannot write {path}")


def _write_labels(out: Path, rows: list[dict]) -> dict:
    with open(out / "labels.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["file", "cell", "chromosome", "copy"])
        w.writeheader()
        w.writerows(rows)
    return {"images": len(rows), "cells": len({r["cell"] for r in rows})}


def _convert_pki3(zf: zipfile.ZipFile, subdir: str, out: Path) -> dict:
    """``<cell>.tiff/clase<N>/clase<N>_<copy>_<cell>.tiff`` -> ``images/<cell>/chr<T>_<copy>.png``
    (N 23 = X, 24 = Y; ``clase25`` is no chromosome type and is left out); rows in source order."""
    rows = []
    for rel, info in _members(zf, subdir):
        m = re.fullmatch(r"clase(\d+)_(\d+)_(.+)\.tiff?", PurePosixPath(rel).name)
        if m and m[1] in _TYPES:
            row = dict(file=f"images/{m[3]}/chr{_TYPES[m[1]]}_{m[2]}.png", cell=m[3], chromosome=_TYPES[m[1]], copy=m[2])
            _gray_png(zf.read(info), out / row["file"])
            rows.append(row)
    return _write_labels(out, rows)


def _convert_qband(zf: zipfile.ZipFile, subdir: str, out: Path) -> dict:
    """``<cell>/<cell> <N><a|b>.bmp`` -> ``images/<cell:03d>/chr<T><a|b>.png``; rows by cell, type, copy."""
    keyed = []
    for rel, info in _members(zf, subdir):
        m = re.fullmatch(r"(\d+) (\d+)([a-z])\.bmp", PurePosixPath(rel).name, re.IGNORECASE)
        if m and m[2] in _TYPES:
            cell, t, copy = f"{int(m[1]):03d}", _TYPES[m[2]], m[3].lower()
            row = dict(file=f"images/{cell}/chr{t}{copy}.png", cell=cell, chromosome=t, copy=copy)
            _gray_png(zf.read(info), out / row["file"])
            keyed.append(((int(m[1]), int(m[2]), copy), row))
    return _write_labels(out, [row for _, row in sorted(keyed, key=lambda k: k[0])])


def _convert_spreads(zf: zipfile.ZipFile, subdir: str, out: Path) -> dict:
    """``original_N.json`` (labelme, JPEG embedded) -> ``images/original_N.jpg`` (the embedded bytes)
    and ``annotations/original_N.json`` (no ``imageData``, ``imagePath`` ``../images/original_N.jpg``)."""
    (out / "images").mkdir(parents=True)
    (out / "annotations").mkdir()
    n = 0
    for rel, info in _members(zf, subdir):
        if not rel.lower().endswith(".json") or "__MACOSX/" in rel or PurePosixPath(rel).name.startswith("._"):
            continue  # macOS metadata, not annotations
        ann = json.loads(zf.read(info))
        if not ann.get("imageData"):
            continue  # no image embedded: nothing to convert
        stem = PurePosixPath(rel).stem
        (out / "images" / f"{stem}.jpg").write_bytes(b64decode(ann.pop("imageData")))
        ann["imagePath"] = f"../images/{stem}.jpg"
        (out / "annotations" / f"{stem}.json").write_text(json.dumps(ann, indent=1), encoding="utf-8")
        n += 1
    return {"images": n, "cells": n}


SETS: dict[str, DataSet] = {
    "pki3-gband": DataSet(_REPO_URL, _REPO_ZIP, None,
                          "20da565efb566041925223febc3defc4c12f85f6eb9ed1964aa39b7f97c49370",
                          "chromosome-straighteningv1.1/single_clase", _convert_pki3),
    "bioimlab-qband": DataSet(_REPO_URL, _REPO_ZIP, None,
                              "be83cc6ce9a5df04fb34117332c6bf0cb0f1d66f0fd8e5a9169a6cbb59565d5e",
                              "Crowdsourcing for Chromosome Segmentation and Deep Classification/single_chromosomes",
                              _convert_qband),
    "bioimlab-spreads": DataSet("https://github.com/Alex17swim/BioImLab/raw/b279035cae9956a8f056ad2887747ae1689814bf/"
                                "BioImLab_json162.zip", "BioImLab_json162.zip",
                                "ae6bee0b3a14bb7d05392002f4f0064082fe4c28b229bf153d8da999e5f1e023", None, "",
                                _convert_spreads, ("images", "annotations")),
}


def holds(name: str, folder: str | Path) -> bool:
    """Whether ``folder`` holds the set ``name`` in the converted layout: everything of
    ``SETS[name].contents`` exists in it (``labels.csv`` for crops, ``images/`` and
    ``annotations/`` for the spreads). The one presence check of a set, wherever it lies."""
    return all((Path(folder) / part).exists() for part in SETS[name].contents)


class _ResumableDownloader:
    """A pooch downloader that keeps the bytes so far in ``part`` and continues them with an HTTP
    Range request next time (a server that ignores Range sends it whole: start again)."""

    def __init__(self, part: Path, progress: bool, desc: str):
        self.part, self.progress, self.desc = part, progress, desc

    def __call__(self, url: str, output_file: str, pooch_obj=None) -> None:
        import requests

        from .progress import progress_bar

        have = self.part.stat().st_size if self.part.exists() else 0
        headers = {"Accept-Encoding": "identity", **({"Range": f"bytes={have}-"} if have else {})}
        with requests.get(url, headers=headers, stream=True, timeout=(15, 60)) as r:
            if not (have and r.status_code == 416):  # 416: the part is already whole
                r.raise_for_status()
                resume = r.status_code == 206 and r.headers.get("Content-Range", "").startswith(f"bytes {have}-")
                if r.status_code == 206 and not resume:
                    self.part.unlink()
                    raise requests.HTTPError(f"unexpected Content-Range {r.headers.get('Content-Range')!r}")
                size = int(r.headers.get("Content-Length", 0)) + (have if resume else 0)
                with open(self.part, "ab" if resume else "wb") as fh, progress_bar(
                        None, self.progress, total=size or None, initial=fh.tell(), unit="B", unit_scale=True,
                        desc=self.desc) as bar:
                    for chunk in r.iter_content(1 << 16):
                        fh.write(chunk)
                        bar.update(len(chunk))
        os.replace(self.part, output_file)


def _help(name: str, ds: DataSet, why: str) -> DataError:
    path = cache_dir() / ds.archive
    return DataError(f"cannot get the data set {name!r}: {why}\n"
                     f"  Download {ds.url}\n  and save it as {path}\n"
                     f"  (e.g. fetched on another machine), then run `chromolib data get {name}` again; or, where the set "
                     f"is already converted, point at it: `--to DIR` or {ENV}=FOLDER (holding {name}/ or {ds.archive}).")


def _fetch(name: str, ds: DataSet, progress: bool) -> Path:
    """The archive in the cache: downloaded with pooch (temporary name, renamed when whole) unless present."""
    import pooch
    import requests

    cache = cache_dir()
    logger, level = pooch.get_logger(), pooch.get_logger().level
    logger.setLevel("WARNING")  # pooch would advise to pin the hash of re-packed archives
    try:
        downloader = _ResumableDownloader(cache / (ds.archive + ".part"), progress, name)
        return Path(pooch.retrieve(ds.url, ds.sha256, fname=ds.archive, path=cache, downloader=downloader))
    except (requests.RequestException, ValueError, OSError) as exc:
        raise _help(name, ds, f"download failed ({first_line(exc)})") from exc
    finally:
        logger.setLevel(level)


def _marker(dest: Path) -> dict:
    try:
        return json.loads((dest / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _open_verified(name: str, ds: DataSet, archive: Path) -> zipfile.ZipFile:
    """The archive opened, its content digest checked; a wrong archive is removed (the next call fetches it again)."""
    zf = None
    try:
        zf = zipfile.ZipFile(archive)
        found = ds.digest and content_digest((rel, zf.read(info)) for rel, info in _members(zf, ds.subdir))
    except (zipfile.BadZipFile, zlib.error, OSError) as exc:
        why = f"{archive.name} is not a readable zip archive ({exc})"
    else:
        if found == ds.digest:
            return zf
        why = f"the content digest of {ds.subdir}/ in {archive.name} is {found}, expected {ds.digest}"
    if zf is not None:
        zf.close()
    archive.unlink(missing_ok=True)
    raise _help(name, ds, why + "; the archive was removed")


def get(name: str, to: str | Path | None = None, progress: bool = True, sets: dict[str, DataSet] | None = None) -> Path:
    """The folder holding the converted set ``name`` (``to``, else ``cache_dir()/name``).

    Downloads the archive once (kept in the cache; a partial download continues), verifies it,
    converts into a temporary sibling folder and moves that into place; a set already there
    (its marker written last) is returned as it is. Raises ``DataError``."""
    sets = SETS if sets is None else sets
    if name not in sets:
        raise DataError(f"unknown data set {name!r}; choose one of {', '.join(sets)}")
    ds = sets[name]
    dest = Path(to).expanduser() if to else cache_dir() / name
    marker = _marker(dest)
    if marker.get("set") == name and marker.get("check") == (ds.digest or ds.sha256):
        return dest
    if dest.exists() and any(dest.iterdir()) and marker.get("set") != name:
        raise DataError(f"{dest} exists and is not {name} as written by `chromolib data get`: remove it or choose "
                        f"another --to (a folder in the loaders' layout can be passed to them as it is)")
    archive = _fetch(name, ds, progress)
    dest.parent.mkdir(parents=True, exist_ok=True)
    for stale in dest.parent.glob(f".{dest.name}.part-*"):  # left by a killed run (not trusted: never used)
        if time.time() - stale.stat().st_mtime > 6 * 3600:
            shutil.rmtree(stale, ignore_errors=True)
    tmp = dest.parent / f".{dest.name}.part-{os.getpid()}-{secrets.token_hex(4)}"
    tmp.mkdir()
    try:
        with _open_verified(name, ds, archive) as zf:
            stats = ds.convert(zf, ds.subdir, tmp)
        check = {"set": name, "url": ds.url, "check": ds.digest or ds.sha256, **stats}
        (tmp / MARKER).write_text(json.dumps(check), encoding="utf-8")
        if dest.exists():  # empty, or an older conversion of this set
            old = Path(tempfile.mkdtemp(prefix=f".{dest.name}.old-", dir=dest.parent))
            os.replace(dest, old / "set")
            shutil.rmtree(old, ignore_errors=True)
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return dest


def main_get(name: str, to: str | None, quiet: bool) -> int:
    """``chromolib data get NAME [--to DIR]``: fetch the set and print where it is (only the path when quiet)."""
    dest = get(name, to, progress=not quiet)
    if quiet:
        print(dest)
        return 0
    stats = _marker(dest)
    what = "spreads" if name == "bioimlab-spreads" else f"images, {stats.get('cells', 0):,} cells"
    print(f"{name}: {stats.get('images', 0):,} {what} in {dest}")
    return 0
