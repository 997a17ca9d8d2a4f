"""Image input and output at the edges: one reader, one gray conversion, atomic writes, and one
per-file batch loop in which a bad file gets a one-line reason and the others go on.

Conventions: images are NumPy arrays, row 0 at the top; "canonical gray" is uint8 with a dark
chromosome on white (bright-on-black Q-band input is inverted).
"""
from __future__ import annotations

import csv
import io
import os
import sys
import tempfile
from pathlib import Path
from typing import Callable, Iterable

import cv2
import numpy as np

from .progress import progress_bar

__all__ = ["IMAGE_SUFFIXES", "list_images", "read_image", "to_gray", "background_is_white", "canonical_gray",
           "write_image_atomic", "write_text_atomic", "write_csv_atomic", "check_separate", "for_each_file", "first_line"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")


def list_images(folder: str | Path) -> list[Path]:
    """Image files directly in ``folder`` (sorted), by suffix."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"input folder {folder} does not exist")
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def read_image(path: str | Path) -> np.ndarray:
    """Any 8/16-bit gray or colour image as OpenCV reads it (BGR order, depth kept).

    Raises ValueError with a one-line reason (not an image, truncated, unreadable), and
    FileNotFoundError when the file does not exist."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist")
    try:
        with Image.open(path) as im:
            im.load()  # decodes fully: truncated files fail here
    except UnidentifiedImageError:
        raise ValueError("not an image (unknown or corrupt format)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ValueError(f"unreadable image ({first_line(exc)})") from None
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:  # a format PIL decodes and OpenCV does not
        with Image.open(path) as im:
            img = np.asarray(im.convert("L"))
    return img


def to_gray(image: np.ndarray) -> np.ndarray:
    """Return a 2-D uint8 gray image from gray/BGR/BGRA, 8- or 16-bit, or float input.

    16-bit and float images are scaled by their own range so that faint 16-bit scans are not
    lost; BGRA is composited on white.
    """
    img = np.asarray(image)
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    if img.ndim == 3:
        if img.shape[2] == 4:
            if img.dtype == np.uint16:
                top = 65535.0
            elif np.issubdtype(img.dtype, np.floating):
                top = 1.0 if float(img.max()) <= 1.0 else 255.0
            else:
                top = 255.0
            alpha = img[:, :, 3:4].astype(np.float64) / top
            rgb = img[:, :, :3].astype(np.float64) * alpha + top * (1 - alpha)
            img = rgb.astype(img.dtype)
        elif img.shape[2] != 3:
            raise ValueError(f"expected 1, 3 or 4 channels, got shape {img.shape}")
        img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    if img.ndim != 2:
        raise ValueError(f"expected a 2-D or 3-D image, got shape {img.shape}")
    if img.dtype == np.uint8:
        return img
    if img.dtype == bool:
        return np.where(img, 255, 0).astype(np.uint8)
    f = img.astype(np.float64)
    lo, hi = float(f.min()), float(f.max())
    if img.dtype == np.uint16 and hi > 255:
        # 16-bit: stretch the used range to 8 bits.
        return np.clip((f - lo) * 255.0 / max(hi - lo, 1.0), 0, 255).astype(np.uint8)
    if np.issubdtype(img.dtype, np.floating) and hi <= 1.0:
        f = f * 255.0
    return np.clip(np.round(f), 0, 255).astype(np.uint8)


def background_is_white(gray: np.ndarray) -> bool:
    """True when the image border is brighter than the middle gray (dark-on-white input)."""
    g = to_gray(gray)
    border = np.concatenate([g[0], g[-1], g[:, 0], g[:, -1]])
    return float(np.median(border)) >= 128.0


def canonical_gray(image: np.ndarray) -> np.ndarray:
    """Gray uint8, dark chromosome on white: bright-on-black (Q-band) input is inverted."""
    g = to_gray(image)
    return g if background_is_white(g) else 255 - g


def _usual_mode(tmp: str) -> None:
    """A temporary file is private (0600); the output gets the mode an ordinary new file gets
    (0666 less the umask), so colleagues can read it as they read anything else the user writes."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(tmp, 0o666 & ~mask)


def write_image_atomic(path: str | Path, img: np.ndarray) -> None:
    """Write ``img`` to ``path`` through a temporary file in the same folder: a reader never
    sees half an image, and a killed run leaves no broken output."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    os.close(fd)
    try:
        if not cv2.imwrite(tmp, img):
            raise OSError(f"cannot write {path}")
        _usual_mode(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file in the same folder."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        _usual_mode(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_csv_atomic(path: str | Path, rows: list[dict], columns: list[str]) -> None:
    """Write ``rows`` (dicts) as CSV with ``columns`` through a temporary file."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    write_text_atomic(path, buf.getvalue())


def check_separate(in_dir: str | Path, out_dir: str | Path) -> None:
    """Refuse (ValueError) an output folder that is the input folder or inside it: writing
    there could overwrite a laboratory's original images."""
    src, out = Path(in_dir).resolve(), Path(out_dir).resolve()
    if out == src or src in out.parents:
        raise ValueError(f"the output folder {out_dir} is {'the input folder' if out == src else 'inside the input folder'} "
                         f"{in_dir}: choose an output folder outside it, so that no original image can be overwritten")


def first_line(exc: BaseException) -> str:
    """A one-line reason for an exception (its first line, or its type's name)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def for_each_file(files: Iterable[Path], work: Callable[[Path], object], progress: bool = True,
                  desc: str = "files", log: Callable[[str], None] | None = None) -> list[tuple[Path, object, str]]:
    """Apply ``work`` to each file; return ``(file, result, error)`` per file, in order.

    A file whose ``work`` raises gets ``result = None`` and a one-line ``error`` (also sent to
    ``log``, default stderr, as ``path: reason``); the batch goes on. A progress bar shows from
    20 files on."""
    log = log or (lambda msg: print(msg, file=sys.stderr))
    files = list(files)
    out = []
    for f in progress_bar(files, progress and len(files) >= 20, desc=desc):
        try:
            out.append((f, work(f), ""))
        except Exception as exc:  # one bad file must not stop the batch
            reason = first_line(exc)
            log(f"{f}: {reason}")
            out.append((f, None, reason))
    return out
