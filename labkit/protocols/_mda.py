"""Run a useq-schema ``MDASequence`` on labkit devices, one step per event.

Each acquire event becomes one :class:`~labkit.protocols._steps.Step`: wait for its start time
(time plan), set the channel (a ``config_groups`` device's group property, or a state device
named like the group, by label), the exposure and per-event properties, move x/y and z when
they change (waiting for the stage, interruptibly), then snap and hand the frame to the sink.
An autofocus event calls the autofocus hook, whose new z corrects that position from then on
(as pymmcore-plus does). Consecutive events that differ only in ``t`` with no time between them
(``interval=0``) run as one burst from the camera's stream when the host can stream.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from functools import partial
from typing import Any, Protocol

import numpy as np

from labkit.protocols._steps import ProtocolError, Step, StepControl, StepRunner, wait_for_stage

__all__ = ["MdaRunner", "resolve_channel"]

Autofocus = Callable[[Mapping[str, Any], Any], "float | None"]
Burst = Callable[[str, int, StepControl], Iterator[tuple[np.ndarray, dict]]]


class _Sink(Protocol):
    def setup(self, sequence: Any, shape: tuple[int, int], dtype: str, px: float) -> None: ...
    def append(self, frame: np.ndarray, meta: dict[str, Any]) -> None: ...


def _kind(dev: Any) -> str:
    kind = getattr(dev, "kind", "")
    return kind if isinstance(kind, str) else ""


def _first(devices: Mapping[str, Any], *kinds: str) -> tuple[str, Any] | tuple[None, None]:
    for kind in kinds:
        for name, dev in devices.items():
            if _kind(dev) == kind:
                return name, dev
    return None, None


def resolve_channel(devices: Mapping[str, Any], group: str, config: str) -> Callable[[], None]:
    """A call that selects ``config`` of channel group ``group``.

    A ``config_groups`` device with a property named ``group`` is set to ``config``; otherwise a
    state device named ``group`` goes to the position labelled ``config``.

    Raises:
        ProtocolError: no such group, or ``config`` is not one of its presets (both listed).
    """
    groups: list[str] = []
    for dev in devices.values():
        if _kind(dev) == "config_groups":
            specs = dev.property_specs()
            groups += list(specs)
            if group in specs:
                allowed = specs[group].allowed
                if allowed is not None and config not in allowed:
                    raise ProtocolError(
                        f"channel {config!r} is not a preset of config group {group!r}; "
                        f"presets: {', '.join(map(str, allowed))}"
                    )
                return lambda: dev.set(group, config)
    states = [n for n, d in devices.items() if _kind(d) == "state"]
    dev = devices.get(group)
    if dev is not None and _kind(dev) == "state":
        if config not in dev.labels:
            raise ProtocolError(
                f"channel {config!r} is not a label of state device {group!r}; "
                f"labels: {', '.join(dev.labels)}"
            )
        return lambda: dev.set("label", config)
    raise ProtocolError(
        f"no channel group {group!r}: give channels a group that is a config group "
        f"({', '.join(groups) or 'none'}) or a state device ({', '.join(states) or 'none'}), "
        "e.g. useq.Channel(group='filters', config='GFP')"
    )


class MdaRunner:
    """Runs one sequence (see the module docstring).

    Args:
        sequence: a ``useq.MDASequence``.
        devices: ``{name: device}`` (the engine's).
        sink: where frames go (an :class:`~labkit.protocols._mda_sink.MdaSink`) or None.
        runner: the :class:`StepRunner` (its control pauses/cancels, its devices are made safe).
        on_frame: ``on_frame(n_done, event_index, label)`` after each frame.
        autofocus: ``autofocus(devices, event) -> new z (µm) or None``, for autofocus events.
        burst: ``burst(camera, n, control)`` yielding ``(frame, meta)``; None: snap each frame.
        camera: the camera's name (default: the first camera).
        clock: seconds, monotonic (the time plan's clock).

    Raises:
        ProtocolError: at construction, for anything the sequence needs that the devices lack.
    """

    def __init__(
        self,
        sequence: Any,
        devices: Mapping[str, Any],
        sink: _Sink | None,
        runner: StepRunner,
        *,
        on_frame: Callable[[int, dict, str], None] | None = None,
        autofocus: Autofocus | None = None,
        burst: Burst | None = None,
        camera: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sequence, self.devices, self.sink, self.runner = sequence, devices, sink, runner
        self.on_frame, self.autofocus, self.burst, self.clock = on_frame, autofocus, burst, clock
        if camera is None:
            camera, _ = _first(devices, "camera")
        if camera is None or camera not in devices:
            raise ProtocolError(f"no camera {camera!r} among the devices: {', '.join(devices)}")
        self.camera_name, self.camera = camera, devices[camera]
        self.xy_stage: Any = _first(devices, "xy_stage", "stage")[1]
        self.z_stage: Any = _first(devices, "focus", "z_stage", "stage")[1]
        self.events = list(sequence)
        self.frames_total = sum(1 for e in self.events if _acquires(e))
        self.frames_done = 0
        self.t_first_s: dict[int, float] = {}  # t index -> start of its first frame (s)
        self._channels: dict[tuple[str, str], Callable[[], None]] = {}
        self._check()
        self._last: dict[str, Any] = {}
        self._z_correction: dict[int, float] = {}
        self._t0 = 0.0

    def _check(self) -> None:
        for e in self.events:
            if e.channel is not None:
                key = (e.channel.group, e.channel.config)
                if key not in self._channels:
                    self._channels[key] = resolve_channel(self.devices, *key)
            if (e.x_pos is not None or e.y_pos is not None) and self.xy_stage is None:
                raise ProtocolError("the sequence moves x/y but there is no stage")
            if e.z_pos is not None and self.z_stage is None:
                raise ProtocolError("the sequence moves z but there is no focus stage")
            if not _acquires(e) and self.autofocus is None:
                raise ProtocolError(
                    "the sequence has an autofocus plan: pass autofocus=fn(devices, event) -> z_um"
                )
            for dev, prop, _ in e.properties or ():
                if dev not in self.devices:
                    raise ProtocolError(
                        f"event property {dev}.{prop}: no device {dev!r}; devices: {', '.join(self.devices)}"
                    )

    # -- plan ------------------------------------------------------------------------------------

    def units(self) -> Iterator[list[Any]]:
        """Events grouped as run: a burst is several events, anything else one."""
        group: list[Any] = []
        for e in self.events:
            if group and self.burst is not None and _same_but_t(group[-1], e):
                group.append(e)
                continue
            if group:
                yield group
            group = [e]
        if group:
            yield group

    def steps(self) -> Iterator[Step]:
        for unit in self.units():
            yield Step(_label(unit), partial(self._run_unit, unit), "event")

    def run(self) -> None:
        """Run the sequence to its end (see :class:`StepRunner` for pause, cancel and errors)."""
        if self.sink is not None:
            shape = tuple(int(v) for v in self.camera.shape)
            self.sink.setup(
                self.sequence, (shape[0], shape[1]), str(np.dtype(self.camera.dtype)),
                float(getattr(self.camera, "pixel_size_um", 1.0)),
            )  # fmt: skip
        self._t0 = self.clock()
        for step in self.steps():
            self.runner.run_one(step)

    # -- one event (or burst) --------------------------------------------------------------------

    def _run_unit(self, unit: list[Any], control: StepControl) -> None:
        e = unit[0]
        if e.min_start_time:
            control.sleep_until(self._t0 + control.paused_s + float(e.min_start_time))
        self._setup(e, control)
        if not _acquires(e):
            self._focus(e)
            return
        if len(unit) == 1:
            frame, meta = self.camera.snap()
            self._keep(e, frame, meta)
            return
        assert self.burst is not None
        events, label = iter(unit), _label(unit)
        for frame, meta in self.burst(self.camera_name, len(unit), control):
            self._keep(next(events), frame, meta, label)

    def _setup(self, e: Any, control: StepControl) -> None:
        """Start the stage moves first, set channel, exposure and properties meanwhile, then
        wait for the stages (moves overlap the other settings, as on a real rig)."""
        last, moving = self._last, []
        xy = (e.x_pos, e.y_pos)
        if xy != (None, None) and last.get("xy") != xy:
            self.xy_stage.move(x=e.x_pos, y=e.y_pos)
            last["xy"] = xy
            moving.append(self.xy_stage)
        if e.z_pos is not None:
            z = float(e.z_pos) + self._z_correction.get(e.index.get("p", 0), 0.0)
            if last.get("z") != z:
                self.z_stage.move(z=z)
                last["z"] = z
                if self.z_stage is not self.xy_stage or not moving:
                    moving.append(self.z_stage)
        if e.channel is not None:
            key = (e.channel.group, e.channel.config)
            if last.get("channel") != key:
                self._channels[key]()
                last["channel"] = key
        if e.exposure is not None and last.get("exposure") != e.exposure:
            self.camera.set("exposure_ms", float(e.exposure))
            last["exposure"] = e.exposure
        for dev, prop, value in e.properties or ():
            self.devices[dev].set(prop, value)
        for stage in moving:
            wait_for_stage(stage, control)

    def _focus(self, e: Any) -> None:
        assert self.autofocus is not None
        new_z = self.autofocus(self.devices, e)
        if new_z is not None and e.z_pos is not None:
            self._z_correction[e.index.get("p", 0)] = float(new_z) - float(e.z_pos)
            self._last.pop("z", None)

    def _keep(self, e: Any, frame: np.ndarray, meta: dict, label: str = "") -> None:
        index = {str(k): int(v) for k, v in e.index.items()}
        t_index = index.get("t", 0)
        stamp = float(meta.get("timestamp_s", time.time()))
        if t_index not in self.t_first_s:
            self.t_first_s[t_index] = stamp
        row: dict[str, Any] = {"index": index, **{k: float(v) for k, v in meta.items()}}
        if e.metadata:
            row["metadata"] = dict(e.metadata)
        if self.sink is not None:
            self.sink.append(frame, row)
        self.frames_done += 1
        if self.on_frame is not None:
            self.on_frame(self.frames_done, index, label or _label([e]))

    def t_seconds(self) -> list[float]:
        """Start of each time point's first frame, seconds after the first frame."""
        if not self.t_first_s:
            return []
        first = min(self.t_first_s.values())
        return [self.t_first_s[t] - first for t in sorted(self.t_first_s)]


def _acquires(e: Any) -> bool:
    return getattr(e.action, "type", "acquire_image") == "acquire_image"


def _same_but_t(a: Any, b: Any) -> bool:
    """``b`` can follow ``a`` in one burst: only ``t`` differs and no time passes between them."""
    if not (_acquires(a) and _acquires(b)) or b.properties or a.properties:
        return False
    ia, ib = dict(a.index), dict(b.index)
    ia.pop("t", None)
    ib.pop("t", None)
    return (
        ia == ib
        and a.index.get("t") != b.index.get("t")
        and (a.min_start_time or 0) == (b.min_start_time or 0)
        and (a.channel, a.exposure, a.x_pos, a.y_pos, a.z_pos)
        == (b.channel, b.exposure, b.x_pos, b.y_pos, b.z_pos)
    )


def _label(unit: list[Any]) -> str:
    e = unit[0]
    parts = [f"{k}={v}" for k, v in e.index.items()]
    if e.channel is not None:
        parts.append(e.channel.config)
    what = "autofocus" if not _acquires(e) else "snap"
    if len(unit) > 1:
        what = f"burst of {len(unit)}"
    return f"{what} " + " ".join(parts)
