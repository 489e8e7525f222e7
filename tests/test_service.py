"""The HTTP service: valid requests on real CWRU data, every 4xx path, backends, a load test."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fastapi.testclient import TestClient

from faultlab.data.resample import resample_signal
from faultlab.serving.loadtest import background_server, run_load
from faultlab.serving.preprocess import load_input
from faultlab.serving.service import create_app
from serving_support import steel_run, trained_run, untrained_run


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, shared_data):
    return trained_run(tmp_path_factory, shared_data)


@pytest.fixture(scope="module")
def client(run_dir):
    return TestClient(create_app(run_dir))


@pytest.fixture(scope="module")
def signal_108(shared_data) -> np.ndarray:
    """Two seconds of the drive-end signal of 108.mat (inner race 0.007 in, load 3)."""
    return load_input(shared_data / "cwru" / "108.mat", ["DE"]).signal[0, :24000]


def test_health_model_and_docs(client):
    h = client.get("/health")
    assert h.status_code == 200 and h.json()["status"] == "ok" and h.json()["model"] == "rf"
    m = client.get("/model").json()
    assert m["window"] == 1024 and m["sampling_rate"] == 12000 and m["channels"] == ["DE"]
    assert "IR_0.007" in m["classes"]["class"] and m["preprocessing"]["stride"] == 2048
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/predict"]["post"]["requestBody"]["content"]
    assert {"application/json", "multipart/form-data"} <= set(body)


def test_json_request_gives_windows_and_verdict(client, signal_108):
    r = client.post("/predict", json={"samples": signal_108.tolist(), "sampling_rate": 12000})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["prediction"]["class"]["prediction"] == "IR_0.007"
    n = (24000 - 1024) // 2048 + 1
    assert out["n_windows"] == n
    w = out["windows"]
    assert w["start_sample"] == [i * 2048 for i in range(n)]
    assert len(w["prediction"]["class"]) == n and np.asarray(w["proba"]["class"]).shape == (n, 10)
    assert np.allclose(np.sum(w["proba"]["class"], axis=1), 1, atol=1e-4)
    # channels x samples form, and leaving out the per-window columns
    r2 = client.post(
        "/predict?windows=false", json={"samples": [signal_108.tolist()], "sampling_rate": 12000}
    )
    assert r2.status_code == 200 and "windows" not in r2.json()
    assert r2.json()["prediction"] == out["prediction"]


def test_uploads_mat_and_resampled_npy(client, shared_data, tmp_path):
    mat = (shared_data / "cwru" / "225.mat").read_bytes()
    r = client.post("/predict", files={"file": ("225.mat", mat)})
    assert r.status_code == 200, r.text
    assert r.json()["prediction"]["class"]["prediction"] == "B_0.021"
    assert r.json()["input_sampling_rate"] == 12000  # from the catalogue: 225 is a CWRU number
    sig = load_input(shared_data / "cwru" / "237.mat", ["DE"]).signal[0, :36000]
    np.save(tmp_path / "x.npy", resample_signal(sig[None], 12000, 48000)[0])
    r = client.post(
        "/predict",
        files={"file": ("x.npy", (tmp_path / "x.npy").read_bytes())},
        data={"sampling_rate": "48000"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["prediction"]["class"]["prediction"] == "OR_0.021"
    assert r.json()["input_sampling_rate"] == 48000 and r.json()["sampling_rate"] == 12000


def _post_raw(client, body: bytes | str, ctype: str = "application/json"):
    return client.post("/predict", content=body, headers={"content-type": ctype})


def test_malformed_json_is_400_and_bad_fields_422(client):
    r = _post_raw(client, b'{"samples": [1.0, 2.0')
    assert r.status_code == 400 and "malformed JSON" in r.json()["detail"]
    r = _post_raw(client, b'{"samples": "abc", "sampling_rate": 12000}')
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][0] == "samples"
    r = _post_raw(client, b"[1, 2, 3]")
    assert r.status_code == 422


def test_too_short_is_422_with_message(client, signal_108):
    r = client.post(
        "/predict", json={"samples": signal_108[:1000].tolist(), "sampling_rate": 12000}
    )
    assert r.status_code == 422
    assert "shorter than one window" in r.json()["detail"] and "1000 samples" in r.json()["detail"]
    # ragged channels and the wrong number of channels
    r = client.post(
        "/predict", json={"samples": [[0.0] * 2000, [0.0] * 10], "sampling_rate": 12000}
    )
    assert r.status_code == 422 and "different lengths" in r.json()["detail"]
    r = client.post("/predict", json={"samples": [[0.0] * 2000] * 2, "sampling_rate": 12000})
    assert r.status_code == 422 and "model takes 1" in r.json()["detail"]


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_inf_are_422(client, signal_108, token):
    values = json.dumps(signal_108[:3000].tolist())
    body = '{"samples": [' + token + ", " + values[1:] + ', "sampling_rate": 12000}'
    r = _post_raw(client, body)
    assert r.status_code == 422 and "NaN/inf" in r.json()["detail"], r.text


@pytest.mark.parametrize("rate", [None, 0, -12000, "fast", "NaN"])
def test_missing_or_invalid_rate_is_422(client, signal_108, rate):
    payload = {"samples": signal_108[:3000].tolist()}
    if rate is not None:
        payload["sampling_rate"] = rate
    text = json.dumps(payload).replace('"NaN"', "NaN")
    r = _post_raw(client, text)
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == ["sampling_rate"]


def test_upload_without_rate_is_422(client, tmp_path):
    np.save(tmp_path / "y.npy", np.zeros(5000, np.float32))
    r = client.post("/predict", files={"file": ("y.npy", (tmp_path / "y.npy").read_bytes())})
    assert r.status_code == 422 and "sampling rate unknown" in r.json()["detail"]
    r = client.post(
        "/predict",
        files={"file": ("y.npy", (tmp_path / "y.npy").read_bytes())},
        data={"sampling_rate": "-3"},
    )
    assert r.status_code == 422


def test_oversized_body_and_upload_are_413(run_dir, shared_data, signal_108):
    small = TestClient(create_app(run_dir, max_body_bytes=100_000))
    r = small.post("/predict", json={"samples": signal_108.tolist(), "sampling_rate": 12000})
    assert r.status_code == 413 and "over the limit of 100000 bytes" in r.json()["detail"]
    mat = (shared_data / "cwru" / "108.mat").read_bytes()
    assert small.post("/predict", files={"file": ("108.mat", mat)}).status_code == 413

    def chunks():  # no Content-Length: counted while streaming
        for _ in range(20):
            yield b" " * 10_000

    r = small.post("/predict", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413
    ok = small.post(
        "/predict", json={"samples": signal_108[:4000].tolist(), "sampling_rate": 12000}
    )
    assert ok.status_code == 200


def test_unsupported_types_are_415(client):
    r = _post_raw(client, b"1,2,3", "text/plain")
    assert r.status_code == 415 and "content type 'text/plain'" in r.json()["detail"]
    r = client.post("/predict", files={"file": ("notes.txt", b"1,2,3")})
    assert r.status_code == 415 and "unsupported file type '.txt'" in r.json()["detail"]
    r = client.post("/predict", files={"file": ("corrupt.mat", b"garbage" * 10)})
    assert r.status_code == 422 and "corrupt.mat" in r.json()["detail"]


def test_onnx_backend_answers_like_torch(tmp_path, signal_108):
    run = untrained_run(tmp_path, "cnn1d")
    payload = {"samples": signal_108.tolist(), "sampling_rate": 12000}
    a = TestClient(create_app(run, backend="torch")).post("/predict", json=payload).json()
    b = TestClient(create_app(run, backend="onnx")).post("/predict", json=payload).json()
    assert b["backend"] == "onnx" and a["backend"] == "torch"
    np.testing.assert_allclose(
        a["windows"]["proba"]["class"], b["windows"]["proba"]["class"], atol=1e-4
    )


@pytest.mark.slow
def test_bounded_load_on_a_real_server(run_dir, signal_108):
    """200 requests from 4 clients to uvicorn on 127.0.0.1: every one answered 200."""
    body = json.dumps({"samples": signal_108[:12000].tolist(), "sampling_rate": 12000}).encode()
    with background_server(create_app(run_dir)) as url:
        assert url.startswith("http://127.0.0.1:")
        res = run_load(f"{url}/predict?windows=false", body, n=200, concurrency=4, max_seconds=45)
    print(res.line())
    assert res.completed == 200 and res.ok == 200, (res.statuses, res.errors)
    assert res.p50_ms <= res.p99_ms and res.requests_per_s > 0


def test_tabular_run_takes_feature_rows_without_a_rate(tmp_path_factory, steel_csv):
    import pandas as pd

    run = steel_run(tmp_path_factory)
    c = TestClient(create_app(run))
    assert c.get("/model").json()["sampling_rate"] is None
    rows = pd.read_csv(steel_csv).iloc[:3, :27].to_numpy().tolist()
    r = c.post("/predict", json={"samples": rows})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["n_windows"] == 3 and out["windows"]["start_s"] is None
    assert out["prediction"]["label"]["prediction"] in out["classes"]["label"]
    r = c.post("/predict", json={"samples": rows[0][:20]})
    assert r.status_code == 422 and "27 features" in r.json()["detail"]
