"""Checks of the other kinds on their own (stages, state devices, shutters, signals) and the table
of which checks each kind runs.

The engine moves stages with ``move``/``wait`` (a long wait runs on the caller's thread), keeps a
state device's position and label in step for every client, and samples signals with ``read`` on
its own thread. These checks hold a driver to exactly that, without an engine (``_engine`` runs the
device in one afterwards).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from labkit.devices import PropertyLimitError, Stage
from labkit.testing._conformance import _camera as camera
from labkit.testing._conformance._base import (
    Problem,
    need,
    need_members,
    need_settable_numbers,
)

__all__ = ["AXES", "KINDS", "arrive", "step_target"]

_STEP_UM = 2.0  # a stage check moves each axis this far ...
_TOLERANCE_UM = 0.5  # ... and wants it to arrive this close
_MAX_POSITIONS = 16

# -- stages -------------------------------------------------------------------------------------

AXES = ("x_um", "y_um", "z_um")


def check_stage_members(kit: Any, dev: Any) -> None:
    """The Stage seam's members exist, the axes are settable properties, position() is 3 floats."""
    need_members(
        dev,
        Stage,
        (*AXES, "speed_um_s", "position", "move", "wait", "is_moving"),
        "declare x_um, y_um, z_um and speed_um_s as prop(float, ...) and write position(), "
        "move(x=, y=, z=), wait(timeout_s) and is_moving()",
    )
    need_settable_numbers(dev, (*AXES, "speed_um_s"))
    position = dev.position()
    need(
        len(position) == 3 and all(math.isfinite(float(v)) for v in position),
        f"position() returned {position!r}",
        "return the actual (x, y, z) in µm as three floats",
    )
    need(isinstance(dev.is_moving(), bool), "is_moving() is not a bool", "return True or False")


def step_target(dev: Any, axis: str) -> float:
    spec, here = dev.property_specs()[axis], float(dev.get(axis))
    up = spec.high is None or here + _STEP_UM <= spec.high
    return here + _STEP_UM if up else here - _STEP_UM


def arrive(axis: str, target: float, position: Any) -> None:
    """``position`` (x, y, z) has ``axis`` within the tolerance of ``target``."""
    got = float(position[AXES.index(axis)])
    need(
        abs(got - target) <= _TOLERANCE_UM,
        f"after moving {axis} to {target} and waiting, position() says {got}",
        f"wait() must return only once the stage has arrived (within {_TOLERANCE_UM} µm), and "
        "position() must report where it is",
    )


def check_stage_moves(kit: Any, dev: Any) -> None:
    """Each axis moves a small step: move() sets the target, wait() returns once it arrived,
    is_moving() is then False; then it moves back."""
    for axis in AXES:
        original = float(dev.get(axis))
        target = step_target(dev, axis)
        for goal in (target, original):
            dev.move(**{axis[0]: goal})
            need(
                math.isclose(float(dev.get(axis)), goal, abs_tol=_TOLERANCE_UM),
                f"after move({axis[0]}={goal}) the target {axis} reads {dev.get(axis)}",
                f"make move() set the {axis} target",
            )
            dev.wait(kit.timeout_s)
            arrive(axis, goal, dev.position())
            need(
                not dev.is_moving(),
                "is_moving() is True after wait() returned",
                "return from wait() only when is_moving() is False",
            )


def check_stage_refuses_whole_move(kit: Any, dev: Any) -> None:
    """A move with one target out of range (each axis in turn, the others given valid steps)
    raises PropertyLimitError and changes no target."""
    specs = dev.property_specs()
    limited = [a for a in AXES if specs[a].high is not None]
    if not limited:
        kit.note("no axis has an upper limit: whole-move refusal not checked")
    fix = (
        "validate every target before starting any axis (spec.validate(value) for each, then "
        "move), so a refused move leaves the stage where it was"
    )
    for bad_axis in limited:
        targets = {a: float(dev.get(a)) for a in AXES}
        move = {a[0]: step_target(dev, a) for a in AXES}
        move[bad_axis[0]] = float(specs[bad_axis].high) + 1000.0
        try:
            dev.move(**move)
        except PropertyLimitError:
            pass
        else:
            raise Problem(
                f"move({bad_axis[0]}={move[bad_axis[0]]}) beyond the limit was accepted", fix
            )
        after = {a: float(dev.get(a)) for a in AXES}
        need(
            after == targets,
            f"the refused move({', '.join(f'{k}={v:g}' for k, v in move.items())}) changed the "
            f"targets from {targets} to {after}",
            fix,
        )


# -- state devices ------------------------------------------------------------------------------


def _g(value: Any) -> str:
    return f"{value:g}" if isinstance(value, (int, float)) else repr(value)


def check_state_labels(kit: Any, dev: Any) -> None:
    """One unique label per position: position limits [0, n-1], label choices == labels."""
    labels = getattr(dev, "labels", None)
    need(
        isinstance(labels, tuple) and labels and all(isinstance(v, str) for v in labels)
        and len(set(labels)) == len(labels),
        f"labels is {labels!r}",
        "subclass labkit.devices.StateDevice and pass labels=(...): one unique str per position",
    )  # fmt: skip
    labels = tuple(labels or ())
    specs = dev.property_specs()
    position, label = specs.get("position"), specs.get("label")
    fix = (
        "let StateDevice set the limits from the labels (one label per position; do not change "
        "the position limits or label choices yourself)"
    )
    need(
        position is not None and position.kind == "int" and position.low == 0
        and position.high == len(labels) - 1,
        f"{len(labels)} labels but position takes [{_g(getattr(position, 'low', None))}, "
        f"{_g(getattr(position, 'high', None))}]",
        fix,
    )  # fmt: skip
    need(
        label is not None and label.kind == "enum" and tuple(label.allowed or ()) == labels,
        f"label choices {getattr(label, 'allowed', None)} are not the labels {labels}",
        fix,
    )


