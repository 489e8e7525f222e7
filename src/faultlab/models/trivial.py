"""``trivial``: a random forest on each window's mean and standard deviation per channel.

The sanity baseline every leaderboard shows. A window's mean is the sensor chain's DC offset
and its standard deviation the recording's vibration level: both fingerprint a recording
(its load, its sensor mounting, its bearing's overall condition) rather than the physics of
a fault. A model that does not beat this has learned nothing more than a recording's level
and offset - on CWRU's held-out fault size such a forest beat every model (issue 14).
"""

from __future__ import annotations

from typing import Any

from sklearn.ensemble import RandomForestClassifier

from faultlab.data.types import WindowSet
from faultlab.errors import ConfigError
from faultlab.features.extract import FeatureExtractor
from faultlab.features.time_domain import TIME_FEATURES
from faultlab.models.base import register_model
from faultlab.models.classical import FeatureModel


@register_model(
    "trivial",
    "Baseline: random forest on per-window mean and standard deviation of each channel",
    "baseline",
    {
        "statistics": ["mean", "std"],  # any of the time-domain statistics; default: level + offset
        "n_estimators": 200,
        "max_depth": None,
        "min_samples_leaf": 1,
        "n_jobs": -1,
        "scale": False,  # trees do not need scaled inputs
        "chunk_size": 4096,
    },
)
class TrivialModel(FeatureModel):
    """A FeatureModel whose features are a handful of per-window statistics."""

    def make_extractor(self, train: WindowSet) -> FeatureExtractor:
        stats = list(self.params["statistics"])
        unknown = sorted(set(stats) - set(TIME_FEATURES))
        if unknown or not stats:
            raise ConfigError(
                f"option statistics: unknown {unknown or stats}; choose from {list(TIME_FEATURES)}"
            )
        return FeatureExtractor(
            groups=("time",),
            channels=tuple(train.channels) if train.n_channels > 1 and train.channels else None,
            drop=tuple(n for n in TIME_FEATURES if n not in stats),
            chunk_size=int(self.params["chunk_size"]),
        )

    def make_estimator(self, n_classes: int) -> Any:
        p = self.params
        return RandomForestClassifier(
            n_estimators=int(p["n_estimators"]),
            max_depth=p["max_depth"],
            min_samples_leaf=int(p["min_samples_leaf"]),
            n_jobs=p["n_jobs"],
            random_state=self.training.seed,
        )
