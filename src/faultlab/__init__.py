"""faultlab: leakage-free training, comparison, reporting and deployment of fault classifiers."""

__version__ = "0.1.0"
