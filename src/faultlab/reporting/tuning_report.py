"""The tuning report: best configuration, trial history, importances, default vs tuned.

Rendered from ``OUT/tuning.json`` and ``OUT/<model>/trials.csv`` only (not the study
storage), so a report can be rebuilt anywhere. Markdown links PNGs in ``OUT/plots``; the
HTML embeds them as base64 so it is one self-contained file.
"""

from __future__ import annotations

import base64
import html
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from faultlab.contracts import (
    METRICS,
    PLOTS,
    TRIALS,
    TUNING_REPORT_HTML,
    TUNING_REPORT_MD,
    TUNING_SUMMARY,
)
from faultlab.errors import ConfigError
from faultlab.utils.io import write_text


def _fmt(v: Any, digits: int = 4) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float):
        if math.isnan(v):
            return "-"
        if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e5):
            return f"{v:.3g}"
        return f"{v:.{digits}f}".rstrip("0").rstrip(".") if digits else f"{v:.0f}"
    return str(v)


def _history_plot(trials: pd.DataFrame, path: Path, title: str) -> Path | None:
    from faultlab.reporting.plots import plt, save

    if trials.empty:
        return None
    fig, ax = plt.subplots(figsize=(7, 3.6))
    done = trials.loc[trials["state"] == "COMPLETE"]
    pruned = trials.loc[trials["state"] == "PRUNED"]
    ax.scatter(done["number"], done["value"], s=22, label="finished trial", color="tab:blue")
    if not pruned.empty:
        ymin = done["value"].min() if not done.empty else 0.0
        ax.scatter(
            pruned["number"],
            [ymin] * len(pruned),
            marker="x",
            s=22,
            color="tab:gray",
            label="pruned (plotted at the lowest score)",
        )
    if not done.empty:
        best = done.sort_values("number")["value"].cummax()
        ax.step(
            done.sort_values("number")["number"],
            best,
            where="post",
            color="tab:red",
            label="best so far",
        )
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("trial")
    ax.set_ylabel("objective")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=3, frameon=False)
    return save(fig, path)


def _importance_plot(imp: dict[str, float], path: Path, title: str) -> Path | None:
    from faultlab.reporting.plots import plt, save

    if not imp:
        return None
    names = list(imp)[::-1]
    fig, ax = plt.subplots(figsize=(6, 0.4 * len(names) + 1.2))
    ax.barh(names, [imp[n] for n in names], color="tab:green")
    ax.set_xlabel("importance (optuna default evaluator, normalised)")
    ax.set_title(title)
    return save(fig, path)


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_fmt(c) for c in r) + " |" for r in rows]
    return lines


#: Before/after rows: (summary key, label, format).
_ROWS = [
    ("val_accuracy", "validation accuracy (held-out training recordings)", "{:.4f}"),
    ("test_accuracy", "test accuracy", "{:.4f}"),
    ("test_macro_f1", "test macro F1", "{:.4f}"),
    ("train_seconds", "training time (s)", "{:.1f}"),
    ("epochs", "epochs trained", "{:.0f}"),
    ("n_params", "parameters", "{:,.0f}"),
    ("latency_ms_batch1", "latency, batch 1 (ms, best of seeds)", "{:.3g}"),
]


def before_after_rows(m: dict[str, Any], formatted: bool = False) -> list[list[Any]]:
    """[label, default, tuned, change] per row; ``formatted`` gives display strings."""
    d, t = m["default"], m["tuned"]
    rows = []
    for key, name, fmt in _ROWS:
        a, b = d.get(key), t.get(key)
        try:
            delta = float(b) - float(a)
        except (TypeError, ValueError):
            delta = None
        if formatted:

            def f(v: Any, sign: bool = False, fmt: str = fmt) -> str:
                if v is None or (isinstance(v, float) and math.isnan(v)):
                    return "-"
                return (fmt.replace("{:", "{:+") if sign else fmt).format(float(v))

            rows.append([name, f(a), f(b), f(delta, sign=True)])
        else:
            rows.append([name, a, b, delta])
    return rows


def _stop_reasons(kind_dir: Path) -> list[str]:
    """stopped_reason of each seed's run (older tuning.json files do not carry it)."""
    out = []
    for metrics in sorted(kind_dir.glob(f"seed-*/{METRICS}")):
        out.append(json.loads(metrics.read_text()).get("training", {}).get("stopped_reason", "?"))
    return out


