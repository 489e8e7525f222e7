"""What a split protocol actually tests, stated plainly for reports and leaderboards.

The same accuracy means very different things under a leaky window split, a CWRU load split
and a held-out fault size; every report says which one it is and how far to trust it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CONDITION_COLUMNS = {"load_hp", "rpm", "motor_rpm_nominal", "sampling_rate_hz", "sensor_end"}
SIZE_COLUMNS = {"fault_diameter_in", "size"}


MFPT_CAVEAT = (
    " MFPT caveat: each fault class is ONE physical bearing (one inner-race, one outer-race "
    "bearing) recorded at several loads, so held-out recordings share their bearing with "
    "training ones; and each class's recordings carry their own sensor offset (DC level: "
    "-0.23 inner race vs -0.19 outer race on the shared files) and level, cues unrelated to "
    "the fault that alone separate the classes. A high within-MFPT score is mild evidence."
)


@dataclass
class Protocol:
    label: str  # short: leaky | condition | held-out size | recording | grouped k-fold | ...
    title: str  # one line for a heading
    text: str  # what it tests and how much to trust it
    warning: bool  # shown as a warning callout


def _one(x: Any) -> str:
    if isinstance(x, dict):  # a selector: column -> value(s), all must match
        return "{" + ", ".join(f"{k}={_values(v).replace(', ', '/')}" for k, v in x.items()) + "}"
    return str(x)


def _values(v: Any) -> str:
    if v is None:
        return "?"
    return ", ".join(_one(x) for x in v) if isinstance(v, list | tuple) else _one(v)


def _selector_columns(rule: dict[str, Any]) -> str | None:
    """The columns the train/test selectors name (``condition``, normal vs fault, left
    out: it says which recordings, not which shift); None when the split gives values."""
    items = [*(rule.get("train") or []), *(rule.get("test") or [])]
    if not items or not all(isinstance(x, dict) for x in items):
        return None
    keys = dict.fromkeys(k for x in items for k in x if k != "condition")
    return "/".join(keys) or "condition"


#: What each validation strategy is, as a reader should hear it.
VALIDATION = {
    "tail": "the last part of each training recording - the same recordings and conditions as "
    "training, so it mimics no shift",
    "recordings": "whole held-out training recordings - other recordings, same conditions",
    "condition": "a whole held-out training condition - a shift like the test's",
    "none": "none",
}


def describe_validation(
    validation: dict[str, Any] | None, protocol: Protocol, role_limits: bool = False
) -> str:
    """One sentence: what validation measured and whether it mimics this protocol's test.

    ``role_limits``: the split also limits which windows train and test (leave_one_out's
    selectors, e.g. another sensor); validation is carved from the training side only, so it
    cannot see that part of the shift."""
    kind: str = (validation or {}).get("kind") or ""
    if not kind:
        return ""
    detail = (validation or {}).get("description") or ""
    what = VALIDATION.get(kind, kind) + (f" ({detail})" if detail and kind != "none" else "")
    if kind == "none":
        return "Validation: none (no early stopping)."
    shift = protocol.label in ("held-out size", "condition", "cross-machine")
    mimics = kind == "condition" or not shift
    if mimics and role_limits:
        return (
            f"Validation: {what}. It sees the held-out value's shift, but it does NOT see the "
            "train/test limits' (e.g. another sensor): expect the test to score lower than "
            "validation."
        )
    return f"Validation: {what}. " + (
        "It measures the same kind of generalisation as the test."
        if mimics
        else "It does NOT measure the test's shift: validation scores (and early stopping, "
        "and the fit diagnosis) will look better than the test."
    )


def describe_protocol(
    kind: str | None,
    rule: dict[str, Any] | None = None,
    *,
    leaky: bool = False,
    dataset: str | None = None,
    validation: dict[str, Any] | None = None,
) -> Protocol:
    """Classify a split (``kind`` + its SplitConfig ``rule``) and explain it.

    ``validation`` (split.json's ``validation``: kind, description) adds a sentence on
    whether the validation windows mimic the test's shift.
    """
    proto = _describe(kind, rule, leaky=leaky, dataset=dataset)
    limits = _role_limits(kind, rule or {})
    extra = describe_validation(validation, proto, role_limits=bool(limits))
    text = " ".join(t for t in (proto.text, limits, extra) if t)
    proto.text, proto.warning = text, proto.warning or "does NOT" in extra
    return proto


def _role_limits(kind: str | None, rule: dict[str, Any]) -> str:
    """leave_one_out's train/test selectors: the windows every fold may train and test on."""
    if (kind or rule.get("kind")) != "leave_one_out" or not _selector_columns(rule):
        return ""
    train, test = rule.get("train"), rule.get("test")
    return (
        f"Every fold trains only on windows matching {_values(train) if train else 'any'} "
        f"and tests only on windows matching {_values(test) if test else 'any'} (e.g. another "
        "sensor): the test differs from training in the held-out value AND in that."
    )


_HELD_OUT = ("condition", "leave_one_out", "transfer")


def _describe(
    kind: str | None,
    rule: dict[str, Any] | None = None,
    *,
    leaky: bool = False,
    dataset: str | None = None,
) -> Protocol:
    rule = rule or {}
    kind = (kind or rule.get("kind") or "").strip()
    # leave_one_out's selectors only limit the roles; its folds are the column's values
    selectors = None if kind == "leave_one_out" else _selector_columns(rule)
    column = selectors or rule.get("column")
    if isinstance(column, list | tuple):  # several columns: name them together
        column = "/".join(map(str, column))
    cwru = dataset in (None, "", "cwru")
    mfpt = dataset == "mfpt"
    if leaky or kind == "random_window":
        return _leaky()
    if kind in _HELD_OUT and column == "dataset":
        return _cross_machine(kind, rule)
    if kind in _HELD_OUT and column in SIZE_COLUMNS:
        return _held_out_size(kind, column, rule)
    if kind in _HELD_OUT and (column is None or set(column.split("/")) <= CONDITION_COLUMNS):
        return _condition(kind, column, rule, cwru, mfpt)
    if kind in _HELD_OUT and column == "fault_end" and cwru:
        return Protocol(
            "condition",
            "Split on fault_end (drive-end -> fan-end bearing)",
            "Whole recordings are split by the bearing that carries the fault: drive-end "
            "faults (SKF 6205) on one side, fan-end faults (SKF 6203: other geometry, defect "
            "frequencies and nearest sensor) on the other; no recording is on both sides. "
            "Test faults are on bearings never seen in training.",
            False,
        )
    if kind in _HELD_OUT:
        return Protocol(
            "condition",
            f"Split on {column}",
            f"Whole recordings are split by {column} ({kind}); no recording is on both sides.",
            False,
        )
    if kind in ("recording", "group_kfold"):
        return _recording(kind, rule, cwru, mfpt)
    return Protocol(
        kind or "unknown", f"Split {kind or '(unknown)'}", "Split protocol as configured.", False
    )


def _leaky() -> Protocol:
    return Protocol(
        "leaky",
        "LEAKY window split (scores inflated)",
        "Windows are assigned to train and test at random, so windows cut from the same "
        "recording - often overlapping or adjacent - are on both sides. The model is tested "
        "on signals it has effectively seen: scores are inflated and say nothing about a new "
        "machine or bearing. Use this protocol only to show how much leakage inflates scores.",
        True,
    )


def _cross_machine(kind: str, rule: dict[str, Any]) -> Protocol:
    how = (
        f"train on {_values(rule.get('train'))}, test on {_values(rule.get('test'))}"
        if kind == "condition"
        else f"one fold per dataset ({kind})"
    )
    return Protocol(
        "cross-machine",
        "Cross-machine: trained on one test rig, tested on another",
        f"Split on the dataset ({how}). Test recordings come from another machine: another "
        "bearing type and geometry, shaft speed, sensor, mounting and sampling rate "
        "(resampled to a common rate). The strictest test here; a model that reads defect "
        "lines in Hz learns the training rig's frequencies, so expect low scores unless "
        "the input is normalised to shaft orders.",
        False,
    )


def _held_out_size(kind: str, column: str, rule: dict[str, Any]) -> Protocol:
    detail = (
        f"train on {column} = {_values(rule.get('train'))}, test on {_values(rule.get('test'))}"
        if kind == "condition"
        else f"one fold per value of {column}"
    )
    return Protocol(
        "held-out size",
        "Held-out fault size (another physical bearing: the real test)",
        f"Split on {column} ({detail}). Each fault size is a separately seeded defect on a "
        "different bearing, so test recordings come from bearings never seen in training. "
        "This is the honest test of generalisation; expect lower scores than load splits.",
        False,
    )


def _condition(
    kind: str, column: str | None, rule: dict[str, Any], cwru: bool, mfpt: bool
) -> Protocol:
    lhs = "recordings matching " if _selector_columns(rule) else f"{column} = "
    how = {
        "condition": f"train on {lhs}{_values(rule.get('train'))}, "
        f"test on {_values(rule.get('test'))}",
        "leave_one_out": f"one fold per value of {column}, each tested on the held-out value",
        "transfer": f"every ordered pair of single {column} values (train on one, test on another)",
    }[kind]
    caveat = (
        " CWRU caveat: the same damaged bearing is recorded at every motor load (and, drive "
        "end, at 12 and 48 kHz), so a load or rate split tests robustness to the operating "
        "condition, not to a new bearing - a mild test on which high scores are expected."
        if cwru
        else MFPT_CAVEAT
        if mfpt
        else ""
    )
    return Protocol(
        "condition",
        f"Load/condition split on {column}",
        f"Whole recordings are split by operating condition ({how}); no recording is on "
        f"both sides.{caveat}",
        cwru or mfpt,
    )


def _recording(kind: str, rule: dict[str, Any], cwru: bool, mfpt: bool) -> Protocol:
    how = (
        f"stratified hold-out of {float(rule.get('test_fraction', 0.25)):.0%} of the recordings"
        if kind == "recording"
        else f"stratified {rule.get('n_splits', 5)}-fold, grouped by recording"
    )
    caveat = (
        " On CWRU the other loads of a held-out recording's bearing stay in training, so "
        "this is about as mild as a load split."
        if cwru
        else MFPT_CAVEAT
        if mfpt
        else ""
    )
    return Protocol(
        "recording" if kind == "recording" else "grouped k-fold",
        "Recording hold-out" if kind == "recording" else "Grouped k-fold",
        f"Whole recordings (groups) are held out: {how}; no group is on both sides.{caveat}",
        False,
    )