def check_state_positions(kit: Any, dev: Any) -> None:
    """Every position (or label) set keeps the other in step, and listeners hear of both."""
    labels = dev.labels
    original = dev.get("position")
    heard: list[tuple] = []
    dev.add_listener(listener := lambda *a: heard.append(a[1:]))
    fix = "set position and label together (StateDevice does: implement only _move_to)"
    try:
        for position in range(min(len(labels), _MAX_POSITIONS)):
            heard.clear()
            dev.set("position", position)
            need(
                dev.get("label") == labels[position],
                f"after position={position} the label is {dev.get('label')!r}, not "
                f"{labels[position]!r}",
                fix,
            )
            kit.wait(lambda: {n for n, _ in heard} >= {"position", "label"}, "both events")  # noqa: B023
            dev.set("label", labels[position])
            need(
                dev.get("position") == position,
                f"after label={labels[position]!r} the position is {dev.get('position')}",
                fix,
            )
    finally:
        dev.remove_listener(listener)
        dev.set("position", original)


# -- shutters and signals -----------------------------------------------------------------------


def check_shutter(kit: Any, dev: Any) -> None:
    """``is_open`` is a settable bool that reads back what was set."""
    spec = dev.property_specs().get("is_open")
    need(
        spec is not None and spec.kind == "bool" and not spec.readonly,
        "is_open is not a settable bool property",
        "subclass labkit.devices.Shutter and implement _set_open(is_open)",
    )
    original = dev.get("is_open")
    for value in (True, False, original):
        dev.set("is_open", value)
        need(
            dev.get("is_open") is value,
            f"is_open={value} reads back {dev.get('is_open')}",
            "store the value you were given (Shutter does: implement only _set_open)",
        )


def check_signal_members(kit: Any, dev: Any) -> None:
    """Named channels and a sample rate (a property) the trace buffer is made from."""
    channels = getattr(dev, "channels", None)
    need(
        isinstance(channels, (tuple, list)) and channels
        and all(isinstance(c, str) and c for c in channels) and len(set(channels)) == len(channels),
        f"channels is {channels!r}",
        "set self.channels to a tuple of unique channel names before super().__init__",
    )  # fmt: skip
    spec = dev.property_specs().get("sample_rate_hz")
    need(
        spec is not None and spec.kind in ("float", "int") and float(dev.sample_rate_hz) > 0,
        "sample_rate_hz is not a numeric property above 0",
        "declare sample_rate_hz = prop(float, units='Hz', low=..., high=...)",
    )


def check_signal_read(kit: Any, dev: Any) -> None:
    """read() returns (timestamps (n,), values (n, channels)) of new samples only, in time order,
    never more than ``max_samples``."""
    since = time.time()
    stamps: list[float] = []
    n_channels = len(dev.channels)

    def read_some() -> int:
        for max_samples in (None, 1):
            t, v = dev.read(max_samples=max_samples)
            t, v = np.asarray(t), np.asarray(v)
            need(
                t.ndim == 1 and v.shape == (len(t), n_channels) and v.dtype.kind in "fiu",
                f"read() gave timestamps {t.shape} and values {v.shape} {v.dtype}",
                f"return (timestamps (n,), float values (n, {n_channels}))",
            )
            need(
                max_samples is None or len(t) <= max_samples,
                f"read(max_samples=1) gave {len(t)} rows",
                "keep the rest for the next read",
            )
            stamps.extend(float(s) for s in t)
        return len(stamps)

    kit.wait(lambda: read_some() >= 3, "three samples")
    need(
        all(a < b for a, b in zip(stamps, stamps[1:], strict=False)),
        "timestamps across reads are not strictly increasing (a sample returned twice?)",
        "return each sample once, in time order",
    )
    newest = stamps[-1]  # older ones may be backlog from before the check
    need(
        since - camera.CLOCK_SLACK_S <= newest <= time.time() + camera.CLOCK_SLACK_S,
        f"the newest sample was stamped {newest}, but time.time() is {time.time():.3f}",
        camera.CLOCK_FIX,
    )


Check = Callable[..., None]
#: per kind: (checks of what the device has, run first; checks of what it does, run after the
#: common property checks)
KINDS: dict[str, tuple[list[tuple[str, Check]], list[tuple[str, Check]]]] = {
    "device": ([], []),
    "camera": (
        [("camera_members", camera.check_camera_members)],
        [
            ("frames_match_shape_dtype", camera.check_snap),
            ("render_into_fills_out", camera.check_render_into),
            ("frame_timestamps", camera.check_frame_timestamps),
            ("frames_match_after_settings", camera.check_settings_sweep),
        ],
    ),
    "stage": (
        [("stage_members", check_stage_members)],
        [
            ("stage_moves", check_stage_moves),
            ("move_refused_whole", check_stage_refuses_whole_move),
        ],
    ),
    "state": ([("state_labels", check_state_labels)], [("state_positions", check_state_positions)]),
    "shutter": ([("shutter_is_open", check_shutter)], []),
    "signal": ([("signal_members", check_signal_members)], [("signal_read", check_signal_read)]),
}