def _config_rows(m: dict[str, Any]) -> list[list[Any]]:
    rows = []
    dtrain = m.get("default_training", {})
    for key, value in m["best"]["params"].items():
        name = key.split(".", 1)[-1]
        default = m["default_params"].get(name, dtrain.get(name))
        rows.append([key, default, value])
    return rows


def read_summary(out: str | Path) -> dict[str, Any]:
    """``OUT/tuning.json``, what ``faultlab tune`` wrote (the report's only input)."""
    path = Path(out) / TUNING_SUMMARY
    if not path.exists():
        raise ConfigError(f"{path}: missing (is {out} a faultlab tune output directory?)")
    return json.loads(path.read_text())


def render_tuning_report(out: str | Path) -> tuple[Path, Path]:
    """Write ``OUT/tuning_report.md`` and the self-contained ``OUT/tuning_report.html``."""
    out = Path(out)
    s = read_summary(out)
    md = _header(s)
    images: dict[str, Path] = {}
    for m in s["models"]:
        md += _model_section(out, m, images)
    text = "\n".join(md)
    md_path = write_text(out / TUNING_REPORT_MD, text)
    html_path = write_text(out / TUNING_REPORT_HTML, _to_html(text, images))
    return md_path, html_path


def _header(s: dict[str, Any]) -> list[str]:
    obj = s["objective"]
    tw = obj.get("time_weight", 0)
    return [
        "# Tuning report",
        "",
        f"- config: `{s['config']}`; storage: `{s['storage']}`; executor: {s['executor']} "
        f"({s['workers']} worker(s) per study)",
        f"- objective (maximised): {obj['metric']}"
        + (f" - {tw:g} x training minutes" if tw else "")
        + f"; sampler {s['sampler']}; pruner {s['pruner']['kind']} (per-epoch validation accuracy)",
        f"- search budget: {_fmt(s['budget_s'])} s per model; trial cap: {_fmt(s['n_trials'])}",
        "- trials score on **validation recordings**: whole training recordings held out per class. "
        "The test fold is used only after the search, once for the default and once for the "
        "tuned configuration. The tuned model's validation score was *selected* on those "
        "recordings, so it is optimistic; the test column is the fair comparison.",
        *[f"- note: {n}" for n in s.get("notes", [])],
        "",
    ]


def _model_section(out: Path, m: dict[str, Any], images: dict[str, Path]) -> list[str]:
    """One model's study: before/after, how fits ended, best config, trials, importances."""
    label = m["label"]
    slug = Path(m["dir"]).name
    trials_path = out / slug / TRIALS
    trials = pd.read_csv(trials_path) if trials_path.exists() else pd.DataFrame()
    counts = ", ".join(f"{v} {k.lower()}" for k, v in m["trials"].items())
    md = [
        f"## {label}",
        "",
        f"Study `{m['study']}`: {m['n_trials_total']} trials ({counts}) in "
        f"{m.get('study_span_seconds') or m['search_seconds']:.0f} s of wall clock; "
        f"tuning fold `{m['fold']}`.",
        "",
        "### Before / after",
        "",
        *_table(["", "default", "tuned", "change"], before_after_rows(m, formatted=True)),
        "",
    ]
    md += _final_fits(out / slug, m)
    attrs = m["best"].get("attrs", {})
    md += [
        f"### Best configuration (trial {m['best']['number']}, objective {_fmt(m['best']['value'])}, "
        f"validation accuracy {_fmt(attrs.get('val_accuracy'))}, {_fmt(attrs.get('train_seconds'), 1)} s)",
        "",
        *_table(["key", "default", "tuned"], _config_rows(m)),
        "",
    ]
    plots = out / PLOTS
    hist = _history_plot(trials, plots / f"{slug}-history.png", f"{label}: objective per trial")
    md += ["### Trial history", ""]
    if hist:
        images[hist.name] = hist
        md += [f"![trial history](plots/{hist.name})", ""]
    md += _trials_table(trials)
    md += _importances(m, plots / f"{slug}-importance.png", images)
    md += [
        f"Run directories: `{slug}/default/` and `{slug}/tuned-trial-{m['best']['number']}/` "
        "(each with its own report).",
        "",
    ]
    return md


