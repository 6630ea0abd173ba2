"""TorchDR's API on nembed's core: the same class names, parameters and defaults (numpy in, numpy/scipy out).

>>> from nembed.torchdr import EntropicAffinity
>>> P = EntropicAffinity(perplexity=30)(X)        # doctest: +SKIP
"""
from .affinity import (EntropicAffinity, MAGICAffinity, NormalizedGaussianAffinity, NormalizedStudentAffinity,
                       SelfTuningAffinity, SinkhornAffinity, SymmetricEntropicAffinity, UMAPAffinity)

__all__ = ["EntropicAffinity", "SymmetricEntropicAffinity", "SinkhornAffinity", "NormalizedGaussianAffinity",
           "NormalizedStudentAffinity", "SelfTuningAffinity", "MAGICAffinity", "UMAPAffinity"]
