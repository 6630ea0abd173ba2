"""TorchDR's API on nembed's core: the same class names, parameters and defaults as TorchDR 0.5 (numpy in,
numpy/scipy out). Only the import changes:

>>> from nembed.torchdr import EntropicAffinity, silhouette_score
>>> P = EntropicAffinity(perplexity=30)(X)        # doctest: +SKIP
>>> Y = TSNE(perplexity=30).fit_transform(X)      # doctest: +SKIP
"""
from .affinity import (EntropicAffinity, MAGICAffinity, NormalizedGaussianAffinity, NormalizedStudentAffinity,
                       SelfTuningAffinity, SinkhornAffinity, SymmetricEntropicAffinity, UMAPAffinity)
from .neighbor_embedding import COSNE, PACMAP, SNE, TSNE, UMAP, InfoTSNE, LargeVis, TSNEkhorn
from .affinity_matcher import AffinityMatcher
from .eval import (admissible_LIST_METRICS, kmeans_ari, knn_label_accuracy, neighborhood_preservation,
                   silhouette_samples, silhouette_score)

__all__ = ["EntropicAffinity", "SymmetricEntropicAffinity", "SinkhornAffinity", "NormalizedGaussianAffinity",
           "NormalizedStudentAffinity", "SelfTuningAffinity", "MAGICAffinity", "UMAPAffinity",
           "admissible_LIST_METRICS", "kmeans_ari", "knn_label_accuracy", "neighborhood_preservation",
           "silhouette_samples", "silhouette_score", "SNE", "TSNE", "InfoTSNE", "LargeVis", "UMAP", "PACMAP",
           "TSNEkhorn", "COSNE", "AffinityMatcher"]
