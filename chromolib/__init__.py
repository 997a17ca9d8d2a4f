"""chromolib: the library of the chromosome karyotyping book, in the order of the pipeline.

``images``       one reader, gray conversion, atomic writes, the per-file batch loop
``karyotype``    the 24 chromosome types, their order, sizes and the karyogram rows
``rotation``     a chromosome's mask and its rotation to vertical (formula I)
``specimens``    where chromosomes come from: the synthetic generator (``synthetic``) or real crops
``polarity_set`` the polarity data set and its tensors (formula II); ``augment`` its augmentation;
                 ``preprocess`` how a crop becomes a network's input (no torch)
``model``, ``training``  the network and its training (formulas III-V), ``predict``
``evaluation``   metrics, intervals, the review threshold, rotation errors
``runs``         run folders: train, evaluate, read back, load the model
``orient``, ``karyogram``  the tools: a folder of chromosomes to vertical, short arm up, and the sheet
``shipped``      the models inside the package; ``torchfree`` runs them in numpy (``orient`` without torch)
``axis``         learned axes (on trial): a network that reads the vertical, and one that corrects the hull
``plots``        the book's figures; ``bench`` training speed; ``book`` papermill + Jupyter Book;
``cli``          ``chromolib --help``; ``repro`` seeds and environment records; ``progress`` bars
"""
__version__ = "0.1.0"
