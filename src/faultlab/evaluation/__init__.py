"""faultlab.evaluation."""
