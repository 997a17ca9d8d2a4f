"""One progress bar for the whole library."""
from __future__ import annotations

import os

from tqdm.auto import tqdm

__all__ = ["progress_bar", "tqdm"]


def progress_bar(iterable=None, enabled: bool = True, **kw):
    """A tqdm bar, off when ``enabled`` is False or the environment sets ``TQDM_DISABLE``
    (the book build does: bars in executed notebooks would be pages of carriage returns)."""
    return tqdm(iterable, disable=not enabled or bool(os.environ.get("TQDM_DISABLE")), **kw)
