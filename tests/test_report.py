"""Per-run report from a real small run on CWRU files: numbers equal metrics.json, the HTML
is one self-contained file, it renders in headless Chromium, and ``faultlab report`` re-renders.

The model is a test-only softmax regression on spectral band energies (a genuinely trained
model with per-epoch curves), run through the project's own runner on real recordings.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
from pathlib import Path

import pytest

from faultlab.experiments.config import ExperimentConfig
from report_support import CHROMIUM, SMALL_DATA, chromium_check  # registers toy_softmax


def small_config(**model) -> ExperimentConfig:
    return ExperimentConfig.model_validate(
        {
            "name": "report-test",
            "data": SMALL_DATA,
            "target": "multitask",
            "split": {"kind": "leave_one_out", "folds": ["3"]},
            "model": {"name": "toy_softmax", "label": "toy", **model},
        }
    )


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, shared_data) -> Path:
    from faultlab.experiments.runner import prepare, run_experiment

    cfg = small_config(params={"epochs": 10})
    with pytest.MonkeyPatch.context() as mp:  # module scope: set before the autouse fixture
        mp.setenv("FAULTLAB_DATA_DIR", str(shared_data))
        windows, splits = prepare(cfg)
    out = tmp_path_factory.mktemp("run") / "toy"
    run_experiment(cfg, out, windows=windows, split=splits[0])
    return out


def md_tables(md: str) -> list[list[list[str]]]:
    """Every Markdown table as a list of rows (header first) of cell strings."""
    tables, current = [], None
    for line in md.splitlines():
        if line.startswith("| "):
            if current is None:
                current = []
                tables.append(current)
            current.append([c.strip() for c in line.strip().strip("|").split(" | ")])
        elif not line.startswith("|---"):
            current = None
    return tables


def table(md: str, *header: str, row: str | None = None) -> dict[str, list[str]]:
    """The first table whose header starts with ``header`` (and has a row named ``row``):
    first cell -> the other cells."""
    for t in md_tables(md):
        rows = {r[0]: r[1:] for r in t}
        if t[0][: len(header)] == list(header) and (row is None or row in rows):
            return rows
    raise AssertionError(f"no table with header {header}")


def f4(x) -> str:
    return f"{x:.4f}"


def test_report_files_and_sections(run_dir: Path) -> None:
    md = (run_dir / "report.md").read_text()
    assert md.startswith("# toy Model Training Report")
    for section in (
        "## Description",
        "## Architecture",
        "### Complexity",
        "## Training details",
        "### Final and best epoch",
        "## Test metrics",
        "## Recording-level accuracy",
        "## Confusion matrices",
        "## Speed and resources",
        "## Learning curves",
        "## Fit diagnosis",
        "## Recommendations",
    ):
        assert section in md, section
    # the protocol is stated with the CWRU load caveat, and the single-recording note
    assert "Load/condition split on load_hp" in md and "CWRU caveat" in md
    assert "cut into 4 contiguous blocks" in md
    plots = sorted(p.name for p in (run_dir / "plots").glob("*.png"))
    assert plots == [
        "confusion_detection.png",
        "confusion_location.png",
        "confusion_size.png",
        "envelope_evidence.png",  # real CWRU windows: speed and bearing are known
        "layer_types.png",
        "learning_curves.png",
    ]
    for p in (run_dir / "plots").glob("*.png"):
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_numbers_in_report_equal_metrics_json(run_dir: Path) -> None:
    m = json.loads((run_dir / "metrics.json").read_text())
    md = (run_dir / "report.md").read_text()
    html = (run_dir / "report.html").read_text()
    tasks = list(m["tasks"])
    assert tasks == ["detection", "location", "size"]
    rows = table(md, "metric", *tasks)
    for key, label in [
        ("accuracy", "accuracy"),
        ("balanced_accuracy", "balanced accuracy"),
        ("macro_f1", "macro F1"),
        ("weighted_f1", "weighted F1"),
        ("roc_auc_ovr_macro", "ROC-AUC (macro OvR)"),
    ]:
        assert rows[label] == [f4(m["tasks"][t][key]) for t in tasks], key
    assert rows["windows (n)"] == [f"{m['tasks'][t]['n']:,}" for t in tasks]
    rec = table(md, "task", "recordings")
    for t in tasks:
        r = m["tasks"][t]["recording"]
        assert rec[t] == [
            str(r["n_recordings"]),
            f4(m["tasks"][t]["accuracy"]),
            f4(r["majority_accuracy"]),
            f4(r["mean_proba_accuracy"]),
        ]
    p = m["primary"]
    glance = md_tables(md)[0]
    assert glance[0][:3] == ["test accuracy", "macro F1", "recording accuracy"]
    assert glance[1][:4] == [
        f4(p["accuracy"]),
        f4(p["macro_f1"]),
        f4(p["recording_accuracy"]),
        f"{m['model']['n_params']:,}",
    ]
    assert glance[1][6] == m["diagnosis"]["verdict"]
    cx = table(md, "quantity", "value")
    assert cx["total parameters"] == [f"{m['model']['n_params']:,}"]
    b1 = "latency per window, batch 1 (ms, median)"
    speed = table(md, "quantity", "value", row=b1)
    assert speed[b1] == [f"{m['speed']['latency_ms_batch1']:.3f}"]
    assert speed["latency per window, batch 256 (ms, median)"] == [
        f"{m['speed']['latency_ms_batched']:.3f}"
    ]
    assert speed["peak RAM of the run (MiB)"] == [f"{m['resources']['peak_rss_mb']:.1f}"]
    tr = table(md, "item", "value")
    assert tr["epochs run"] == [str(m["training"]["epochs"])]
    assert tr["best epoch"] == [str(m["training"]["best_epoch"])]
    assert tr["train wall time (s)"] == [f"{m['training']['train_seconds']:.2f}"]
    fb = table(md, "metric", row="val_loss")
    assert fb["val_loss"] == [
        f4(m["training"]["final"]["val_loss"]),
        f4(m["training"]["best"]["val_loss"]),
    ]
    cm = m["tasks"]["location"]["confusion_matrix"]
    assert sum(map(sum, cm)) == m["tasks"]["location"]["n"]
    # the HTML carries the same formatted numbers, cell by cell
    for t in tasks:
        assert f"<td>{f4(m['tasks'][t]['accuracy'])}</td>" in html
    assert f"<td>{m['speed']['latency_ms_batch1']:.3f}</td>" in html
    assert f"Verdict: {m['diagnosis']['verdict']}." in md


def test_html_is_self_contained(run_dir: Path) -> None:
    html = (run_dir / "report.html").read_text()
    assert "<style>" in html
    assert not re.search(r"(src|href)=\"(https?:)?//", html), "external reference in report.html"
    assert "<link" not in html and "<script" not in html
    srcs = re.findall(r'<img src="([^"]+)"', html)
    assert len(srcs) == len(list((run_dir / "plots").glob("*.png")))
    for src in srcs:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:4] == b"\x89PNG"


def test_report_command_rerenders_from_artefacts(run_dir: Path, tmp_path: Path) -> None:
    from faultlab.cli import main

    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    before = (copy / "report.md").read_text()
    (copy / "report.md").unlink()
    shutil.rmtree(copy / "plots")
    assert main(["report", str(copy)]) == 0
    assert (copy / "report.md").read_text() == before
    assert (copy / "plots" / "learning_curves.png").exists()


def test_report_on_a_directory_without_metrics_is_one_error_line(tmp_path: Path, capsys) -> None:
    from faultlab.cli import main

    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and str(tmp_path) in err and "Traceback" not in err


def test_one_shot_run_without_history_or_diagnosis(run_dir: Path, tmp_path: Path) -> None:
    """A forest-like run: no curves; the diagnosis is recomputed, speed advice is added."""
    from faultlab.reporting import render_run_report

    copy = tmp_path / "oneshot"
    shutil.copytree(run_dir, copy)
    (copy / "history.csv").write_text("")
    m = json.loads((copy / "metrics.json").read_text())
    del m["diagnosis"]
    m["speed"]["latency_ms_batch1"] = 55.0
    (copy / "metrics.json").write_text(json.dumps(m))
    render_run_report(copy)
    md = (copy / "report.md").read_text()
    assert "Verdict: not applicable." in md and "one-shot" in md
    assert "batch-1 latency 55.00 ms" in md
    assert not (copy / "plots" / "learning_curves.png").exists() or "![learning curves]" not in md


@pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs /usr/bin/chromium (apt-get install chromium)"
)
def test_html_report_renders_in_headless_chromium(run_dir: Path, tmp_path: Path) -> None:
    verdict = chromium_check(run_dir / "report.html", tmp_path)
    n_img = len(list((run_dir / "plots").glob("*.png")))
    assert verdict == f"images={n_img} broken=0 errors=0 requests=0"


@pytest.mark.parametrize(
    ("kind", "rule", "leaky", "dataset", "label", "warning", "phrase"),
    [
        ("random_window", {}, True, "cwru", "leaky", True, "scores are inflated"),
        ("leave_one_out", {"column": "load_hp"}, False, "cwru", "condition", True, "CWRU caveat"),
        ("transfer", {"column": "load_hp"}, False, "cwru", "condition", True, "ordered pair"),
        (
            "condition",
            {"column": "fault_diameter_in", "train": [0.007, 0.014], "test": [0.021]},
            False,
            "cwru",
            "held-out size",
            False,
            "never seen in training",
        ),
        ("group_kfold", {"n_splits": 5}, False, "table", "grouped k-fold", False, "5-fold"),
        (  # selectors (rate transfer): named by their columns, values readable
            "condition",
            {
                "column": "load_hp",
                "train": [{"sampling_rate_hz": 12000, "condition": "fault"}],
                "test": [{"sampling_rate_hz": 48000}, {"condition": "normal", "load_hp": [2, 3]}],
            },
            False,
            "cwru",
            "condition",
            True,
            "recordings matching {sampling_rate_hz=12000, condition=fault}, test on "
            "{sampling_rate_hz=48000}, {condition=normal, load_hp=2/3}",
        ),
    ],
)
def test_protocol_statements(kind, rule, leaky, dataset, label, warning, phrase) -> None:
    from faultlab.reporting.protocol import describe_protocol

    p = describe_protocol(kind, rule, leaky=leaky, dataset=dataset)
    assert (p.label, p.warning) == (label, warning)
    assert phrase in p.text
    assert ("CWRU" in p.text) == (
        dataset == "cwru" and label != "leaky" and label != "held-out size"
    )
