"""Per-run report (``report.md`` + self-contained ``report.html`` + ``plots/``) from saved artefacts.

Everything comes from the run directory (metrics.json, split.json, summary.json, history.csv,
config.yaml), so ``faultlab report RUN_DIR`` re-renders a report long after training, and every
number printed is the number stored in metrics.json, formatted by :mod:`.document`.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

import faultlab.reporting.plots as plots
from faultlab.contracts import (
    CONFIG,
    EVIDENCE,
    METRICS,
    PLOTS,
    REPORT_HTML,
    REPORT_MD,
    SPLIT,
    SUMMARY,
    DataSummary,
    Metrics,
    RunSummary,
    read_history,
)
from faultlab.errors import FaultlabError
from faultlab.evaluation.diagnosis import diagnose_fit, speed_recommendations
from faultlab.reporting.document import (
    Bullets,
    Callout,
    Document,
    Heading,
    Image,
    Para,
    Table,
    fmt,
    fmt_bytes,
    fmt_int,
    fmt_ms,
    fmt_s,
    write_document,
)
from faultlab.reporting.protocol import describe_protocol

PRETTY = {
    "mlp": "MLP",
    "cnn1d": "CNN-1D",
    "resnet1d": "ResNet-1D",
    "tcn": "TCN",
    "lstm": "LSTM",
    "gru": "GRU",
    "transformer": "Transformer",
    "inception": "InceptionTime",
    "rf": "Random Forest",
    "svm": "SVM",
    "hist_gb": "Histogram Gradient Boosting",
    "minirocket": "MiniRocket",
}

TASK_METRICS = [
    ("accuracy", "accuracy"),
    ("balanced_accuracy", "balanced accuracy"),
    ("macro_precision", "macro precision"),
    ("macro_recall", "macro recall"),
    ("macro_f1", "macro F1"),
    ("weighted_precision", "weighted precision"),
    ("weighted_recall", "weighted recall"),
    ("weighted_f1", "weighted F1"),
    ("roc_auc_ovr_macro", "ROC-AUC (macro OvR)"),
    ("log_loss", "log loss"),
]


def _read_json(path: Path, required: bool = False) -> dict[str, Any]:
    if not path.exists():
        if required:
            raise FaultlabError(f"{path}: not found (is this a finished run directory?)")
        return {}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise FaultlabError(f"{path}: invalid JSON ({exc.msg} at line {exc.lineno})") from None
    except ValueError:  # not UTF-8 text
        raise FaultlabError(f"{path}: not a JSON text file") from None


def load_run(run_dir: str | Path) -> dict[str, Any]:
    """All artefacts of a run directory (metrics.json is required)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FaultlabError(f"{run_dir}: not a directory")
    config: dict[str, Any] = {}
    cfg_path = run_dir / CONFIG
    if cfg_path.exists():
        try:
            config = yaml.safe_load(cfg_path.read_text()) or {}
        except (yaml.YAMLError, ValueError):  # ValueError: not UTF-8
            raise FaultlabError(f"{cfg_path}: invalid YAML") from None
        if not isinstance(config, dict):
            raise FaultlabError(f"{cfg_path}: not a mapping")
    return {
        "metrics": Metrics.from_json(_read_json(run_dir / METRICS, required=True)),
        "split": _read_json(run_dir / SPLIT),
        "summary": _read_json(run_dir / SUMMARY),
        "history": read_history(run_dir),
        "config": config,
    }


def _title(run: RunSummary) -> str:
    label = run.label if run.model_label or run.model else "Model"
    return f"{PRETTY.get(label, label)} Model Training Report"


def run_protocol(metrics: Metrics, split: dict[str, Any], config: dict[str, Any]):
    run = metrics.run
    rule = split.get("rule") or config.get("split") or {}
    dataset = (config.get("data") or {}).get("dataset")
    return describe_protocol(
        split.get("kind") or run.split_kind or rule.get("kind"),
        rule,
        leaky=bool(split.get("leaky", run.leaky)),
        dataset=dataset,
        validation=split.get("validation") or run.validation or None,
    )


