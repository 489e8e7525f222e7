"""Physics of rotating machines, below ``features``: pure numpy/scipy, no model code.

- :mod:`geometry`: which bearing a recording's sensor sits on, and its defect orders;
- :mod:`speed`: shaft speed per recording (catalogue, file, manifest, or estimated from the
  signal) and where it came from;
- :mod:`envelope`: demodulation band (cepstral pre-whitening, fast kurtogram, a fixed band)
  and the squared envelope spectrum, vectorised over ``[n, C, L]`` windows;
- :mod:`orders`: placement of a spectrum on a fixed order axis (multiples of shaft speed)
  and the bearing-normalised defect axis (around k x BPFO, BPFI, BSF, shaft).
"""
