"""chromolib: the helper library of the chromosome polarity book.

Modules follow the pipeline: ``rotation`` (formula I), ``synthetic`` and ``data`` (where
chromosomes come from), ``dataset`` (formula II), ``model`` and ``training`` (formulas III-V),
``evaluation`` and ``plots``, ``pipeline`` (the calls the chapters make), ``orient`` (a whole
cell, vertical and short arm up), ``bench`` (training speed), ``book`` (papermill + Jupyter
Book), ``cli`` (``chromolib --help``), ``repro`` (seeds and environment records).
"""
__version__ = "0.1.0"
