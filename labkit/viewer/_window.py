"""``ViewerWindow``: one manager window as an anywidget (front end in js/src/viewer/).

The kernel side is a :class:`~labkit.viewer._controller.WindowController` driven over the
Jupyter comm: the ``info`` and ``view`` traits are synced, slices and profiles go as custom
messages with binary buffers (the protocol is in ``_controller.py``). The manager page
(``_page.py``) drives the same controller over its websocket.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import anywidget
import traitlets
import xarray as xr

from labkit.viewer._controller import WindowController
from labkit.viewer._windows import WindowRegistry
from labkit.widgets._static import STATIC_DIR

__all__ = ["ViewerWindow", "WindowController"]


# ---------------------------------------------------------------- the notebook widget
def _viewer_esm() -> Path | str:
    path = STATIC_DIR / "viewer.js"
    if path.is_file():
        return path
    return (
        "export function render({ el }) { el.textContent = 'labkit viewer front end is not built: "
        "run `npm --prefix js install && npm --prefix js run build` in the labkit checkout'; }\n"
        "export default { render };\n"
    )


class ViewerWindow(anywidget.AnyWidget):
    """A viewer window in a notebook: two dims of N-d data as an image, the others as sliders.

    ``source``: a :class:`WindowRegistry` or a ``ManagerServer`` (then ``key`` = window index
    or uid; default the newest window), or a DataArray / numeric ndarray (opens a private window
    on it). The image is drawn by the WebGL2 renderer with axes in coordinate units, a colorbar,
    a linear or log colour scale with a power law (γ), several cursors with row/column profiles
    and exact values, profile widths, ROI and line profiles, dim selectors and transpose,
    keyboard shortcuts and PNG export (docs/viewer.md lists them). What the controls change is
    the window's view state in the registry (``set_view_state``), so linked windows follow and
    workspaces keep it. Slices are cut and binned to the canvas on the kernel side.
    ``height_px``: the largest CSS height of the image.

    Call :meth:`close` (or use it as a context manager) to stop following the registry.

    Raises:
        WindowNotFoundError: ``key`` names no window of the registry.
        TypeError: ``source`` is neither a registry/manager nor array data, or the manager has
            no window yet.
    """

    _esm = _viewer_esm()
    view_id = traitlets.Unicode("").tag(sync=True)
    uid = traitlets.Unicode("").tag(sync=True)
    info = traitlets.Dict().tag(sync=True)
    view = traitlets.Dict().tag(sync=True)
    height_px = traitlets.Int(420).tag(sync=True)

    def __init__(self, source: Any, key: int | str | None = None, **kwargs: Any) -> None:
        check_viewer_keywords(kwargs)
        registry = getattr(source, "windows", source)
        if not isinstance(registry, WindowRegistry):
            registry = WindowRegistry()
            key = registry.add(source).uid
        elif key is None:
            windows = registry.list()
            if not windows:
                raise TypeError("the manager has no windows yet: pass data or show some first")
            key = windows[-1].uid
        self._from_kernel = False
        self._controller = WindowController(registry, key, self._push, self._send_msg)
        state = self._controller.state()
        super().__init__(
            view_id=f"vw{uuid.uuid4().hex[:10]}",
            uid=state["uid"],
            info=state["info"],
            view=state["view"],
            **kwargs,
        )
        self.observe(self._on_view_trait, names=["view"])
        self.on_msg(self._on_custom)

    @property
    def controller(self) -> WindowController:
        return self._controller

    @property
    def data(self) -> xr.DataArray:
        """The DataArray this window shows now."""
        return self._controller.registry.get(self.uid).data

    def _push(self, changes: dict[str, Any]) -> None:
        self._from_kernel = True
        try:
            for name, value in changes.items():
                if getattr(self, name) != value:
                    setattr(self, name, value)
        finally:
            self._from_kernel = False

    def _send_msg(self, content: dict[str, Any], buffers: list) -> None:
        if self.comm is not None:
            self.send(content, buffers or None)

    def _on_view_trait(self, change: dict[str, Any]) -> None:
        if not self._from_kernel:
            self._controller.handle_view(dict(change["new"]))

    def _on_custom(self, _widget: Any, content: Any, buffers: list) -> None:
        self._controller.handle_msg(content)

    def close(self) -> None:
        """Stop following the registry and close the widget (the manager window stays open)."""
        controller = self.__dict__.get("_controller")
        if controller is None:  # __init__ failed before the widget existed
            return
        controller.close()
        super().close()

    def __enter__(self) -> ViewerWindow:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


_OWN_TRAITS = {"view_id", "uid", "info", "view", "comm", "keys", "log"}  # not the caller's


def check_viewer_keywords(kwargs: dict[str, Any]) -> None:
    """Raise ``TypeError`` for keywords a :class:`ViewerWindow` does not take (its widget traits:
    ``height_px``, ``layout``, ...); traitlets would only warn and drop them."""
    from labkit.viewer._inputs import check_keywords

    accepted = sorted(
        n
        for n in ViewerWindow.class_trait_names()
        if not n.startswith("_") and n not in _OWN_TRAITS
    )
    check_keywords("ViewerWindow", kwargs, ["source", "key", *accepted])
