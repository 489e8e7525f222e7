"""HTTP service for a trained run (FastAPI): ``POST /predict``, ``GET /health``, ``GET /model``.

``POST /predict`` takes either JSON ``{"samples": [...] | [[...], ...], "sampling_rate": HZ}``
(one channel, or channels x samples) or a multipart upload (field ``file``: .mat/.npy/.csv/.wav,
optional form fields ``sampling_rate`` and ``channel``). Both go through the same
preprocessing replay as ``faultlab predict``. Bad requests get 4xx answers with one-line
reasons: 400 malformed JSON, 413 body over the limit, 415 unsupported content or file type,
422 invalid values (missing/invalid rate, NaN/inf, shorter than one window, wrong channels).
Interactive docs are at ``/docs`` (local Swagger UI assets: they work offline). With a
token (``--token`` / ``$FAULTLAB_TOKEN``, required when binding beyond loopback), ``/predict``
and ``/model`` answer 401 without ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from faultlab.errors import ConfigError, FaultlabError
from faultlab.limits import (
    RATE_MAX_HZ,
    RATE_MIN_HZ,
    SERVICE_MAX_SAMPLES,
    SERVICE_MAX_WINDOWS,
    check_rate,
)
from faultlab.serving.predict import Predictor, RecordingPrediction
from faultlab.serving.preprocess import READERS, UnsupportedFormat

#: Default request body limit (bytes): ~30 s of one 48 kHz channel as JSON text.
DEFAULT_MAX_BODY = 16 * 1024 * 1024


class PredictRequest(BaseModel):
    """A raw signal: one channel ``[n]`` or ``[channels][n]``, at ``sampling_rate`` Hz."""

    samples: list[float] | list[list[float]] = Field(
        description="one channel as a list of numbers, or channels x samples "
        "(tabular models: one row of features, or rows x features)"
    )
    sampling_rate: float | None = Field(
        None,
        ge=RATE_MIN_HZ,
        le=RATE_MAX_HZ,
        allow_inf_nan=False,
        description="Hz of the given samples (required by signal models; tables have none)",
    )


class BodyLimit:
    """ASGI middleware: 413 for bodies over ``limit`` bytes (by header, or while streaming)."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = int(limit)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            response = _too_large(int(length), self.limit)
            return await response(scope, receive, send)
        seen = 0

        async def limited() -> dict:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:  # chunked upload without a Content-Length
                raise HTTPException(413, f"request body over the limit of {self.limit} bytes")
            return message

        await self.app(scope, limited, send)


def _too_large(size: int, limit: int) -> JSONResponse:
    return JSONResponse(
        {"detail": f"request body of {size} bytes is over the limit of {limit} bytes"},
        status_code=413,
    )


def _columns(rp: RecordingPrediction, classes: dict[str, list[str]]) -> dict[str, Any]:
    """Per-window results as columns (lists aligned by window), built without a per-window loop."""
    return {
        "start_sample": rp.prepared.start_sample.tolist(),
        "start_s": np.round(rp.prepared.start_s, 6).tolist() if rp.prepared.rate else None,
        "prediction": {
            t: np.asarray(classes[t], dtype=object)[p.argmax(axis=1)].tolist()
            for t, p in rp.proba.items()
        },
        "proba": {t: np.round(p, 6).tolist() for t, p in rp.proba.items()},
    }


def _answer(predictor: Predictor, rp: RecordingPrediction, with_windows: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "model": predictor.model_name,
        "backend": predictor.backend_name,
        "input": rp.name,
        "n_windows": rp.n_windows,
        "window": predictor.pre.window,
        "stride": predictor.pre.stride,
        "sampling_rate": predictor.pre.rate,
        "input_sampling_rate": rp.prepared.source_rate,
        "classes": predictor.classes,
        "prediction": {t: v.to_dict() for t, v in rp.verdicts.items()},
    }
    if with_windows:
        out["windows"] = _columns(rp, predictor.classes)
    return out


