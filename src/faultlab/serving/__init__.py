"""faultlab.serving: use a trained run on new data.

- :mod:`~faultlab.serving.preprocess`: replay a run's ``preprocess.json`` (channels, resampling,
  window/stride, normalisation, standardiser) on a new file or array.
- :mod:`~faultlab.serving.predict`: :class:`~faultlab.serving.predict.Predictor` (torch/native or
  ONNX Runtime backend), per-window probabilities and soft-vote verdicts; ``faultlab predict``.
- :mod:`~faultlab.serving.export`: ONNX / TorchScript + ``metadata.json``; ``faultlab export``.
- :mod:`~faultlab.serving.service`: the FastAPI app (``create_app``); ``faultlab serve``.
- :mod:`~faultlab.serving.loadtest`: a background uvicorn server and a bounded load test.
"""