def _glance(doc: Document, art: dict[str, Any]) -> None:
    m: Metrics = art["metrics"]
    prim, sp, mm, tr, diag = m.primary, m.speed, m.model, m.training, m.diagnosis
    doc.add(
        Table(
            [
                "test accuracy",
                "macro F1",
                "recording accuracy",
                "parameters",
                "ms/window (batch 1)",
                "train s",
                "fit",
            ],
            [
                [
                    fmt(prim.accuracy),
                    fmt(prim.macro_f1),
                    fmt(prim.recording_accuracy),
                    fmt_int(mm.n_params),
                    fmt_ms(sp.latency_ms_batch1),
                    fmt_s(tr.train_seconds),
                    diag.get("verdict", "–"),
                ]
            ],
            caption=f"At a glance (primary task {prim.task}, test set)",
        )
    )


def _description(doc: Document, art: dict[str, Any]) -> None:
    m: Metrics = art["metrics"]
    split, config, summary = art["split"], art["config"], art["summary"]
    run, data = m.run, m.data
    data_cfg = config.get("data") or {}
    model_name = run.model or "?"
    family = m.model.family or summary.get("family", "?")
    tasks = run.tasks or list(m.tasks)
    proto = run_protocol(m, split, config)
    doc.add(Heading("Description"))
    doc.add(
        Para(
            f"Model {run.model_label or model_name} (registry name {model_name}, family "
            f"{family}) trained on dataset {data_cfg.get('dataset', '?')} with target "
            f"{run.target or '?'} (tasks: {', '.join(tasks)}). Windows of "
            f"{data.window or data_cfg.get('window', '?')} samples at "
            f"{fmt(data.sampling_rate, 0)} Hz. Split {split.get('name') or run.fold or '?'} "
            f"(kind {split.get('kind') or run.split_kind or '?'}, protocol "
            f"{run.protocol or proto.label}), seed {'?' if run.seed is None else run.seed}."
        )
    )
    doc.add(Callout(f"{proto.title}. {proto.text}", "warning" if proto.warning else "info"))
    ad = run.adaptation
    if ad:
        doc.add(Callout(_adaptation_text(ad), "warning" if ad.get("transductive") else "info"))
    n_win = data.n_windows or split.get("n_windows") or {}
    recs = split.get("recordings") or {}
    rows = [
        [
            role,
            fmt_int(n_win.get(role)),
            fmt_int(len(recs[role])) if role in recs else "–",
            ", ".join(recs.get(role, [])[:12]) + (" ..." if len(recs.get(role, [])) > 12 else ""),
        ]
        for role in ("train", "val", "test", "adapt")
        if role != "adapt" or n_win.get("adapt")
    ]
    doc.add(
        Table(["role", "windows", "recordings", "recording ids"], rows, caption="Data per role")
    )
    notes = list(
        dict.fromkeys(
            [
                *split.get("notes", []),
                *data.notes,
                *m.training.notes,
            ]
        )
    )
    if notes:
        doc.add(Para("Notes (compromises this run makes):"), Bullets(notes))


def _either(value: Any, fallback: Any) -> Any:
    """``value`` unless the run did not store it (older runs: the summary's)."""
    return fallback if value is None else value


