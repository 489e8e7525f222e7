"""Evidence plots: the squared envelope spectrum on the order axis with the bearing's defect
lines (BPFO, BPFI, BSF and harmonics; shaft) marked, per class in run reports and per
recording in ``faultlab predict --evidence DIR``. Analysts read these to check a verdict.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from faultlab.reporting.plots import plt, save

#: Line colours per defect family (harmonics drawn dashed).
COLOURS = {"BPFO": "tab:red", "BPFI": "tab:blue", "BSF": "tab:green", "shaft": "tab:gray"}


def _mark_lines(ax, defect_orders: dict[str, float], max_order: float, harmonics: int = 4) -> None:
    for fam, colour in COLOURS.items():
        base = defect_orders.get(fam)
        if not base:
            continue
        mult = 2 if fam == "BSF" else 1  # a ball spot strikes at 2 x BSF
        for k in range(1, harmonics + 1):
            o = base * k * mult if fam != "shaft" else float(k)
            if o <= max_order:
                ax.axvline(
                    o,
                    color=colour,
                    lw=1.0 if k == 1 else 0.7,
                    ls="-" if k == 1 else "--",
                    alpha=0.8,
                    label=(f"{'2x' if fam == 'BSF' else ''}{fam} x k" if k == 1 else None),
                )


def order_spectra_plot(evidence: dict[str, Any], path: Path, title: str = "") -> Path | None:
    """One panel per class: mean squared envelope spectrum (times the floor) vs order."""
    classes = evidence.get("classes") or {}
    if not classes or not evidence.get("orders"):
        return None
    orders = np.asarray(evidence["orders"])
    fig, axes = plt.subplots(
        len(classes), 1, figsize=(8, 1.9 * len(classes) + 0.6), sharex=True, squeeze=False
    )
    for ax, (name, c) in zip(axes[:, 0], classes.items()):
        ax.plot(orders, c["spectrum"], color="black", lw=0.9)
        _mark_lines(ax, evidence.get("defect_orders", {}), float(orders.max()))
        ax.set_ylabel(f"{name}\n(n={c.get('n_windows', '?')})")
        ax.axhline(1.0, color="0.6", lw=0.6, ls=":")
    axes[0, 0].legend(loc="upper right", fontsize=7, ncol=4)
    axes[-1, 0].set_xlabel(f"order (x shaft speed); bearing {evidence.get('bearing', '?')}")
    fig.suptitle(
        title or "squared envelope spectrum (times the floor), mean per class", fontsize=10
    )
    return save(fig, path)


def recording_evidence_plot(rp: Any, folder: str | Path) -> Path | None:
    """``folder/<file>_evidence.png`` for one predicted recording (front-end runs only)."""
    spec = getattr(rp.prepared, "order_spectrum", None)
    if not spec:
        return None
    verdict = ", ".join(f"{t}: {v.prediction} ({v.confidence:.2f})" for t, v in rp.verdicts.items())
    name = Path(rp.name).stem
    evidence = {
        "orders": spec["orders"],
        "bearing": spec.get("bearing"),
        "defect_orders": spec.get("defect_orders", {}),
        "classes": {name: {"spectrum": spec["spectrum"], "n_windows": rp.n_windows}},
    }
    title = f"{name}: {verdict}; shaft {rp.prepared.rpm:.0f} rpm ({rp.prepared.rpm_source})"
    Path(folder).mkdir(parents=True, exist_ok=True)
    return order_spectra_plot(evidence, Path(folder) / f"{name}_evidence.png", title)
