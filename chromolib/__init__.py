"""chromolib: the helper library of the chromosome polarity book.

Modules follow the pipeline: ``rotation`` (formula I), ``synthetic`` and ``data`` (where
chromosomes come from), ``dataset`` (formula II), ``model`` and ``training`` (formulas III-V),
``evaluation`` and ``plots``, ``pipeline`` (the three calls the chapters make), ``cli``.
"""
__version__ = "0.1.0"