def _adaptation_text(ad: dict[str, Any]) -> str:
    """Domain adaptation, target role and model selection, in one sentence."""
    sel = {
        "last": "the last epoch",
        "source_val": "the best source-validation loss",
        "target_entropy": "the lowest target prediction entropy (no target label)",
    }
    role = {
        "none": "no adaptation windows",
        "blocks": "the first part of each target recording (contiguous block; the rest tests)",
        "recordings": "whole target recordings held apart from the test recordings",
        "transductive": "the TEST windows themselves (transductive)",
    }
    return (
        f"Domain adaptation: {ad.get('method', 'none')} (weight {ad.get('weight', 1)}); "
        f"{fmt_int(ad.get('n_adapt', 0))} unlabelled adaptation windows from "
        f"{role.get(ad.get('target_role', 'none'), ad.get('target_role'))}, their labels never "
        f"read. Weights selected at {sel.get(str(ad.get('selection')), ad.get('selection'))}; "
        "never on target accuracy."
    )


def _architecture(doc: Document, art: dict[str, Any], plot_dir: Path) -> None:
    summary, mm = art["summary"], art["metrics"].model
    doc.add(Heading("Architecture"))
    layers = summary.get("layers") or []
    if layers:
        _layer_tables(doc, layers, plot_dir)
    elif summary.get("text"):
        doc.add(Para(summary["text"]))
    else:
        doc.add(Para("No layer table: this model has no layered structure to list."))
    doc.add(Heading("Complexity", 3))
    size = mm.size_bytes if mm.size_bytes is not None else summary.get("size_bytes")
    doc.add(
        Table(
            ["quantity", "value"],
            [
                ["total parameters", fmt_int(_either(mm.n_params, summary.get("n_params")))],
                [
                    "trainable parameters",
                    fmt_int(_either(mm.trainable_params, summary.get("trainable_params"))),
                ],
                ["model memory", fmt_bytes(size)],
                ["model size (bytes)", fmt_int(size)],
            ],
        )
    )


def _layer_tables(doc: Document, layers: list[dict[str, Any]], plot_dir: Path) -> None:
    """The layer table, the layer-type distribution (leaf layers) and its bar chart."""
    depths = [int(lay.get("depth") or 1) for lay in layers]
    # a row is a leaf unless the next row is nested inside it (torchinfo depth order);
    # only leaves count in the distribution, so container params are not counted twice
    leaf = [i + 1 == len(depths) or depths[i + 1] <= depths[i] for i in range(len(depths))]
    rows = [
        [
            "\u00a0\u00a0" * (d - 1) + str(lay.get("name", "")),
            lay.get("type", ""),
            str(lay.get("output_shape", "")),
            fmt_int(lay.get("params")),
        ]
        for lay, d in zip(layers, depths)
    ]
    doc.add(Table(["layer", "type", "output shape", "params"], rows))
    counts: Counter[str] = Counter()
    params: Counter[str] = Counter()
    for lay in (lay for lay, is_leaf in zip(layers, leaf) if is_leaf):
        counts[str(lay.get("type", "?"))] += 1
        params[str(lay.get("type", "?"))] += int(lay.get("params") or 0)
    total = sum(params.values()) or 1
    dist = sorted(counts, key=lambda t: (-params[t], -counts[t]))
    doc.add(
        Table(
            ["layer type", "count", "params", "share of params"],
            [[t, counts[t], fmt_int(params[t]), f"{100 * params[t] / total:.1f} %"] for t in dist],
            caption="Layer-type distribution (leaf layers)",
        )
    )
    by_params = sum(params.values()) > 0
    p = plots.bar(
        dist,
        [params[t] if by_params else counts[t] for t in dist],
        "parameters per layer type" if by_params else "layers per type",
        "parameters" if by_params else "count",
        plot_dir / "layer_types.png",
    )
    doc.add(Image(p, f"plots/{p.name}", "layer-type distribution"))


