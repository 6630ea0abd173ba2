"""TorchDR's API on nembed's C++ core: the same names, parameters and defaults as TorchDR 0.5."""
from .eval import admissible_LIST_METRICS, kmeans_ari, knn_label_accuracy, neighborhood_preservation, silhouette_samples, silhouette_score  # noqa: F401
