"""Fuzzing (hypothesis) of CLI arguments, config values, file contents and service payloads.

Every case must end in ``ok`` or a clear error (exit 2 with one ``error:`` line, a
FaultlabError, a 4xx), within a few seconds, writing nothing outside the run directory or
the outputs it names. The quick variant runs in ``make test``; ``-m slow`` runs more cases;
``benchmarks/fuzz_report.py`` prints the counts.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzz_support import (
    artefact_damage,
    build_env,
    check_artefact,
    check_cli,
    check_config,
    check_payload,
    check_recording,
    check_yaml_text,
    cli_args,
    config_values,
    payloads,
    recording_files,
)

QUICK = settings(
    max_examples=10,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
LONG = settings(
    max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    import tempfile

    from fastapi.testclient import TestClient

    from faultlab.serving.service import create_app

    e = build_env(Path(tmp_path_factory.mktemp("fuzz")))  # sets a private temp dir
    e.client = TestClient(create_app(e.run))
    yield e
    tempfile.tempdir = None


@pytest.fixture(scope="module")
def predictor(env):
    from faultlab.serving.predict import Predictor

    return Predictor(env.run)


def _assert(outcome) -> None:
    assert not outcome.failed, f"{outcome.kind}: {outcome.detail}"


def _suite(config):
    """The fuzz tests under one hypothesis ``settings``."""

    @config
    @given(drawn=cli_args())
    def cli(env, drawn):
        _assert(check_cli(env, drawn))

    @config
    @given(changes=config_values())
    def config_(changes):
        _assert(check_config(changes))

    @config
    @given(text=st.text(max_size=200))
    def yaml_text(env, text):
        _assert(check_yaml_text(env, text))

    @config
    @given(drawn=recording_files())
    def recordings(env, predictor, drawn):
        _assert(check_recording(env, predictor, drawn))

    @config
    @given(drawn=artefact_damage())
    def artefacts(env, drawn):
        _assert(check_artefact(env, drawn))

    @config
    @given(drawn=payloads())
    def service(env, drawn):
        _assert(check_payload(env, drawn))

    return cli, config_, yaml_text, recordings, artefacts, service


(
    test_cli_arguments,
    test_config_values,
    test_yaml_text,
    test_recording_files,
    test_run_directory_artefacts,
    test_service_payloads,
) = _suite(QUICK)

(_cli, _cfg, _yaml, _rec, _art, _svc) = _suite(LONG)
test_cli_arguments_long = pytest.mark.slow(_cli)
test_config_values_long = pytest.mark.slow(_cfg)
test_recording_files_long = pytest.mark.slow(_rec)
test_run_directory_artefacts_long = pytest.mark.slow(_art)
test_service_payloads_long = pytest.mark.slow(_svc)
