"""faultlab.reporting."""