_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")

_REQUEST_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": PredictRequest.model_json_schema()},
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {
                    "file": {
                        "type": "string",
                        "format": "binary",
                        "description": f"recording: {', '.join(sorted(READERS))}",
                    },
                    "sampling_rate": {
                        "type": "number",
                        "description": "Hz (CWRU numbers: from the catalogue)",
                    },
                    "channel": {
                        "type": "string",
                        "description": "channel name/column/index in the file",
                    },
                },
            }
        },
    },
}

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "malformed JSON"},
    401: {"description": "missing or wrong bearer token (when the service has one)"},
    413: {"description": "body or upload over the size limit"},
    415: {"description": "unsupported content type or file type"},
    422: {"description": "invalid values: rate, NaN/inf, too short, channels"},
}


#: Environment variable read for the bearer token when ``--token`` is not given.
TOKEN_ENV = "FAULTLAB_TOKEN"


def create_app(
    run_dir: str | Path,
    backend: str = "torch",
    max_body_bytes: int = DEFAULT_MAX_BODY,
    threads: int | None = None,
    predictor: Predictor | None = None,
    batch_size: int = 512,
    token: str | None = None,
    max_windows: int = SERVICE_MAX_WINDOWS,
    max_samples: int = SERVICE_MAX_SAMPLES,
) -> FastAPI:
    """The service for ``run_dir`` (the model is loaded once, here). With ``token``,
    ``/predict`` and ``/model`` need ``Authorization: Bearer <token>``; ``max_windows`` and
    ``max_samples`` bound one request (422 beyond them, naming the field)."""
    predictor = predictor or Predictor(run_dir, backend=backend, threads=threads)
    predictor.max_windows = int(max_windows)
    meta = predictor.metadata()
    meta["backend"] = predictor.backend_name
    app = _bare_app(predictor, meta, max_body_bytes, max_windows, max_samples)
    auth = [Depends(_bearer_check(token))] if token else []
    _add_error_handlers(app)
    _add_info_routes(app, predictor, meta, auth)
    _add_predict_route(app, predictor, auth, batch_size, max_samples)
    return app


def _add_error_handlers(app: FastAPI) -> None:
    """Expected failures as one-line answers: 415 for file types, 422 for bad values."""

    @app.exception_handler(UnsupportedFormat)
    async def _unsupported(_: Request, exc: UnsupportedFormat) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=415)

    @app.exception_handler(FaultlabError)
    async def _invalid(_: Request, exc: FaultlabError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=422)


def _add_info_routes(
    app: FastAPI, predictor: Predictor, meta: dict[str, Any], auth: list[Any]
) -> None:
    """``GET /health`` (open) and ``GET /model`` (behind the token, if any)."""
    started = time.time()

    @app.get("/health")
    async def health() -> dict[str, Any]:
        """Liveness: the model is loaded and answering."""
        return {
            "status": "ok",
            "model": predictor.model_name,
            "backend": predictor.backend_name,
            "uptime_s": round(time.time() - started, 3),
        }

    @app.get("/model", dependencies=auth)
    async def model() -> dict[str, Any]:
        """Classes, tasks, input shape, window, rate, channels and preprocessing of the model."""
        return meta


def _add_predict_route(
    app: FastAPI, predictor: Predictor, auth: list[Any], batch_size: int, max_samples: int
) -> None:
    """``POST /predict``: a JSON signal or an uploaded file, by content type."""

    @app.post(
        "/predict",
        openapi_extra={"requestBody": _REQUEST_BODY},
        responses=_ERRORS,
        dependencies=auth,
    )
    async def predict(request: Request, windows: bool = True) -> dict[str, Any]:
        """Predict one recording; ``windows=false`` leaves out the per-window columns."""
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype == "application/json":
            rp = await _from_json(request, predictor, batch_size, max_samples)
        elif ctype == "multipart/form-data":
            rp = await _from_upload(request, predictor, batch_size)
        else:
            raise HTTPException(
                415,
                f"content type {ctype or '(none)'!r}: send application/json or multipart/form-data",
            )
        return _answer(predictor, rp, windows)