def _training(doc: Document, art: dict[str, Any]) -> None:
    m: Metrics = art["metrics"]
    config = art["config"]
    tr = m.training
    tcfg = {**(config.get("training") or {}), **((config.get("model") or {}).get("training") or {})}
    stored = {k: getattr(tr, k) for k in ("optimizer", "lr", "batch_size", "schedule")}
    tcfg.update({k: v for k, v in stored.items() if v is not None})
    if not art["history"]:  # one-shot models (forests, MiniRocket) ignore the optimiser settings
        tcfg = {k: "not used (one-shot fit)" for k in tcfg}
    doc.add(Heading("Training details"))
    doc.add(
        Table(
            ["item", "value"],
            [
                ["device", tr.device or "–"],
                ["epochs run", fmt_int(tr.epochs)],
                ["best epoch", fmt_int(tr.best_epoch)],
                ["stopped because", tr.stopped_reason or "–"],
                ["train wall time (s)", fmt_s(tr.train_seconds)],
                ["seconds per epoch", fmt_s(tr.seconds_per_epoch)],
                ["optimiser", tcfg.get("optimizer", "–")],
                ["learning rate", tcfg.get("lr", "–")],
                ["schedule", tcfg.get("schedule", "–")],
                ["batch size", tcfg.get("batch_size", "–")],
                ["weight decay", tcfg.get("weight_decay", "–")],
                ["early-stopping patience", tcfg.get("patience", "–")],
            ],
        )
    )
    final, best = tr.final, tr.best
    if final or best:
        keys = [k for k in dict.fromkeys([*final, *best]) if k != "epoch"]
        doc.add(Heading("Final and best epoch", 3))
        doc.add(
            Table(
                [
                    "metric",
                    f"final (epoch {fmt_int(final.get('epoch'))})",
                    f"best (epoch {fmt_int(best.get('epoch'))})",
                ],
                [[k, fmt(final.get(k)), fmt(best.get(k))] for k in keys],
            )
        )


def _test_metrics(doc: Document, art: dict[str, Any], plot_dir: Path) -> None:
    """Window-level metrics, per-class reports, recording-level votes, confusion matrices."""
    m: Metrics = art["metrics"]
    tasks = m.tasks
    _window_metrics(doc, m, tasks)
    _recording_metrics(doc, tasks)
    _confusion_matrices(doc, tasks, plot_dir)


def _window_metrics(doc: Document, m: Metrics, tasks: dict[str, Any]) -> None:
    doc.add(Heading("Test metrics"))
    prim = m.primary
    doc.add(
        Para(
            f"Primary task {prim.task}: accuracy {fmt(prim.accuracy)}, balanced "
            f"accuracy {fmt(prim.balanced_accuracy)}, macro F1 {fmt(prim.macro_f1)}, "
            f"recording-level accuracy {fmt(prim.recording_accuracy)}."
        )
    )
    names = list(tasks)
    doc.add(
        Table(
            ["metric", *names],
            [["windows (n)", *[fmt_int(tasks[t].get("n")) for t in names]]]
            + [[label, *[fmt(tasks[t].get(key)) for t in names]] for key, label in TASK_METRICS],
            caption="Window-level test metrics per task",
        )
    )
    val = m.val.get("tasks") or {}
    if val:
        doc.add(
            Table(
                ["task", "val accuracy", "val macro F1", "val recording accuracy"],
                [
                    [
                        t,
                        fmt(v.get("accuracy")),
                        fmt(v.get("macro_f1")),
                        fmt((v.get("recording") or {}).get("majority_accuracy")),
                    ]
                    for t, v in val.items()
                ],
                caption="Validation metrics (windows carved from the training side)",
            )
        )
    for t in names:
        _per_class(doc, t, tasks[t].get("per_class") or {})


def _per_class(doc: Document, t: str, pc: dict[str, Any]) -> None:
    rows = [
        [
            c,
            fmt(v.get("precision")),
            fmt(v.get("recall")),
            fmt(v.get("f1-score")),
            fmt_int(v.get("support")),
        ]
        for c, v in pc.items()
        if isinstance(v, dict) and c not in ("macro avg", "weighted avg", "micro avg")
    ]
    if rows:
        doc.add(
            Table(
                ["class", "precision", "recall", "F1", "support"],
                rows,
                caption=f"Per-class report, task {t}",
            )
        )


