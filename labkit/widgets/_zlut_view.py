"""ZLUTView: a z lookup table as an image (radial profile against z, one bead) and its quality.

::

    ZLUTView(zlut)            # or ZLUTView(zlut, bead="bead3"); view.bead = "bead1"

The image has one row per z plane (top: the lowest z) and one column per profile bin (left: the
bead centre), in the viridis colormap; the form beside it names the table's planes, range and
step, and per bead the predicted single-frame z noise (median and worst plane, from
``zlut.z_noise_nm``) — beads whose worst plane is above ``warn_nm`` are flagged.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets
import numpy as np

from labkit.widgets._form import Form
from labkit.widgets._frontends import close_with_comm

__all__ = ["ZLUTView", "zlut_quality"]

#: worst-plane predicted z noise (nm) above which a bead is flagged
WARN_NM = 10.0


def zlut_quality(zlut: Any, warn_nm: float = WARN_NM) -> list[tuple[bool, str]]:
    """``[(ok, "bead3: z noise 1.6 nm median, 4.2 nm worst at z 0.95 µm (5 frames/plane)")]``
    per bead: ok when its worst plane's predicted single-frame z noise is at most ``warn_nm``."""
    out = []
    for k, bead in enumerate(zlut.beads):
        noise = np.asarray(zlut.z_noise_nm[k], dtype=np.float64)
        frames = int(np.min(zlut.frames[k]))
        if not np.isfinite(noise).any():
            out.append((True, f"{bead}: {frames} frame(s) per plane (no noise estimate)"))
            continue
        worst = int(np.nanargmax(noise))
        text = (
            f"{bead}: z noise {np.nanmedian(noise):.1f} nm median, {noise[worst]:.1f} nm worst "
            f"at z {zlut.z_um[worst]:.2f} µm ({frames} frames/plane)"
        )
        out.append((bool(noise[worst] <= warn_nm), text))
    return out


def profile_image(zlut: Any, bead: str) -> np.ndarray:
    """The bead's profiles as uint16, (planes, bins), full range over the table."""
    profiles = zlut.profiles[list(zlut.beads).index(bead)].astype(np.float64)
    lo, hi = float(profiles.min()), float(profiles.max())
    scaled = (profiles - lo) / (hi - lo if hi > lo else 1.0)
    return np.round(scaled * 65535).astype(np.uint16)


class ZLUTView(widgets.VBox):
    """The table of ``zlut`` (a :class:`~labkit.processing.tracking.ZLUT`): the profiles of
    ``bead`` (default the first) as an image, and the quality of every bead.

    Raises:
        ValueError: ``bead`` is not in the table (names those it has).
    """

    def __init__(self, zlut: Any, bead: str | None = None, warn_nm: float = WARN_NM) -> None:
        from labkit.widgets._liveview import LiveView
        from labkit.widgets._liveview_sources import ArraySource

        bead = bead or zlut.beads[0]
        _check(zlut, bead)  # before this widget exists: a refused bead leaves nothing behind
        self.zlut = zlut
        self.warn_nm = float(warn_nm)
        self._source = ArraySource(profile_image(zlut, bead))
        self.image = LiveView(self._source, colormap="viridis", contrast=(0, 65535))
        quality = zlut_quality(zlut, self.warn_nm)
        r = Form.row
        self.form = Form(
            [
                r("choice", "bead", label="bead", options=[(b, b) for b in zlut.beads]),
                r("label", "planes", label="planes"),
                r("label", "step", label="step", units="nm"),
                r("label", "noise", label="median z noise", units="nm"),
                r("checks", "quality", label="per bead"),
            ],
            values={
                "bead": bead,
                "planes": f"{zlut.z_um.size} from {zlut.z_um[0]:.2f} to {zlut.z_um[-1]:.2f} µm",
                "step": round(zlut.step_um * 1e3, 1),
                "noise": _median(zlut.z_noise_nm),
                "quality": [[ok, text] for ok, text in quality],
            },
            title="z table",
            on_edit=self._on_edit,
            css_class="labkit-zlut",
        )
        bad = [text for ok, text in quality if not ok]
        if bad:
            self.form.set_status(
                f"{len(bad)} bead(s) above {self.warn_nm:g} nm at some plane: more frames per "
                "plane, or leave them out",
                "warning",
            )
        super().__init__([self.image, self.form], layout=widgets.Layout(width="100%"))
        self.add_class("labkit-zlut-view")
        close_with_comm(self)

    @property
    def bead(self) -> str:
        """The bead whose profiles the image shows; settable."""
        return str(self.form.values["bead"])

    @bead.setter
    def bead(self, name: str) -> None:
        self._on_edit("bead", name)
        self.form.set_value("bead", name)

    def _on_edit(self, name: str, value: Any) -> Any:
        if name != "bead":
            raise ValueError(f"{name} is read-only")
        _check(self.zlut, value)
        self._source.update(profile_image(self.zlut, value))
        return value

    def _display_(self) -> Any:
        import marimo as mo

        return mo.vstack([self.image, self.form])

    def close(self) -> None:
        for part in (getattr(self, "image", None), getattr(self, "form", None)):
            if part is not None:  # (a view whose constructor refused its bead has none)
                part.close()
        super().close()


def _check(zlut: Any, bead: str) -> None:
    if bead not in zlut.beads:
        raise ValueError(f"no bead {bead!r} in this table; beads: {list(zlut.beads)}")


def _median(noise: np.ndarray) -> float | None:
    finite = np.asarray(noise, dtype=np.float64)
    return round(float(np.nanmedian(finite)), 2) if np.isfinite(finite).any() else None
