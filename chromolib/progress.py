"""One progress bar for the whole library."""
from __future__ import annotations

import os

from tqdm.std import tqdm  # text bars everywhere (tqdm.auto warns in notebooks without widgets)

__all__ = ["progress_bar", "tqdm"]


def progress_bar(iterable=None, enabled: bool = True, **kw):
    """A tqdm bar, off when ``enabled`` is False or the environment sets ``TQDM_DISABLE``
    (the book build does: bars in executed notebooks would be pages of carriage returns)."""
    return tqdm(iterable, disable=not enabled or bool(os.environ.get("TQDM_DISABLE")), **kw)
