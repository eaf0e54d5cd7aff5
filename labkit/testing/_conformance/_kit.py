"""The driver conformance kit: ``check_camera(MyCamera)`` and friends, for a driver author's tests.

Each ``check_*`` builds fresh devices from a class or factory, runs the checks of the contract the
engine relies on (the device alone, then inside a real thread-mode engine), and either returns a
:class:`ConformanceReport` listing the checks passed or raises :class:`ConformanceError` naming the
device, the check that failed and what to fix::

    from labkit.testing import check_camera

    def test_my_camera():
        report = check_camera(MyCamera, serial="sim")   # MyCamera(serial="sim") for each device
        print(report)

Checks are plain functions (``_common``, ``_properties``, ``_camera``, ``_kinds``, ``_engine``) that
raise :class:`Problem`; this module runs them in order and releases every device it made, even when
one fails.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from labkit.errors import LabkitError
from labkit.testing._conformance import _common as common
from labkit.testing._conformance import _engine as engine
from labkit.testing._conformance import _kinds as kinds
from labkit.testing._conformance._base import FIXES, Problem, label
from labkit.testing._leaks import (
    _IGNORED_THREAD_CLASSES,
    _IGNORED_THREAD_PREFIXES,
    _IGNORED_THREAD_SUFFIXES,
)
from labkit.testing._wait import wait_until

__all__ = [
    "ConformanceError",
    "ConformanceReport",
    "check_camera",
    "check_device",
    "check_shutter",
    "check_signal",
    "check_stage",
    "check_state_device",
]

Check = Callable[..., None]


class ConformanceError(LabkitError, AssertionError):
    """A driver broke the device contract: ``device``, ``check`` (its name) and ``fix`` say where and
    what to do. An ``AssertionError``, so pytest reports it as a failed test."""

    def __init__(self, device: str, check: str, problem: str, fix: str) -> None:
        self.device, self.check, self.problem, self.fix = device, check, problem, fix
        super().__init__(
            f"{device} failed the conformance check {check!r}: {problem}. To fix: {fix}"
        )


@dataclass
class ConformanceReport:
    """What a ``check_*`` call verified: the checks passed, in order, and notes on what it could not
    check (e.g. a device without actions) or measured (the frame rate inside the engine)."""

    device: str
    kind: str
    passed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def __contains__(self, check: str) -> bool:
        return check in self.passed

    def __str__(self) -> str:
        lines = [f"{self.device} ({self.kind}): {len(self.passed)} checks passed"]
        lines += [f"  ok    {name}" for name in self.passed]
        lines += [f"  note  {note}" for note in self.notes]
        return "\n".join(lines)


class _Kit:
    """Runs checks on devices made by one factory and turns problems into ConformanceError."""

    def __init__(
        self,
        factory: Any,
        kwargs: dict[str, Any],
        kind: str,
        timeout_s: float,
        run_actions: Mapping[str, Mapping[str, Any]] | None,
        keep_settings: Iterable[str],
    ) -> None:
        if not callable(factory):
            raise TypeError(
                f"pass the driver class or a factory function, not {factory!r}: the kit makes "
                "fresh devices (it closes them), calling factory(**kwargs) each time"
            )
        self.factory, self.kwargs, self.kind = factory, dict(kwargs), kind
        self.timeout_s = float(timeout_s)
        self.run_actions = {k: dict(v) for k, v in (run_actions or {}).items()}
        if isinstance(keep_settings, str):
            raise TypeError(f"keep_settings takes property names, e.g. ({keep_settings!r},)")
        self.keep = frozenset(keep_settings)  # properties the kit never sets to other values
        name = getattr(factory, "__qualname__", None) or repr(factory)
        self.report = ConformanceReport(device=name, kind=kind)

    def note(self, text: str) -> None:
        self.report.notes.append(text)

    def run(self, name: str, check: Check, *args: Any) -> None:
        """Run one check; record it as passed, or raise ConformanceError naming it."""
        try:
            check(self, *args)
        except Problem as p:
            raise ConformanceError(self.report.device, name, p.problem, p.fix) from None
        except ConformanceError:
            raise
        except Exception as exc:
            raise ConformanceError(
                self.report.device,
                name,
                f"raised {type(exc).__name__}: {exc}",
                FIXES.get(
                    name,
                    "the check expected an answer or an error, not this exception; "
                    "its traceback is chained to this error",
                ),
            ) from exc
        self.report.passed.append(name)

    @contextmanager
    def device(self) -> Iterator[Any]:
        """A fresh device, closed afterwards whatever happens (threads it started are awaited by
        the ``close_releases_threads`` check, not here)."""
        self.threads_before = {t.ident for t in threading.enumerate()}
        try:
            dev = self.factory(**self.kwargs)
        except Exception as exc:
            call = ", ".join(f"{k}={v!r}" for k, v in self.kwargs.items())
            raise ConformanceError(
                self.report.device,
                "construct",
                f"{self.report.device}({call}) raised {type(exc).__name__}: {exc}",
                "pass what the constructor needs to the check as keywords (check_camera(MyCamera, "
                "name='camera', port=...)), or a factory function that builds a working device",
            ) from exc
        self.report.device = label(dev)
        try:
            yield dev
        finally:
            try:
                dev.close()
            except Exception:  # the close checks report this; here we only clean up
                pass

    def new_threads(self) -> list[threading.Thread]:
        """Threads started since the last device was made that are still alive (not counting the
        ones libraries keep for the whole process, as the leak check does)."""
        return [
            t
            for t in threading.enumerate()
            if t.ident not in self.threads_before
            and t is not threading.current_thread()
            and not t.name.startswith(_IGNORED_THREAD_PREFIXES)
            and not t.name.endswith(_IGNORED_THREAD_SUFFIXES)
            and type(t).__name__ not in _IGNORED_THREAD_CLASSES
        ]

    def wait(self, predicate: Callable[[], Any], what: str) -> Any:
        """Poll ``predicate`` until true; ``TimeoutError`` after ``timeout_s`` (checks that wait
        turn it into their own message; the kit reports it under the check's name otherwise)."""
        try:
            return wait_until(predicate, self.timeout_s, what)
        except ConformanceError:
            raise
        except AssertionError as exc:  # wait_until's deadline
            raise TimeoutError(str(exc)) from None


# -- the checks of each kind --------------------------------------------------------------------

# properties the kind's own checks vary with care (a stage's axes move it: small steps only)
_KEEP = {"stage": frozenset({"x_um", "y_um", "z_um"})}


def _check_options(kit: _Kit, dev: Any) -> None:
    """The test's options name what the device has (a typo would skip a check silently)."""
    properties, actions = set(dev.property_specs()), set(getattr(dev, "action_specs", dict)())
    for option, names, known in (
        ("keep_settings", kit.keep, properties),
        ("run_actions", set(kit.run_actions), actions),
    ):
        unknown = sorted(names - known)
        if unknown:
            raise ValueError(
                f"{option} names {unknown}, which {kit.report.device} does not have; "
                f"it has {', '.join(sorted(known)) or 'none'}"
            )


def _check(
    factory: Any,
    kind: str | None,
    kwargs: dict[str, Any],
    *,
    in_engine: bool,
    timeout_s: float,
    run_actions: Mapping[str, Mapping[str, Any]] | None,
    keep_settings: Iterable[str],
) -> ConformanceReport:
    kit = _Kit(factory, kwargs, kind or "device", timeout_s, run_actions, keep_settings)
    with kit.device() as dev:
        kit.run("construct", common.check_construct, dev, kind)
        _check_options(kit, dev)
        if kind is None:
            kit.report.kind = str(dev.kind)
        kit.keep |= _KEEP.get(kit.report.kind, frozenset())
        members, behaviour = kinds.KINDS[kind or "device"]
        for name, check in [*members, *common.UNIT_CHECKS, *behaviour]:
            kit.run(name, check, dev)
        kit.run("close_idempotent", common.check_close_idempotent, dev)
        kit.run("close_releases_threads", common.check_threads_released, dev)
    if in_engine:
        with kit.device() as dev:
            kit.run("runs_in_engine", engine.check_in_engine, dev)
            kit.run("engine_releases_threads", common.check_threads_released, dev)
    return kit.report


def _kind_check(kind: str | None, name: str, doc: str) -> Callable[..., ConformanceReport]:
    """The public ``check_*`` function of one kind (``None``: any device)."""

    def check(
        cls_or_factory: Any,
        /,
        *,
        in_engine: bool = True,
        timeout_s: float = 15.0,
        run_actions: Mapping[str, Mapping[str, Any]] | None = None,
        keep_settings: Iterable[str] = (),
        **kwargs: Any,
    ) -> ConformanceReport:
        return _check(
            cls_or_factory, kind, kwargs, in_engine=in_engine, timeout_s=timeout_s,
            run_actions=run_actions, keep_settings=keep_settings,
        )  # fmt: skip

    check.__name__ = check.__qualname__ = name
    check.__doc__ = doc
    return check


check_device = _kind_check(
    None,
    "check_device",
    """Check any device (properties and actions only, e.g. a lamp or a magnet).

    Args:
        cls_or_factory: called as ``cls_or_factory(**kwargs)`` for each fresh device the kit needs
            (a keyword named like an option below: wrap it with ``functools.partial``).
        in_engine: also run the device in a real thread-mode engine (``lk.Scope``).
        timeout_s: how long to wait for anything (frames, moves, threads ending) before failing.
        run_actions: ``{action: {arg: value}}``: actions the kit may really run with these
            arguments (it checks their result and progress); others are only called with bad
            arguments, which must be refused before they run.
        keep_settings: properties the kit sets to their current value only (never to each choice
            or limit, never swept while taking frames): a trigger mode that would make frames wait
            for a trigger, a cooler that must stay on. Bad values are still offered (and must be
            refused).

    Returns:
        A :class:`ConformanceReport` of the checks passed.

    Raises:
        ConformanceError: the first check that failed (``.check`` names it, ``.fix`` says what to do).
        TypeError: ``cls_or_factory`` is not callable (an instance instead of its class).
        ValueError: ``run_actions`` or ``keep_settings`` name what the device does not have.
    """,
)
check_camera = _kind_check(
    "camera",
    "check_camera",
    """Check a camera driver (kind ``"camera"``) as :func:`check_device` does, plus the camera
    contract: the :class:`~labkit.devices.Camera` members, ``snap()`` and ``render_into(out)`` giving
    frames of ``shape``/``dtype`` (also after each choice of an enum setting such as binning or bit
    depth, and a smaller roi), wall-clock ``timestamp_s``, and frames streamed through a real
    engine's ring (read back by a reader, indices and timestamps in order, never faster than
    ``frame_rate_hz``) across a stop and a second start. Same arguments, result and errors as
    :func:`check_device`.""",
)
check_stage = _kind_check(
    "stage",
    "check_stage",
    """Check a stage driver (kind ``"stage"``) as :func:`check_device` does, plus the stage
    contract: the :class:`~labkit.devices.Stage` members, a 2 µm move of each axis that ``wait()``
    sees arrive (within 0.5 µm), a move with one target out of range refused before any axis moves,
    and ``move(..., wait=True)`` through a real engine. Same arguments, result and errors as
    :func:`check_device`.""",
)
check_state_device = _kind_check(
    "state",
    "check_state_device",
    """Check a state device (filter wheel, turret; kind ``"state"``) as :func:`check_device` does,
    plus: one label per position, ``position`` and ``label`` always in step (each position visited,
    listeners told of both), and the same through a real engine. Same arguments, result and errors
    as :func:`check_device`.""",
)
check_shutter = _kind_check(
    "shutter",
    "check_shutter",
    """Check a shutter (kind ``"shutter"``): a settable bool ``is_open``, opened and closed alone
    and through a real engine. Same arguments, result and errors as :func:`check_device`.""",
)
check_signal = _kind_check(
    "signal",
    "check_signal",
    """Check a sampled signal (kind ``"signal"``): named channels, ``sample_rate_hz``, ``read()``
    giving ``(timestamps_s (n,), values (n, channels))`` with wall-clock, increasing timestamps and
    honouring ``max_samples``, and rows reaching the engine's trace stream. Same arguments, result
    and errors as :func:`check_device`.""",
)
