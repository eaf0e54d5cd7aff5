"""The last check of every kind: the device inside a real thread-mode engine (``lk.Scope``).

The engine calls a driver from its own threads (a camera's acquisition thread, the signal pump, the
callers of commands) and reaches it only through ``describe()``, properties, actions and the kind's
methods; frames and samples travel through shared memory. Here the device is served by a Scope, used
through its proxy and its streams as a notebook would, then closed with the engine.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from labkit.devices import ActionArgumentError
from labkit.testing._conformance._base import FIXES, Problem, need
from labkit.testing._conformance._kinds import AXES, arrive, step_target

__all__ = ["check_in_engine"]

_FRAMES_PER_RUN = 4
_STREAM_RATE_HZ = 20.0  # the camera is set to this rate (within its limits) to keep the check short


def check_in_engine(kit: Any, dev: Any) -> None:
    """Served by ``lk.Scope(devices={name: dev})``: the proxy has the device's properties and
    actions, a property set through it reads back, the kind's own use works, and closing the scope
    closes the device."""
    from labkit.engine import Scope, events

    errors: list[str] = []

    def on_event(event: Any) -> None:
        error = events.parse(event, events.ErrorEvent)
        if error is not None:
            errors.append(f"{error.type}: {error.message}")

    with Scope(devices={dev.name: dev}, ring_slots=8) as scope:
        scope.subscribe(on_event)
        proxy = scope.devices[dev.name]
        need(
            proxy.kind == dev.kind,
            f"the engine sees kind {proxy.kind!r}, the device says {dev.kind!r}",
            "report the class attribute kind in describe() (Device.describe() does)",
        )
        need(
            set(proxy.property_specs()) == set(dev.property_specs()),
            f"the proxy has properties {sorted(proxy.property_specs())}",
            "describe every property (Device.describe() does)",
        )
        if hasattr(dev, "action_specs"):
            need(
                set(proxy.action_specs()) == set(dev.action_specs()),
                f"the proxy has actions {sorted(proxy.action_specs())}",
                "let Device.describe() list the actions",
            )
            for action in proxy.action_specs():  # refused in the engine, named in the notebook
                try:
                    proxy.call_action(action, {"no_such_arg": 1})
                except ActionArgumentError:
                    continue
                raise Problem(
                    f"{action}(no_such_arg=1) through the engine was not refused",
                    FIXES["actions"],
                )
        settable = [n for n, s in proxy.property_specs().items() if not s.readonly]
        if settable:
            name = settable[0]
            setattr(proxy, name, getattr(proxy, name))
        use = _BY_KIND.get(dev.kind)
        if use is not None:
            try:
                use(kit, scope, proxy, dev)
            except TimeoutError as exc:
                scope.events.flush()
                why = f" after the error {errors[-1]!r}" if errors else ""
                raise Problem(
                    f"{exc}; the engine is {scope.state.value}{why}",
                    "make render_into/read work from the engine's own thread, return in time and "
                    "never raise (the threading rules in docs/devices.md)",
                ) from None
    need(
        getattr(dev, "closed", True) is True,
        "closing the scope did not close the device",
        "let the engine's close reach your close() (call super().close())",
    )


def _next_frame(kit: Any, scope: Any, reader: Any) -> Any:
    """The reader's next frame; a failed engine is reported at once, not after the timeout."""
    from labkit.engine import EngineState

    deadline = time.monotonic() + kit.timeout_s
    while time.monotonic() < deadline:
        try:
            return reader.next(timeout=0.2)
        except TimeoutError:
            if scope.state is EngineState.FAILED:
                raise TimeoutError("the engine failed while streaming") from None
    raise TimeoutError(f"no frame in the engine's ring within {kit.timeout_s} s")


