"""``trivial``: a random forest on each window's mean and standard deviation per channel.

The sanity baseline every leaderboard shows. A window's mean is the sensor chain's DC offset
and its standard deviation the recording's vibration level: both fingerprint a recording
(its load, its sensor mounting, its bearing's overall condition) rather than the physics of
a fault. A model that does not beat this has learned nothing more than a recording's level
and offset - on CWRU's held-out fault size such a forest beat every model (issue 14).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, PositiveInt, field_validator
from sklearn.ensemble import RandomForestClassifier

from faultlab.data.types import WindowSet
from faultlab.features.extract import FeatureExtractor
from faultlab.features.time_domain import TIME_FEATURES
from faultlab.models.base import register_model
from faultlab.models.classical import ClassicalParams, FeatureModel


class TrivialParams(ClassicalParams):
    statistics: list[str] = Field(
        default_factory=lambda: ["mean", "std"],
        description="time-domain statistics per channel (default: offset and level)",
    )
    n_estimators: PositiveInt = Field(default=200, description="trees")
    max_depth: PositiveInt | None = Field(default=None, description="None: grow until pure")
    min_samples_leaf: PositiveInt = Field(default=1, description="windows per leaf, at least")
    n_jobs: int | None = Field(default=-1, description="threads (-1: all)")
    scale: bool = Field(default=False, description="trees do not need scaled inputs")
    chunk_size: PositiveInt = Field(default=4096, description="windows per feature batch")

    @field_validator("statistics")
    @classmethod
    def _known(cls, stats: list[str]) -> list[str]:
        unknown = sorted(set(stats) - set(TIME_FEATURES))
        if unknown or not stats:
            raise ValueError(
                f"option statistics: unknown {unknown or stats}; choose from {list(TIME_FEATURES)}"
            )
        return stats


@register_model(
    "trivial",
    "Baseline: random forest on per-window mean and standard deviation of each channel",
    "baseline",
    TrivialParams,
)
class TrivialModel(FeatureModel[TrivialParams]):
    """A FeatureModel whose features are a handful of per-window statistics."""

    def make_extractor(self, train: WindowSet) -> FeatureExtractor:
        stats = self.params.statistics
        return FeatureExtractor(
            groups=("time",),
            channels=tuple(train.channels) if train.n_channels > 1 and train.channels else None,
            drop=tuple(n for n in TIME_FEATURES if n not in stats),
            chunk_size=self.params.chunk_size,
        )

    def make_estimator(self, n_classes: int) -> Any:
        p = self.params
        return RandomForestClassifier(
            n_estimators=p.n_estimators,
            max_depth=p.max_depth,
            min_samples_leaf=p.min_samples_leaf,
            n_jobs=p.n_jobs,
            random_state=self.training.seed,
        )