def _recording_metrics(doc: Document, tasks: dict[str, Any]) -> None:
    names = list(tasks)
    doc.add(Heading("Recording-level accuracy"))
    doc.add(
        Para(
            "One decision per recording: the majority vote of its windows, and the argmax of "
            "their mean probability; this is what a maintenance decision is taken on."
        )
    )
    rows = []
    for t in names:
        r = tasks[t].get("recording") or {}
        rows.append(
            [
                t,
                fmt_int(r.get("n_recordings")),
                fmt(tasks[t].get("accuracy")),
                fmt(r.get("majority_accuracy")),
                fmt(r.get("mean_proba_accuracy")),
            ]
        )
    doc.add(
        Table(["task", "recordings", "window accuracy", "majority vote", "mean probability"], rows)
    )
    for t in names:
        _per_recording(doc, t, tasks[t])


def _per_recording(doc: Document, t: str, task: dict[str, Any]) -> None:
    per = (task.get("recording") or {}).get("per_recording") or []
    cls = task.get("classes") or []

    def name(i: int) -> str:
        return cls[i] if 0 <= i < len(cls) else str(i)

    if per:
        doc.add(
            Table(
                [
                    "recording",
                    "true",
                    "majority vote",
                    "mean probability",
                    "windows",
                    "window accuracy",
                ],
                [
                    [
                        p["recording_id"],
                        name(p["true"]),
                        name(p["majority"]),
                        name(p["mean_proba"]),
                        fmt_int(p["n_windows"]),
                        fmt(p["window_accuracy"]),
                    ]
                    for p in per
                ],
                caption=f"Per test recording, task {t}",
            )
        )


def _confusion_matrices(doc: Document, tasks: dict[str, Any], plot_dir: Path) -> None:
    doc.add(Heading("Confusion matrices"))
    for t in tasks:
        cm = tasks[t].get("confusion_matrix")
        if not cm:
            continue
        labels = tasks[t].get("confusion_labels") or tasks[t].get("classes") or []
        p = plots.confusion_matrix(
            cm, labels, f"test confusion matrix: {t}", plot_dir / f"confusion_{t}.png"
        )
        doc.add(
            Image(
                p,
                f"plots/{p.name}",
                f"confusion matrix {t}",
                caption=f"Task {t}: counts; colour = fraction of the true class",
            )
        )


def _speed(doc: Document, art: dict[str, Any]) -> None:
    m: Metrics = art["metrics"]
    sp, more = m.speed, m.speed.extra
    doc.add(Heading("Speed and resources"))
    doc.add(
        Table(
            ["quantity", "value"],
            [
                ["latency per window, batch 1 (ms, median)", fmt_ms(sp.latency_ms_batch1)],
                [
                    "latency per window, batch 1 (ms, p90)",
                    fmt_ms(more.get("latency_ms_batch1_p90")),
                ],
                [
                    f"latency per window, batch {more.get('batch_size', '?')} (ms, median)",
                    fmt_ms(sp.latency_ms_batched),
                ],
                ["throughput, batched (windows/s)", fmt(sp.throughput_windows_s, 1)],
                ["inference threads", fmt(more.get("threads"))],
                ["peak RAM of the run (MiB)", fmt(m.peak_rss_mb, 1)],
            ],
        )
    )