def _use_camera(kit: Any, scope: Any, proxy: Any, dev: Any) -> None:
    info = scope.streams[dev.name]
    shape, dtype = tuple(int(v) for v in dev.shape), np.dtype(dev.dtype)
    need(
        info.kind == "frames" and tuple(info.shape) == shape and np.dtype(info.dtype) == dtype,
        f"the engine's stream {info.name!r} is {info.kind} {info.shape} {info.dtype}, the camera "
        f"says {shape} {dtype}",
        "report shape and dtype consistently (read-only props computed from the settings)",
    )
    spec = proxy.property_specs()["frame_rate_hz"]
    rate = max(_STREAM_RATE_HZ, spec.low if spec.low is not None else 0.0)
    rate = min(rate, spec.high) if spec.high is not None else rate
    proxy.frame_rate_hz = rate
    period_s = max(1.0 / rate, float(dev.exposure_ms) / 1000.0)
    since = time.time()
    frames = []
    for _ in range(2):  # start, read, stop; then again: acquisition is restartable
        scope.start()
        with scope.open_reader(dev.name, name="conformance") as reader:
            run = [_next_frame(kit, scope, reader) for _ in range(_FRAMES_PER_RUN)]
        scope.stop()
        frames += run
        elapsed = run[-1].timestamp_s - run[0].timestamp_s
        need(
            elapsed >= 0.5 * (len(run) - 1) * period_s,
            f"{len(run)} frames streamed at {rate:g} Hz were stamped {elapsed:.4f} s apart, faster "
            "than the rate allows",
            "stamp each frame with time.time() when it is taken, and give the newest frame (not "
            "one the SDK queued earlier)",
        )
        kit.note(f"streamed at {(len(run) - 1) / max(elapsed, 1e-9):.1f} fps (asked {rate:g})")
    for frame in frames:
        need(
            frame.data.shape == shape and frame.data.dtype == dtype,
            f"a streamed frame is {frame.data.dtype} {frame.data.shape}",
            "fill the out array render_into is given",
        )
    indices = [f.index for f in frames]
    stamps = [f.timestamp_s for f in frames]
    need(
        indices == sorted(set(indices)),
        f"frame indices {indices} are not increasing",
        "let the engine's ring number the frames; never write into a slot twice",
    )
    need(
        stamps == sorted(stamps) and since - 5.0 <= stamps[0] and stamps[-1] <= time.time() + 5.0,
        f"streamed frames were stamped {stamps}",
        "stamp each frame with time.time() when it starts",
    )
    snap = proxy.snap()
    need(
        snap.dims == ("y", "x") and snap.shape == shape,
        f"scope.devices[{dev.name!r}].snap() gave dims {snap.dims} shape {snap.shape}",
        "return frames of shape (height, width) from snap()",
    )


def _use_stage(kit: Any, scope: Any, proxy: Any, dev: Any) -> None:
    original = float(proxy.z_um)
    target = step_target(dev, "z_um")
    for goal in (target, original):
        position = proxy.move(z=goal, wait=True, timeout_s=kit.timeout_s)
        arrive("z_um", goal, position)
        arrive("z_um", goal, proxy.position())
        need(
            not proxy.is_moving(),
            "is_moving() is True after a move with wait=True",
            "return False from is_moving() once wait() has returned",
        )
    need(
        len(AXES) == len(proxy.position()),
        "position() through the engine is not (x, y, z)",
        "return the actual (x, y, z) in µm",
    )


def _use_state(kit: Any, scope: Any, proxy: Any, dev: Any) -> None:
    labels, original = dev.labels, proxy.position
    proxy.label = labels[-1]
    need(
        proxy.position == len(labels) - 1,
        f"label={labels[-1]!r} through the engine left position {proxy.position}",
        "keep position and label in step (StateDevice does)",
    )
    proxy.position = original


def _use_shutter(kit: Any, scope: Any, proxy: Any, dev: Any) -> None:
    original = proxy.is_open
    for value in (not original, original):
        proxy.is_open = value
        need(
            proxy.is_open is value,
            f"is_open={value} through the engine reads back {proxy.is_open}",
            "store the value you were given (Shutter does: implement only _set_open)",
        )


def _use_signal(kit: Any, scope: Any, proxy: Any, dev: Any) -> None:
    info = scope.streams[dev.name]
    need(
        info.kind == "trace" and tuple(info.channels) == tuple(dev.channels),
        f"the engine's stream {info.name!r} is {info.kind} with channels {info.channels}",
        "keep channels fixed once the device is made",
    )
    rows: list[np.ndarray] = []
    scope.start()
    try:
        with scope.open_trace_reader(dev.name) as reader:

            def some() -> bool:
                t, v, _ = reader.read_new()
                rows.append(t)
                return sum(len(r) for r in rows) >= 3

            kit.wait(some, "samples in the engine's trace stream")
    finally:
        scope.stop()
    stamps = np.concatenate(rows)
    need(
        bool(np.all(np.diff(stamps) > 0)),
        "rows of the engine's trace stream are not in time order",
        "return each sample once, in time order, from read()",
    )


_BY_KIND = {
    "camera": _use_camera,
    "stage": _use_stage,
    "state": _use_state,
    "shutter": _use_shutter,
    "signal": _use_signal,
}
