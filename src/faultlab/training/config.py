"""The training configuration, as the loop's own floor names it.

Defined in :mod:`faultlab.contracts.training` (models carry a ``TrainConfig`` and sit below
this floor); re-exported here so ``faultlab.training.config.TrainConfig`` keeps working.
"""

from faultlab.contracts.training import (
    ADAPTATION_METHODS,
    AdaptationConfig,
    AugmentConfig,
    AugmentName,
    BandpassConfig,
    TrainConfig,
)

__all__ = [
    "ADAPTATION_METHODS",
    "AdaptationConfig",
    "AugmentConfig",
    "AugmentName",
    "BandpassConfig",
    "TrainConfig",
]