def _diagnosis(doc: Document, art: dict[str, Any], plot_dir: Path) -> None:
    m: Metrics = art["metrics"]
    history = art["history"]
    doc.add(Heading("Learning curves"))
    p = plots.learning_curves(history, plot_dir / "learning_curves.png")
    if p is not None:
        doc.add(
            Image(
                p,
                f"plots/{p.name}",
                "learning curves",
                caption="Loss and accuracy per epoch, training vs validation",
            )
        )
    else:
        doc.add(Para("No per-epoch history: this model is fitted in one shot."))
    speed, training = m.speed.to_json(), m.training.to_json()
    diag = m.diagnosis or diagnose_fit(history, speed=speed, training=training)
    doc.add(Heading("Fit diagnosis"))
    doc.add(
        Para(
            f"Verdict: {diag.get('verdict', '–')}."
            + (f" ({diag['reason']})" if diag.get("reason") else "")
        )
    )
    doc.add(Para(f"Rule: {diag.get('rule', '–')}"))
    cmp = diag.get("comparison")
    if cmp:
        doc.add(
            Callout(
                f"What was measured: {cmp['text']}. Validation accuracy {fmt(cmp.get('val_accuracy'))}, "
                f"test accuracy {fmt(cmp.get('test_accuracy'))}.",
                "info" if cmp.get("comparable") and not cmp.get("shift_gap") else "warning",
            )
        )
    ev = diag.get("evidence") or {}
    if ev:
        doc.add(Table(["evidence", "value"], [[k, fmt(v)] for k, v in ev.items()]))
    recs = list(diag.get("recommendations") or [])
    if not diag.get("speed_checked"):
        recs += speed_recommendations(speed, training)
    doc.add(Heading("Recommendations"))
    doc.add(Bullets(recs or ["none"]))


def _evidence(doc: Document, run_dir: Path, art: dict[str, Any], plot_dir: Path) -> None:
    """Physics evidence: shaft-speed source, front end, mean envelope spectrum per class."""
    from faultlab.reporting.evidence import order_spectra_plot

    data: DataSummary = art["metrics"].data
    ev = _read_json(run_dir / EVIDENCE)
    if not ev and not data.rpm_source:
        return
    doc.add(Heading("Envelope evidence"))
    src = data.rpm_source
    if src:
        doc.add(
            Para(
                "Shaft speed per recording came from: "
                + ", ".join(f"{k} ({v} recordings)" for k, v in src.items())
                + "."
            )
        )
    if data.frontend:
        fe = data.frontend
        doc.add(
            Para(
                f"Model input: order-domain squared envelope spectrum ({fe.get('axis')} axis, "
                f"band {fe.get('band')}), replayed from preprocess.json by predict/serve."
            )
        )
    p = order_spectra_plot(ev, plot_dir / "envelope_evidence.png") if ev else None
    if p is not None:
        doc.add(
            Image(
                p,
                f"plots/{p.name}",
                "envelope evidence",
                caption="Mean squared envelope spectrum of each class's test windows "
                "(cepstral pre-whitening, order axis, 1 = the floor) with the bearing's "
                "BPFO / BPFI / 2xBSF lines and harmonics marked",
            )
        )


def build_run_document(run_dir: Path, art: dict[str, Any] | None = None) -> Document:
    run_dir = Path(run_dir)
    art = art or load_run(run_dir)
    plot_dir = run_dir / PLOTS
    plot_dir.mkdir(parents=True, exist_ok=True)
    run: RunSummary = art["metrics"].run
    doc = Document(_title(run))
    doc.add(Para(f"Run {run.name or run_dir.name} - created {run.created or '?'}."))
    _glance(doc, art)
    _description(doc, art)
    _architecture(doc, art, plot_dir)
    _training(doc, art)
    _test_metrics(doc, art, plot_dir)
    _evidence(doc, run_dir, art, plot_dir)
    _speed(doc, art)
    _diagnosis(doc, art, plot_dir)
    return doc


def render_run_report(run_dir: str | Path) -> dict[str, Path]:
    """Write ``report.md``, ``report.html`` and ``plots/*.png`` from the run's artefacts."""
    run_dir = Path(run_dir)
    art = load_run(run_dir)
    doc = build_run_document(run_dir, art)
    paths = write_document(doc, run_dir / REPORT_MD, run_dir / REPORT_HTML)
    paths["plots"] = run_dir / PLOTS
    return paths