async def _from_json(
    request: Request, predictor: Predictor, batch_size: int, max_samples: int
) -> RecordingPrediction:
    body = await request.body()
    try:  # pydantic-core parses JSON ~7x faster than json.loads, NaN/Infinity included
        req = PredictRequest.model_validate_json(body)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False, include_context=False)
        if errors[0]["type"] == "json_invalid":
            raise HTTPException(400, f"malformed JSON body: {errors[0]['msg']}") from None
        raise HTTPException(422, errors[:5]) from None
    if req.sampling_rate is None and not predictor.pre.tabular:
        raise HTTPException(
            422,
            [
                {
                    "type": "missing",
                    "loc": ["sampling_rate"],
                    "msg": "Field required: the Hz of the samples",
                }
            ],
        )
    try:
        signal = np.asarray(req.samples, dtype=np.float32)
    except ValueError:
        raise HTTPException(422, "samples: channels have different lengths") from None
    _check_samples(signal, max_samples)
    return await run_in_threadpool(
        predictor.predict_signal, signal, req.sampling_rate, "samples", batch_size
    )


async def _from_upload(
    request: Request, predictor: Predictor, batch_size: int
) -> RecordingPrediction:
    async with request.form(max_files=1, max_fields=8) as form:
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise HTTPException(422, "multipart body needs a 'file' field with the recording")
        name = _upload_name(upload.filename)
        if Path(name).suffix.lower() not in READERS:
            raise UnsupportedFormat(
                f"{name}: unsupported file type {Path(name).suffix or '(none)'!r}; "
                f"use one of {sorted(READERS)}"
            )
        rate = _form_rate(form.get("sampling_rate"))
        channel = form.get("channel")
        channels = (
            [c.strip() for c in channel.split(",")]
            if isinstance(channel, str) and channel
            else None
        )
        content = await upload.read()
    with tempfile.TemporaryDirectory(prefix="faultlab-upload-") as tmp:
        path = Path(tmp) / name  # keep the name: CWRU numbers give the rate
        path.write_bytes(content)
        return await run_in_threadpool(
            predictor.predict_file, path, rate, channels, batch_size, name
        )


def _bare_app(
    predictor: Predictor,
    meta: dict[str, Any],
    max_body_bytes: int,
    max_windows: int,
    max_samples: int,
) -> FastAPI:
    """The FastAPI app with its description, body limit and offline docs (no routes yet)."""
    app = FastAPI(
        title="faultlab fault-diagnosis service",
        version=str(meta["faultlab_version"]),
        description=f"Model `{predictor.model_name}` (run `{meta['run']}`): "
        f"{len(predictor.pre.channels)} channel(s) {', '.join(predictor.pre.channels)}, "
        f"windows of {predictor.pre.window} samples at {predictor.pre.rate} Hz; at most "
        f"{max_windows} windows and {max_samples} samples per channel per request.",
        docs_url=None,
        redoc_url=None,
    )
    app.state.predictor = predictor
    app.add_middleware(BodyLimit, limit=max_body_bytes)
    _offline_docs(app)
    return app


def _check_samples(signal: np.ndarray, max_samples: int) -> None:
    if signal.shape[-1] > max_samples:
        raise HTTPException(
            422, f"samples: {signal.shape[-1]} per channel, over the limit of {max_samples}"
        )


def _upload_name(filename: str | None) -> str:
    """A safe file name for an upload: its last component, odd characters replaced, at most
    100 characters (the suffix kept: it picks the reader; a CWRU number gives the rate)."""
    name = _SAFE_NAME.sub("_", Path(filename or "upload").name).strip(".") or "upload"
    if len(name) > 100:
        suffix = Path(name).suffix[:10]
        name = name[: 100 - len(suffix)] + suffix
    return name


