"""``scope.tracking``: bead picking, the live tracker node, z table scans and the bead lock.

::

    scope.tracking.find_beads(roi_size=50)          # bead ROIs from a snap (also scope.tracking.rois)
    zlut = scope.tracking.acquire_zlut(z_range_um=(-1.5, 1.5), step_um=0.05, path="beads.zlut.h5")
    scope.tracking.add_tracker(zlut=zlut, reference=["bead0"])   # a trace stream "beads"
    scope.tracking.lock("bead0")                    # hold focus on bead0 (PI through the stage)
    scope.tracking.lock_status()["state"]           # searching / locked / lost / off
    scope.tracking.unlock()

The same calls work with thread, process and remote engines (the engine side is
``_tracking.EngineTracking``).
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from labkit.processing import Roi
from labkit.wire import Event

if TYPE_CHECKING:  # pragma: no cover
    from labkit.engine._scope import Scope
    from labkit.processing.tracking import ZLUT

__all__ = ["ScopeTracking"]

TRACKER = "beads"  # the default name of the tracker node (and its trace stream)


class ScopeTracking:
    """Bead tracking on a scope (see the module doc)."""

    def __init__(self, scope: Scope) -> None:
        self._scope = scope
        self._scan_lock = threading.Lock()

    def _op(self, op: str, call_id: str = "", **args: Any) -> Any:
        return self._scope._call("tracking", op=op, args=args, call_id=call_id)

    # -- bead ROIs -------------------------------------------------------------------------------

    @property
    def rois(self) -> list[dict[str, Any]]:
        """The bead ROIs, plain data ``[{name, y, x, h, w}]`` (a setting: saved with the scope's
        settings). Set it with a list of ``Roi``, dicts or ``(name, y, x, h, w)`` tuples."""
        return self._op("get_rois")

    @rois.setter
    def rois(self, rois: Sequence[Any]) -> None:
        self._op("set_rois", rois=[_plain_roi(r) for r in rois])

    def add_bead(self, y: float, x: float, size: int = 50, name: str = "") -> dict[str, Any]:
        """Add a ``size`` px square ROI centred on frame pixel ``(y, x)`` (a click on a bead).

        Raises:
            ValueError: the ROI would leave the frame, or the name is taken.
        """
        rois = self.rois
        taken = {r["name"] for r in rois}
        if not name:
            name = next(f"bead{k}" for k in range(len(rois) + 1_000) if f"bead{k}" not in taken)
        top, left = round(y - (size - 1) / 2), round(x - (size - 1) / 2)
        shape = self._scope.streams[self._camera()].shape
        roi = Roi(name, max(0, top), max(0, left), size, size)
        if top < 0 or left < 0:
            raise ValueError(f"a {size} px ROI centred at (y={y:.0f}, x={x:.0f}) leaves the frame")
        roi.check(shape)
        self.rois = [*rois, roi]
        return _plain_roi(roi)

    def find_beads(self, roi_size: int = 50, **options: Any) -> list[dict[str, Any]]:
        """Detect beads in a snap (:func:`~labkit.processing.tracking.find_beads`) and make them
        the bead ROIs; returns them."""
        from labkit.processing.tracking import find_beads

        frame = self._scope.devices[self._camera()].snap().values
        self.rois = find_beads(frame, roi_size, **options)
        return self.rois

    def _camera(self) -> str:
        return next(n for n, s in self._scope.streams.items() if s.kind == "frames")

    # -- the tracker node ------------------------------------------------------------------------

    def add_tracker(
        self,
        rois: Sequence[Any] | None = None,
        zlut: ZLUT | str | os.PathLike | None = None,
        reference: Sequence[str] = (),
        name: str = TRACKER,
        mode: str = "thread",
        input: str | None = None,
        **tracker_options: Any,
    ) -> dict[str, Any]:
        """Add a ``bead_tracker`` node (default name ``"beads"``) on the bead ROIs; its trace
        stream has ``<bead>_x, _y, _z, _quality`` channels. ``zlut``: a ZLUT or a file path
        (read here, sent to the engine as data). Returns the node's description."""
        from labkit.processing.tracking import ZLUT

        table = ZLUT.load(zlut) if isinstance(zlut, (str, os.PathLike)) else zlut
        boxes = [_plain_roi(r) for r in rois] if rois is not None else self.rois
        if not boxes:
            raise ValueError(
                "no bead ROIs: pick beads first (scope.tracking.find_beads(), add_bead(y, x) or "
                "scope.tracking.rois = [...]), or pass rois="
            )
        return self._scope.nodes.add(
            "bead_tracker", input=input, name=name, mode=mode, rois=boxes,
            zlut=None if table is None else table.to_plain(), reference=list(reference),
            **tracker_options,
        )  # fmt: skip

    # -- the z table -----------------------------------------------------------------------------

    def acquire_zlut(
        self,
        rois: Sequence[Any] | None = None,
        z_range_um: Sequence[float] = (-1.5, 1.5),
        step_um: float = 0.05,
        frames_per_plane: int = 5,
        *,
        camera: str = "",
        path: str | os.PathLike | None = None,
        progress: Callable[[float, str], None] | None = None,
    ) -> ZLUT:
        """Record a z table: step the stage from ``z_range_um[0]`` to ``[1]`` µm about where it
        is, in ``step_um`` steps, averaging ``frames_per_plane`` frames per plane (the scope must
        be running); the stage returns where it was. Saves it to ``path`` if given.

        ``progress(fraction, message)`` is called as planes are done; :meth:`cancel_zlut` (from
        another thread or a widget) stops the scan.

        Raises:
            ScanCancelledError: cancelled.  EngineStateError: the scope is not running.
            ValueError: no ROIs, or fewer than 3 planes; a bead without a good frame at a plane.
        """
        from labkit.processing.tracking import ZLUT

        call_id = uuid.uuid4().hex

        def follow(event: Event) -> None:
            p = event.payload
            if event.topic == "progress" and isinstance(p, dict) and p.get("call_id") == call_id:
                progress(p["fraction"], p["message"])  # type: ignore[misc]

        scope = self._scope
        if progress is not None:
            scope.subscribe(follow)
        try:
            plain = self._op(
                "acquire_zlut", call_id=call_id,
                rois=None if rois is None else [_plain_roi(r) for r in rois],
                z_range_um=list(z_range_um), step_um=float(step_um),
                frames_per_plane=int(frames_per_plane), camera=camera,
            )  # fmt: skip
            if progress is not None:
                scope.events.flush()
        finally:
            if progress is not None:
                scope.unsubscribe(follow)
        zlut = ZLUT.from_plain(plain)
        if path is not None:
            zlut.save(path)
        return zlut

    def cancel_zlut(self) -> bool:
        """Cancel a running z table scan; False if none was running."""
        return bool(self._op("cancel_zlut"))

    # -- the bead lock ---------------------------------------------------------------------------

    def lock(
        self,
        bead: str,
        tracker: str = TRACKER,
        *,
        target: Sequence[float | None] | None = None,
        **settings: Any,
    ) -> dict[str, Any]:
        """Hold ``bead`` (of tracker node ``tracker``) still by moving the stage: focus, or
        x, y and z with ``axes="xyz"``. ``target``: the (x px, y px, z µm) to hold (default:
        where the bead is). ``settings``: :class:`~labkit.processing.tracking.LockSettings`
        fields (``kp``, ``ki``, ``max_correction_um``, ``max_rate_um_s``, ``lost_after_s``…).
        Its state changes arrive as ``bead_lock`` events. Returns its status.

        Raises:
            TypeError: an unknown setting (names them).  ValueError: no such tracker or bead.
        """
        return self._op(
            "engage_lock", tracker=tracker, bead=bead, settings=settings,
            target=None if target is None else list(target),
        )  # fmt: skip

    def unlock(self) -> dict[str, Any]:
        """Stop the bead lock (the stage stays where it is); returns its last status."""
        return self._op("release_lock")

    def lock_status(self) -> dict[str, Any]:
        """``{state, reason, error, correction_um, target, bead, tracker, ...}`` of the lock
        (``state``: off, searching, locked or lost)."""
        return self._op("lock_status")

    def __repr__(self) -> str:
        return f"<tracking of {self._scope!r}>"


def _plain_roi(roi: Any) -> dict[str, Any]:
    r = Roi.of(roi)
    return {"name": r.name, "y": r.y, "x": r.x, "h": r.h, "w": r.w}
