"""paraDime's parametric DR model (``paradime``), with paraDime's names, on nembed's engine.

    from nembed.paradime import dr as pddr, relations as pdrel, transforms as pdtf, loss as pdloss
    from nembed.paradime.routines import ParametricTSNE, ParametricUMAP

See docs/parametric.md ("paraDime").
"""
from . import dr, loss, relations, routines, transforms
from .dr import DerivedData, ParametricDR, TrainingPhase
from .routines import ParametricTSNE, ParametricUMAP

__all__ = ["dr", "loss", "relations", "routines", "transforms", "DerivedData", "ParametricDR", "TrainingPhase",
           "ParametricTSNE", "ParametricUMAP"]