def _form_rate(value: Any) -> float | None:
    if value is None or value == "":
        return None
    return check_rate(value)


def _bearer_check(token: str):
    """A dependency answering 401 unless the request carries ``Bearer <token>``."""
    scheme = HTTPBearer(auto_error=False, description="the token given to `faultlab serve`")
    expected = token.encode()

    async def check(cred: HTTPAuthorizationCredentials | None = Depends(scheme)) -> None:
        given = (cred.credentials if cred is not None else "").encode()
        if not hmac.compare_digest(given, expected):
            raise HTTPException(
                401,
                "missing or wrong bearer token (Authorization: Bearer ...)",
                headers={"WWW-Authenticate": "Bearer"},
            )

    return check


def _offline_docs(app: FastAPI) -> None:
    """``/docs`` from local Swagger UI assets (the swagger-ui-bundle package), never a CDN.

    Without the package ``/docs`` is a plain page pointing at ``/openapi.json``. The bundled
    Swagger UI is 4.x, which reads OpenAPI 3.0 only: it gets the schema relabelled 3.0.3.
    """
    try:
        from swagger_ui_bundle import swagger_ui_path
    except ImportError:
        swagger_ui_path = None

    if swagger_ui_path is None:

        @app.get("/docs", include_in_schema=False)
        async def plain_docs() -> HTMLResponse:
            return HTMLResponse(
                "<!doctype html><title>faultlab service</title><h1>faultlab service</h1>"
                "<p>The API schema is at <a href='/openapi.json'>/openapi.json</a>. "
                "Install swagger-ui-bundle (pip install 'faultlab[serve]') for interactive "
                "docs that work offline.</p>"
            )

        return

    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.staticfiles import StaticFiles

    app.mount("/docs-static", StaticFiles(directory=str(swagger_ui_path)), name="docs-static")
    legacy = re.search(r"swagger-ui-(\d+)", str(swagger_ui_path))
    schema_url = app.openapi_url or "/openapi.json"
    if legacy and int(legacy.group(1)) < 5:
        schema_url = "/docs-static-openapi.json"

        @app.get(schema_url, include_in_schema=False)
        async def openapi_30() -> dict[str, Any]:
            return {**app.openapi(), "openapi": "3.0.3"}

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=schema_url,
            title=f"{app.title} - docs",
            swagger_js_url="/docs-static/swagger-ui-bundle.js",
            swagger_css_url="/docs-static/swagger-ui.css",
            swagger_favicon_url="/docs-static/favicon-32x32.png",
        )


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def resolve_token(host: str, token: str | None) -> str | None:
    """``token`` or ``$FAULTLAB_TOKEN``; required when ``host`` is not a loopback address."""
    token = token or os.environ.get(TOKEN_ENV) or None
    if token is not None and not token.strip():
        raise ConfigError("--token: empty token")
    if token is None and not is_loopback(host):
        raise ConfigError(
            f"--host {host}: binding beyond this machine needs a bearer token "
            f"(--token TOKEN or ${TOKEN_ENV}); clients send 'Authorization: Bearer TOKEN'"
        )
    return token


def serve(
    run_dir: str | Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    backend: str = "torch",
    max_body_bytes: int = DEFAULT_MAX_BODY,
    threads: int | None = None,
    log_level: str = "info",
    token: str | None = None,
    max_windows: int = SERVICE_MAX_WINDOWS,
    max_samples: int = SERVICE_MAX_SAMPLES,
) -> None:
    """Run the service with uvicorn until interrupted (a token is required beyond loopback)."""
    import uvicorn

    token = resolve_token(host, token)
    app = create_app(
        run_dir,
        backend=backend,
        max_body_bytes=max_body_bytes,
        threads=threads,
        token=token,
        max_windows=max_windows,
        max_samples=max_samples,
    )
    uvicorn.run(app, host=host, port=port, log_level=log_level)
