"""The fuzz harness shared by ``tests/test_fuzz.py`` and ``benchmarks/fuzz_report.py``.

Four targets: CLI arguments, config values, file contents (recordings and run-directory
artefacts) and service payloads. Each ``check_*`` runs one case and returns an
:class:`Outcome`: ``ok`` (exit 0 / 2xx / a valid value), ``clear`` (exit 2 with one
``error:`` line / a FaultlabError / a 4xx), or a failure: ``traceback`` (any other exception
or exit code, or a multi-line error), ``hang`` (over :data:`HANG_S` seconds), ``5xx``, or
``stray`` (a file written outside the run directory / output the case named).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import strategies as st

from faultlab.errors import FaultlabError

#: A case running longer than this is a hang (generous: the shared test machines run at
#: several times their cores' load; ``benchmarks/fuzz_report.py`` prints the slowest case).
HANG_S = float(os.environ.get("FAULTLAB_FUZZ_HANG_S", "15"))
FAILURES = ("traceback", "hang", "5xx", "stray")


@dataclass
class Outcome:
    kind: str  # ok | clear | traceback | hang | 5xx | stray
    detail: str = ""

    @property
    def failed(self) -> bool:
        return self.kind in FAILURES


class Hang(Exception):
    pass


@contextlib.contextmanager
def time_limit(seconds: float = HANG_S):
    """Raise :class:`Hang` in the main thread after ``seconds`` (SIGALRM; Unix)."""

    def on_alarm(signum, frame):
        raise Hang(f"over {seconds:g} s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


class Tally:
    """Counts of outcomes per target (what ``fuzz_report.py`` prints)."""

    def __init__(self) -> None:
        self.counts: dict[str, Counter] = {}
        self.examples: dict[str, list[str]] = {}
        self.slowest: dict[str, float] = {}

    def add(self, target: str, outcome: Outcome, seconds: float = 0.0) -> Outcome:
        self.counts.setdefault(target, Counter())[outcome.kind] += 1
        self.slowest[target] = max(self.slowest.get(target, 0.0), seconds)
        if outcome.failed:
            self.examples.setdefault(target, []).append(outcome.detail[-700:])
        return outcome


TALLY = Tally()


# -- environment: a finished tiny run, copied per check when the check may damage it ----------------
@dataclass
class Env:
    run: Path  # a finished rf run (never modified by checks)
    root: Path  # a scratch folder for cases
    client: Any = None  # a TestClient on the run


def _new_files(root: Path, before: set[str]) -> list[str]:
    return sorted(set(_listing(root)) - before)


def _listing(root: Path) -> list[str]:
    return [str(p.relative_to(root)) for p in root.rglob("*")] if root.exists() else []


def _tmp_faultlab() -> set[str]:
    """faultlab's temporary folders in this process's temp dir (a private one: see
    :func:`build_env`, so other processes on the machine do not count)."""
    return {p.name for p in Path(tempfile.gettempdir()).glob("faultlab-*")}


# -- CLI arguments ---------------------------------------------------------------------------------
NUMBERS = [
    "0",
    "-1",
    "1",
    "3",
    "1e300",
    "-1e300",
    "1e-300",
    "nan",
    "inf",
    "-inf",
    "0.001",
    "1e12",
    "12000",
    "2048",
    "9" * 30,
    "abc",
    "",
    "1,2",
    "0x10",
    "１２",
]
WORDS = [
    "",
    "DE",
    "FE",
    "x",
    "onnx",
    "torch",
    "native",
    "legacy",
    "dynamo",
    "torchscript",
    "cnn1d",
    "rf",
    "nosuch",
    "0.0.0.0",
    "127.0.0.1",
    "::1",
    "é\u202e",
    "a" * 300,
    "--help",
    "-",
    "../../etc",
    "hidden=abc",
    "data.window=4",
    "training.epochs=1e9",
    "data.window=2048",
    "seeds=[0,0]",
    "x=",
    "=1",
    "data.nosuch=1",
    "model.params.hidden=[8]",
]


def path_choices(env: Env, case: Path) -> list[str]:
    """Paths an argument may point at: the run, missing ones, a file, a folder, odd names."""
    odd = os.fsdecode(bytes(case / "out") + b"\xff.csv")
    return [
        str(env.run),
        str(case / "missing"),
        str(case / "a_file"),
        str(case),
        str(case / "out.csv"),
        str(case / "out.json"),
        str(case / "out.txt"),
        str(case / "sub" / "out"),
        odd,
        str(case / "rec.npy"),
        str(case / "rec.csv"),
        str(case / "cfg.yaml"),
        str(case / "dup.yaml"),
        "",
        "/dev/null",
    ]


OPTIONS: dict[str, list[tuple[str, str]]] = {
    "predict": [
        ("--sampling-rate", "n"),
        ("--channel", "w"),
        ("--out", "p"),
        ("--batch-size", "n"),
        ("--backend", "w"),
    ],
    "export": [("--format", "w"), ("--out", "p"), ("--exporter", "w")],
    "report": [],
    "train": [
        ("--model", "w"),
        ("--epochs", "n"),
        ("--batch-size", "n"),
        ("--lr", "n"),
        ("--seed", "n"),
        ("--set", "w"),
        ("-p", "w"),
        ("--out", "p"),
        ("--fold", "w"),
        ("--time-budget", "n"),
        ("--split", "w"),
        ("--target", "w"),
    ],
    "benchmark": [
        ("--out", "p"),
        ("--set", "w"),
        ("--only", "w"),
        ("--workers", "n"),
        ("--executor", "w"),
    ],
    "serve": [
        ("--host", "w"),
        ("--port", "n"),
        ("--token", "w"),
        ("--max-windows", "n"),
        ("--max-samples", "n"),
        ("--max-body-mb", "n"),
        ("--threads", "n"),
        ("--backend", "w"),
    ],
}
POSITIONAL = {"predict": 2, "export": 1, "report": 1, "train": 1, "benchmark": 1, "serve": 1}


@st.composite
def cli_args(draw) -> tuple[str, list[tuple[str, int | str]], list[tuple[str, str, int | str]]]:
    """(command, positional picks, option picks); values are indices resolved per case."""
    cmd = draw(st.sampled_from(sorted(OPTIONS)))
    positional = [
        ("p", draw(st.integers(0, 14))) for _ in range(draw(st.integers(0, POSITIONAL[cmd])))
    ]
    opts = draw(st.lists(st.sampled_from(OPTIONS[cmd]), max_size=4)) if OPTIONS[cmd] else []
    picks = []
    for name, kind in opts:
        pool = {"n": NUMBERS, "w": WORDS, "p": list(range(15))}[kind]
        picks.append((name, kind, draw(st.sampled_from(pool))))
    return cmd, positional, picks


def _case_files(case: Path) -> None:
    """The files cases may name: a recording of each kind, configs, a plain file."""
    case.mkdir(parents=True, exist_ok=True)
    (case / "a_file").write_text("x")
    np.save(case / "rec.npy", np.sin(np.arange(6000, dtype=np.float32) / 7))
    np.savetxt(case / "rec.csv", np.cos(np.arange(3000) / 5), header="DE", comments="")
    (case / "cfg.yaml").write_text(json.dumps(TINY_CONFIG))
    (case / "dup.yaml").write_text("name: a\nname: b\n")


def resolve_argv(env: Env, case: Path, drawn) -> list[str]:
    cmd, positional, picks = drawn
    paths = path_choices(env, case)
    argv = [cmd]
    for _, i in positional:
        if cmd in ("train", "benchmark") and i % 3 == 0:
            argv.append(str(case / "cfg.yaml"))
        else:
            argv.append(paths[int(i)])
    for name, kind, value in picks:
        argv += [name, paths[int(value)] if kind == "p" else str(value)]
    return argv


@contextlib.contextmanager
def _stub_long_runs():
    """Training, benchmarks and uvicorn replaced by a check of what reaches them: fuzzing is
    about how arguments are read, and a valid argument list must not train for minutes."""
    import uvicorn

    from faultlab.experiments import benchmark, runner

    saved = (runner.run_folds, benchmark.run_benchmark, uvicorn.run)

    def fake_folds(cfg, out, **kw):
        runner.check_out_dir(out)
        return []

    def fake_bench(cfg, out, **kw):
        runner.check_out_dir(out)
        cfg.select(kw.get("only"))
        return {"failed": 0, "paths": {"md": "-", "html": "-", "csv": "-"}}

    runner.run_folds, benchmark.run_benchmark = fake_folds, fake_bench
    uvicorn.run = lambda *a, **k: None
    try:
        yield
    finally:
        runner.run_folds, benchmark.run_benchmark, uvicorn.run = saved


def check_cli(env: Env, drawn) -> Outcome:
    """Run ``faultlab ARGV`` in-process: exit 0, or exit 2 with exactly one ``error:`` line."""
    from faultlab.cli import main

    case = Path(tempfile.mkdtemp(dir=env.root, prefix="cli-"))
    _case_files(case)
    run_before = set(_listing(env.run))
    tmp_before = _tmp_faultlab()
    argv = resolve_argv(env, case, drawn)
    err, out = io.StringIO(), io.StringIO()
    cwd = os.getcwd()
    try:
        os.chdir(case)
        with (
            _stub_long_runs(),
            contextlib.redirect_stderr(err),
            contextlib.redirect_stdout(out),
            time_limit(),
        ):
            code = main(argv)
    except Hang as exc:
        return Outcome("hang", f"{argv}: {exc}")
    except BaseException:  # noqa: BLE001 - anything escaping main is a traceback
        return Outcome("traceback", f"{argv}: {traceback.format_exc()[-600:]}")
    finally:
        os.chdir(cwd)
    lines = [x for x in err.getvalue().splitlines() if x.strip() and not x.startswith("warning:")]
    stray = sorted(set(_listing(env.run)) - run_before) if drawn[0] != "report" else []
    stray = [s for s in stray if not s.startswith(("export", "report", "plots"))]
    stray += sorted(_tmp_faultlab() - tmp_before)
    shutil.rmtree(case, ignore_errors=True)
    if stray:
        return Outcome("stray", f"{argv}: wrote {stray[:5]}")
    if code == 0:
        return Outcome("ok")
    if code == 2 and len(lines) == 1 and lines[0].startswith("error: "):
        return Outcome("clear", lines[0])
    return Outcome("traceback", f"{argv}: exit {code}: {err.getvalue()[-600:]}")


# -- config values ------------------------------------------------------------------------------------
TINY_CONFIG = {
    "name": "tiny",
    "data": {
        "dataset": "synthetic",
        "window": 256,
        "target_rate": None,
        "synthetic": {"duration_s": 1.0, "loads": [0, 1], "sizes": [0.007]},
    },
    "split": {"kind": "leave_one_out", "column": "load_hp", "folds": ["1"]},
    "models": [{"name": "rf", "params": {"n_estimators": 5, "n_jobs": 1}}],
    "seeds": [0],
    "training": {"progress": False, "num_threads": 1},
}
CONFIG_KEYS = [
    "data.window",
    "data.stride",
    "data.target_rate",
    "data.normalise",
    "data.channel",
    "data.dataset",
    "data.select",
    "data.single_recording_blocks",
    "data.synthetic.sampling_rate",
    "data.synthetic.duration_s",
    "data.synthetic.loads",
    "data.synthetic.rpm",
    "split.kind",
    "split.n_splits",
    "split.test_fraction",
    "split.column",
    "split.val.fraction",
    "training.epochs",
    "training.lr",
    "training.batch_size",
    "training.seed",
    "training.patience",
    "training.time_budget_s",
    "training.grad_clip",
    "seeds",
    "models",
    "name",
    "nosuch",
]
ANY_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.lists(st.one_of(st.integers(-5, 5), st.text(max_size=4), st.floats()), max_size=4),
    st.dictionaries(st.text(max_size=6), st.integers(-3, 3), max_size=3),
    st.sampled_from(
        [
            0,
            1,
            8,
            256,
            1 << 21,
            1e-300,
            1e300,
            "IR",
            "Ball",
            [0, 0],
            [{"name": "rf"}],
            [{"name": "mlp", "params": {"hidden": "abc"}}],
            {"load_hp": [0, 0]},
        ]
    ),
)


@st.composite
def config_values(draw) -> dict[str, Any]:
    changes = draw(st.dictionaries(st.sampled_from(CONFIG_KEYS), ANY_VALUE, min_size=1, max_size=3))
    return changes


def check_config(changes: dict[str, Any]) -> Outcome:
    """A benchmark config with ``changes`` parses (and its models build) or is a ConfigError."""
    import copy

    from faultlab.cli.options import set_dotted
    from faultlab.experiments.benchmark import BenchmarkConfig
    from faultlab.experiments.config import parse_config
    from faultlab.experiments.runner import prepare
    from faultlab.models.base import build_model
    from faultlab.training.config import TrainConfig

    raw = copy.deepcopy(TINY_CONFIG)
    try:
        with time_limit():
            for key, value in changes.items():
                set_dotted(raw, key, value)
            cfg = parse_config(BenchmarkConfig, raw, "fuzz.yaml")
            prepare(cfg.experiment(cfg.models[0]))  # the data and folds the config asks for
            for m in cfg.models:
                training = TrainConfig(**{**cfg.training.model_dump(), **m.training})
                build_model(m.name, {"class": ["a", "b"]}, (1, cfg.data.window), m.params, training)
    except FaultlabError as exc:
        msg = str(exc)
        return Outcome("clear", msg) if "\n" not in msg else Outcome("traceback", msg)
    except Hang as exc:
        return Outcome("hang", f"{changes!r:.300}: {exc}")
    except Exception:  # noqa: BLE001
        return Outcome("traceback", f"{changes!r:.300}: {traceback.format_exc()[-600:]}")
    return Outcome("ok")


def check_yaml_text(env: Env, text: str) -> Outcome:
    from faultlab.experiments.config import load_yaml

    path = Path(tempfile.mkdtemp(dir=env.root, prefix="yaml-")) / "c.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogateescape")
    try:
        with time_limit():
            load_yaml(path)
    except FaultlabError:
        return Outcome("clear")
    except Hang as exc:
        return Outcome("hang", f"{text!r:.200}: {exc}")
    except Exception:  # noqa: BLE001
        return Outcome("traceback", f"{text!r:.200}: {traceback.format_exc()[-600:]}")
    return Outcome("ok")


# -- file contents -------------------------------------------------------------------------------------
ARRAYS = st.one_of(
    st.builds(
        lambda n, s: np.random.default_rng(s).normal(size=n).astype(np.float32),
        st.integers(0, 20000),
        st.integers(0, 9),
    ),
    st.builds(lambda n, c: np.ones((c, n), np.float64), st.integers(0, 5000), st.integers(1, 20)),
    st.builds(lambda n: (np.arange(n) % 500).astype(np.int16), st.integers(2, 5000)),
    st.builds(lambda n: np.full(n, np.nan), st.integers(1, 3000)),
    st.builds(lambda n: np.full(n, 1e38, np.float32), st.integers(1, 3000)),
    st.just(np.zeros((0,), np.float32)),
    st.just(np.ones((3, 3, 3))),
)


@st.composite
def recording_files(draw) -> tuple[str, bytes | np.ndarray, float | None, str | None]:
    suffix = draw(st.sampled_from([".npy", ".csv", ".mat", ".wav", ".json", ""]))
    content = draw(st.one_of(st.binary(max_size=3000), ARRAYS))
    rate = draw(st.one_of(st.none(), st.sampled_from([12000.0, 48000.0, 1.0, 0.5, 1e9, 300.0])))
    channel = draw(st.one_of(st.none(), st.sampled_from(["DE", "FE", "0", "ch0", "x", "5"])))
    return suffix, content, rate, channel


def _write_recording(path: Path, content: Any) -> None:
    if isinstance(content, bytes):
        path.write_bytes(content)
        return
    suffix = path.suffix
    if suffix == ".npy":
        np.save(path.with_suffix(".npy"), content)
    elif suffix == ".csv":
        np.savetxt(
            path,
            np.atleast_2d(content).reshape(len(content), -1)
            if content.ndim == 1
            else content.reshape(content.shape[0], -1).T,
        )
    elif suffix == ".mat":
        import scipy.io

        scipy.io.savemat(
            path, {"X001_DE_time": content.reshape(-1, 1) if content.ndim == 1 else content}
        )
    elif suffix == ".wav":
        from scipy.io import wavfile

        data = content if content.ndim == 1 else content.reshape(content.shape[0], -1).T
        wavfile.write(path, 12000, data.astype(np.float32) if data.dtype != np.int16 else data)
    else:
        path.write_bytes(np.asarray(content).tobytes())


def check_recording(env: Env, predictor: Any, drawn) -> Outcome:
    suffix, content, rate, channel = drawn
    case = Path(tempfile.mkdtemp(dir=env.root, prefix="rec-"))
    path = case / f"rec{suffix}"
    try:
        _write_recording(path, content)
    except Exception:  # noqa: BLE001 - a content the writer cannot store: skip
        return Outcome("ok")
    try:
        with time_limit():
            predictor.predict_file(path, rate, [channel] if channel else None)
    except FaultlabError as exc:
        return Outcome("clear", str(exc))
    except Hang as exc:
        return Outcome("hang", f"{suffix} {rate} {channel}: {exc}")
    except Exception:  # noqa: BLE001
        return Outcome(
            "traceback",
            f"{suffix} {rate} {channel} {type(content)}: {traceback.format_exc()[-600:]}",
        )
    finally:
        shutil.rmtree(case, ignore_errors=True)
    return Outcome("ok")


ARTEFACTS = [
    "metrics.json",
    "model/model.json",
    "preprocess.json",
    "model/model.skops",
    "config.yaml",
    "done.json",
    "split.json",
    "summary.json",
    "history.csv",
    "checkpoint.pt",
]


@st.composite
def artefact_damage(draw) -> tuple[str, str, bytes]:
    name = draw(st.sampled_from(ARTEFACTS))
    how = draw(st.sampled_from(["truncate", "empty", "bytes", "json"]))
    junk = draw(
        st.one_of(
            st.binary(max_size=200),
            st.sampled_from(
                [
                    b"[]",
                    b"1",
                    b'"x"',
                    b"null",
                    b'{"name": 5}',
                    b'{"window": -1}',
                    b'{"classes": {"class": 3}}',
                ]
            ),
        )
    )
    return name, how, junk


def check_artefact(env: Env, drawn) -> Outcome:
    """Damage one artefact of a copy of the run; reading the run must fail clearly or work."""
    from faultlab.experiments import rundir
    from faultlab.models.base import load_model
    from faultlab.reporting.run_report import load_run
    from faultlab.serving.predict import Predictor

    name, how, junk = drawn
    copy = Path(
        shutil.copytree(env.run, Path(tempfile.mkdtemp(dir=env.root, prefix="art-")) / "run")
    )
    target = copy / name
    original = target.read_bytes() if target.exists() else b"{}"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(
        {"truncate": original[: len(original) // 2], "empty": b"", "bytes": junk, "json": junk}[how]
    )
    results = []
    for op in (
        lambda: rundir.is_complete(copy),
        lambda: load_model(copy / "model"),
        lambda: Predictor(copy).predict_signal(np.zeros(4096, np.float32), 12000),
        lambda: load_run(copy),
    ):
        try:
            with time_limit():
                op()
            results.append(Outcome("ok"))
        except FaultlabError as exc:
            results.append(Outcome("clear", str(exc)))
        except Hang as exc:
            results.append(Outcome("hang", f"{name} {how}: {exc}"))
        except Exception:  # noqa: BLE001
            results.append(
                Outcome("traceback", f"{name} {how} {junk[:40]!r}: {traceback.format_exc()[-600:]}")
            )
    shutil.rmtree(copy.parent, ignore_errors=True)
    bad = [r for r in results if r.failed]
    return (
        bad[0]
        if bad
        else (Outcome("clear") if any(r.kind == "clear" for r in results) else Outcome("ok"))
    )


# -- service payloads ----------------------------------------------------------------------------------
FLOATS = st.floats(allow_nan=True, allow_infinity=True, width=32)
SAMPLES = st.one_of(
    st.lists(FLOATS, max_size=3000),
    st.lists(st.lists(FLOATS, max_size=50), max_size=3),
    st.lists(st.integers(-(2**40), 2**40), max_size=50),
    st.text(max_size=10),
    st.none(),
    st.builds(lambda n: [0.1] * n, st.integers(0, 60000)),
    st.just([[0.1] * 3000, [0.2] * 3000]),
    st.builds(
        lambda n, f: np.round(np.sin(np.arange(n) / f), 5).tolist(),
        st.integers(0, 20000),
        st.floats(1, 50),
    ),
)
RATES = st.one_of(
    st.none(),
    FLOATS,
    st.integers(-(2**70), 2**70),
    st.text(max_size=8),
    st.sampled_from([0.001, 1e12, 1e300, 1e-300, 1, 12000, 48000, 120, "12000"]),
)


@st.composite
def payloads(draw) -> dict[str, Any]:
    kind = draw(st.sampled_from(["json", "json", "json", "raw", "multipart"]))
    query = draw(st.sampled_from(["", "?windows=false", "?windows=abc", "?x=1"]))
    if kind == "json":
        body: dict[str, Any] = {"samples": draw(SAMPLES)}
        if draw(st.integers(0, 3)):
            body["sampling_rate"] = draw(st.one_of(st.just(12000), RATES))
        if draw(st.booleans()):
            body[draw(st.text(max_size=5))] = draw(st.integers())
        return {"kind": kind, "query": query, "body": body}
    if kind == "raw":
        ctype = draw(
            st.sampled_from(
                [
                    "application/json",
                    "text/plain",
                    "",
                    "multipart/form-data",
                    "application/json; charset=latin-1",
                ]
            )
        )
        return {"kind": kind, "query": query, "ctype": ctype, "raw": draw(st.binary(max_size=2000))}
    name = draw(
        st.sampled_from(
            [
                "108.mat",
                "x.npy",
                "x.csv",
                "x.wav",
                "x.exe",
                "",
                "../../x.npy",
                "\u202e.npy",
                "a" * 300 + ".npy",
            ]
        )
    )
    content = draw(st.one_of(st.binary(max_size=2000), st.just(_npy_bytes())))
    form = draw(
        st.dictionaries(
            st.sampled_from(["sampling_rate", "channel", "other"]),
            st.sampled_from(["12000", "0", "-1", "nan", "1e300", "DE", "", "x"]),
            max_size=3,
        )
    )
    return {"kind": kind, "query": query, "name": name, "content": content, "form": form}


def _npy_bytes() -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.sin(np.arange(5000, dtype=np.float32)))
    return buf.getvalue()


def check_payload(env: Env, drawn: dict[str, Any]) -> Outcome:
    """POST one payload: a 2xx or 4xx, never a 5xx, a dropped connection or a hang."""
    client = env.client
    url = "/predict" + drawn["query"]
    tmp_before = _tmp_faultlab()
    t0 = time.perf_counter()
    try:
        with time_limit():
            if drawn["kind"] == "json":
                text = json.dumps(drawn["body"], allow_nan=True)
                r = client.post(url, content=text, headers={"content-type": "application/json"})
            elif drawn["kind"] == "raw":
                r = client.post(url, content=drawn["raw"], headers={"content-type": drawn["ctype"]})
            else:
                r = client.post(
                    url, files={"file": (drawn["name"], drawn["content"])}, data=drawn["form"]
                )
    except Hang as exc:
        return Outcome("hang", f"{str(drawn)[:300]}: {exc}")
    except Exception:  # noqa: BLE001 - a dropped connection / a server exception re-raised
        return Outcome("5xx", f"{str(drawn)[:300]}: {traceback.format_exc()[-600:]}")
    if _tmp_faultlab() - tmp_before:
        return Outcome("stray", f"{str(drawn)[:200]}: left {_tmp_faultlab() - tmp_before}")
    seconds = time.perf_counter() - t0
    if r.status_code >= 500:
        return Outcome("5xx", f"{str(drawn)[:300]}: {r.status_code} {r.text[:300]}")
    if seconds > HANG_S:
        return Outcome("hang", f"{str(drawn)[:300]}: {seconds:.1f} s")
    return Outcome("ok" if r.status_code < 300 else "clear", f"{r.status_code}")


# -- building the environment -----------------------------------------------------------------------
def build_env(root: Path) -> Env:
    """Train the tiny rf run once under ``root`` (a few seconds)."""
    from faultlab.experiments.config import ExperimentConfig
    from faultlab.experiments.runner import prepare, run_experiment

    raw = {k: v for k, v in TINY_CONFIG.items() if k not in ("models", "seeds")}
    raw["model"] = TINY_CONFIG["models"][0]
    cfg = ExperimentConfig.model_validate(raw)
    windows, splits = prepare(cfg)
    run = root / "run"
    run_experiment(cfg, run, windows=windows, split=splits[0], report=False)
    scratch = root / "scratch"
    scratch.mkdir()
    private_tmp = root / "tmp"  # temp files of the code under test land here, and only
    private_tmp.mkdir()  # theirs: the stray-file check cannot see other processes
    tempfile.tempdir = str(private_tmp)
    return Env(run=run, root=scratch)