def _final_fits(runs_dir: Path, m: dict[str, Any]) -> list[str]:
    """How the final fits ended, and accuracies per seed when there are several."""
    md: list[str] = []
    stops = []
    for kind, sub in (("default", "default"), ("tuned", f"tuned-trial-{m['best']['number']}")):
        reasons = m[kind].get("stopped_reason") or _stop_reasons(runs_dir / sub)
        if reasons:
            stops.append(f"{kind}: {', '.join(str(r) for r in reasons)}")
    if stops:
        md += [f"How the final fits ended (per seed) - {'; '.join(stops)}.", ""]
    for key, what in (
        ("val_accuracy_per_seed", "Validation"),
        ("test_accuracy_per_seed", "Test"),
    ):
        seeds_d, seeds_t = m["default"].get(key, []), m["tuned"].get(key, [])
        if len(seeds_d) > 1:
            md += [
                f"{what} accuracy per seed: default {', '.join(_fmt(v) for v in seeds_d)}; "
                f"tuned {', '.join(_fmt(v) for v in seeds_t)}.",
                "",
            ]
    return md


def _trials_table(trials: pd.DataFrame) -> list[str]:
    if trials.empty:
        return []
    cols = ["number", "state", "value", "seconds", "last_epoch"] + [
        c for c in trials.columns if c.startswith("params_")
    ]
    show = trials.loc[:, [c for c in cols if c in trials.columns]].sort_values("number").copy()
    if "seconds" in show:
        show["seconds"] = show["seconds"].round(1)
    md = [
        "`value` is the objective of finished trials; for pruned ones it is the last "
        "validation accuracy reported before pruning.",
        "",
    ]
    md += _table(
        [c.removeprefix("params_") for c in show.columns],
        show.astype(object).where(show.notna(), None).values.tolist(),
    )
    return md + [""]


def _importances(m: dict[str, Any], png: Path, images: dict[str, Path]) -> list[str]:
    md = ["### Parameter importances", ""]
    if not m["importances"]:
        return md + [f"Not computed: {m.get('importances_note') or 'too few trials'}.", ""]
    imp_png = _importance_plot(m["importances"], png, f"{m['label']}: importances")
    if imp_png:
        images[imp_png.name] = imp_png
        md += [f"![importances](plots/{imp_png.name})", ""]
    return (
        md
        + _table(["parameter", "importance"], [[k, v] for k, v in m["importances"].items()])
        + [""]
    )


def _inline(text: str) -> str:
    import re

    t = html.escape(text)
    t = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", t)
    t = re.sub(r"\*(.+?)\*", r"<i>\1</i>", t)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", t)


def _to_html(md: str, images: dict[str, Path]) -> str:
    """The small Markdown subset this report uses -> HTML with images embedded (base64)."""
    out = [
        "<!doctype html><html><head><meta charset='utf-8'><title>Tuning report</title><style>",
        "body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em}"
        "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 8px;"
        "text-align:right}td:first-child,th:first-child{text-align:left}img{max-width:100%}"
        "code{background:#f3f3f3;padding:0 3px}",
        "</style></head><body>",
    ]
    lines = md.splitlines()
    i = 0
    in_list = False
    while i < len(lines):
        line = lines[i]
        if line.startswith("- ") and not in_list:
            out.append("<ul>")
            in_list = True
        if in_list and not line.startswith("- "):
            out.append("</ul>")
            in_list = False
        if line.startswith("|"):
            rows = []
            while i < len(lines) and lines[i].startswith("|"):
                rows.append([c.strip() for c in lines[i].strip("|").split("|")])
                i += 1
            out.append("<table><tr>" + "".join(f"<th>{_inline(c)}</th>" for c in rows[0]) + "</tr>")
            for r in rows[2:]:
                out.append("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in r) + "</tr>")
            out.append("</table>")
            continue
        if line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            out.append(f"<h{level}>{_inline(line[level:].strip())}</h{level}>")
        elif line.startswith("!["):
            name = line[line.index("(") + 1 : line.rindex(")")].split("/")[-1]
            if name in images:
                data = base64.b64encode(images[name].read_bytes()).decode()
                out.append(
                    f"<p><img alt='{html.escape(name)}' src='data:image/png;base64,{data}'></p>"
                )
        elif line.startswith("- "):
            out.append(f"<li>{_inline(line[2:])}</li>")
        elif line.strip():
            out.append(f"<p>{_inline(line)}</p>")
        i += 1
    if in_list:
        out.append("</ul>")
    out.append("</body></html>")
    return "\n".join(out)
