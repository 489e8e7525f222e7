"""faultlab.serving."""
