"""What ``show_in_manager`` and ``replace_data`` take: arrays, lists, Datasets, DataTrees, and
erlab's ImageTool keywords translated into a window's view state.

``split_arrays`` turns the input into one ``(name, DataArray)`` per window; ``show_options``
turns keywords into the view (and data changes) each window starts with. Every keyword is either
honoured or refused with a ``TypeError``/``ValueError`` that says what is accepted; nothing is
silently ignored.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import numpy as np
import xarray as xr

from labkit.viewer._hash import as_dataarray
from labkit.viewer._view import COLORMAPS

__all__ = [
    "SHOW_KEYWORDS",
    "ShowOptions",
    "check_keywords",
    "show_options",
    "split_arrays",
    "strict_keywords",
]

P = ParamSpec("P")
R = TypeVar("R")

#: erlab's names for angle coordinates that ``rad2deg=True`` converts (those that are dims)
ANGLE_DIMS = ("phi", "theta", "beta", "alpha", "chi", "xi")

#: keywords of ``show_in_manager`` besides ``data`` and ``target``: labkit's own and erlab's
SHOW_KEYWORDS = (
    "name", "view", "link", "link_group", "link_colors", "cmap", "vmin", "vmax", "gamma",
    "zero_centered", "transpose", "rad2deg", "file_path", "high_contrast",
)  # fmt: skip

# erlab ImageTool keywords labkit does not take, and why (the TypeError says so)
_REFUSED = {
    "state": "labkit windows take their view state as view={...} (see docs/viewer.md)",
    "load_func": "a manager never runs code a client sends; load files with load_in_manager",
    "bench": "labkit measures its viewer with 'labkit bench viewer'",
    "execute": "labkit windows need no Qt event loop",
    "manager": "pass target= to choose the manager",
    "replace": "use replace_data(index, data)",
}


def check_keywords(where: str, given: Iterable[str], accepted: Iterable[str]) -> None:
    """Raise ``TypeError`` for keywords of ``given`` that ``where`` does not take.

    The message names the unknown keywords and lists the accepted ones (with the reason for
    erlab keywords labkit refuses on purpose).
    """
    accepted = list(accepted)
    unknown = [k for k in given if k not in accepted]
    if not unknown:
        return
    reasons = "".join(f"; {k}: {_REFUSED[k]}" for k in unknown if k in _REFUSED)
    raise TypeError(
        f"{where}() got unexpected keyword argument(s) {', '.join(map(repr, unknown))}{reasons}. "
        f"It accepts: {', '.join(accepted)}"
    )


def strict_keywords(fn: Callable[P, R]) -> Callable[P, R]:
    """Make an unknown keyword of ``fn`` raise a ``TypeError`` that lists the accepted ones
    (Python's own error names only the wrong one)."""
    params = inspect.signature(fn).parameters
    accepted = [n for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]

    @functools.wraps(fn)
    def checked(*args: P.args, **kwargs: P.kwargs) -> R:
        if not kwargs.keys() <= params.keys():
            check_keywords(fn.__name__, kwargs, accepted)
        return fn(*args, **kwargs)

    return checked


# ---------------------------------------------------------------- input data -> windows
def _ndim_ok(data: xr.DataArray) -> bool:
    return data.ndim >= 1


def split_arrays(data: Any, what: str = "data") -> list[tuple[str | None, xr.DataArray]]:
    """One ``(window name or None, DataArray)`` per window ``data`` asks for.

    A DataArray or numeric ndarray is one window; a list or tuple of them one each; a Dataset one
    per data variable and a DataTree one per data variable of every node (named ``path/var``),
    skipping 0-d variables (scalars, not images).

    Raises:
        TypeError: something that is not an array (or a list holding one).
        ValueError: a Dataset or DataTree without a variable to show, or an empty list.
    """
    if isinstance(data, xr.DataArray | np.ndarray):
        return [(None, as_dataarray(data))]
    found: list[tuple[str | None, xr.DataArray]]
    if isinstance(data, xr.Dataset):
        found = [(str(k), v) for k, v in data.data_vars.items() if _ndim_ok(v)]
    elif isinstance(data, xr.DataTree):
        found = []
        for node in data.subtree:
            prefix = node.relative_to(data) if node is not data else ""
            for k, v in node.dataset.data_vars.items():
                if _ndim_ok(v):
                    name = f"{prefix}/{k}" if prefix and prefix != "." else str(k)
                    found.append((name, v.rename(k)))
    elif isinstance(data, list | tuple):
        found = []
        for i, item in enumerate(data):
            if not isinstance(item, xr.DataArray | np.ndarray):
                raise TypeError(
                    f"{what}[{i}] is a {type(item).__name__}; a list passed to the viewer holds "
                    "DataArrays or numeric numpy arrays"
                )
            found.append((None, as_dataarray(item)))
    else:
        as_dataarray(data)  # raises the TypeError that says what fits
        raise AssertionError("unreachable")  # pragma: no cover
    if not found:
        raise ValueError(
            f"{what} holds nothing to show: a {type(data).__name__} with no array of at least "
            "one dimension"
        )
    return found


# ---------------------------------------------------------------- keywords -> view state
@dataclass
class ShowOptions:
    """What the keywords of one ``show_in_manager`` call ask for."""

    view: dict[str, Any] = field(default_factory=dict)  # the same for every window
    transpose: bool = False
    rad2deg: bool | tuple[str, ...] = False
    source: str | None = None  # file_path
    link: bool | list = False
    link_group: str | None = None
    link_colors: bool | None = None  # None: the group's rule when joining one, else True

    def view_for(self, data: xr.DataArray) -> dict[str, Any]:
        """The initial view of a window on ``data``."""
        if not self.transpose or data.ndim < 2:
            return dict(self.view)
        rows, cols = self.view.get("image_dims") or [str(d) for d in data.dims[-2:]]
        return {**self.view, "image_dims": [cols, rows]}

    def prepare(self, data: xr.DataArray) -> xr.DataArray:
        """``data`` with angle coordinates converted to degrees when ``rad2deg`` asks for it.

        Raises:
            ValueError: ``rad2deg`` names a coordinate the data does not have.
        """
        if not self.rad2deg:
            return data
        if isinstance(self.rad2deg, bool):
            names = [d for d in ANGLE_DIMS if d in data.dims]
        else:
            names = list(self.rad2deg)
            missing = [n for n in names if n not in data.coords]
            if missing:
                raise ValueError(
                    f"rad2deg names coordinates {missing} that the data does not have "
                    f"(it has {[str(c) for c in data.coords]})"
                )
        return data.assign_coords({n: np.rad2deg(data[n]) for n in names}) if names else data


def _colormap(cmap: Any) -> str:
    if not isinstance(cmap, str):
        raise ValueError(f"cmap must be a colormap name, got {cmap!r}; choose one of {COLORMAPS}")
    name = cmap.strip().lower()
    if name == "grey":
        return "gray"
    if name in COLORMAPS:
        return name
    raise ValueError(
        f"unknown colormap {cmap!r}; labkit windows have {', '.join(COLORMAPS)} "
        "(reversed '_r' maps are not available)"
    )


def show_options(kw: Mapping[str, Any]) -> ShowOptions:
    """Translate the keywords of ``show_in_manager`` (labkit's and erlab's) into options.

    erlab's ``cmap``, ``vmin``, ``vmax``, ``gamma``, ``zero_centered`` become the view's
    ``colormap``, ``contrast_lo``, ``contrast_hi``, ``gamma``, ``zero_centered``; ``transpose``
    swaps the image dims; ``rad2deg`` converts angle coordinates to degrees; ``file_path`` becomes
    the window's source; ``high_contrast=False`` (erlab's default) is accepted.

    Raises:
        TypeError: an unknown keyword (the message lists the accepted ones).
        ValueError: a keyword and ``view=`` set the same view key, or a value labkit cannot show.
    """
    check_keywords("show_in_manager", kw, ("data", "target", *SHOW_KEYWORDS))
    view = dict(kw.get("view") or {})
    if not isinstance(kw.get("view") or {}, Mapping):
        raise ValueError(f"view must be a dict of view-state keys, got {kw['view']!r}")
    mapped: dict[str, Any] = {}
    if kw.get("cmap") is not None:
        mapped["colormap"] = _colormap(kw["cmap"])
    for src, dst in (("vmin", "contrast_lo"), ("vmax", "contrast_hi"), ("gamma", "gamma")):
        if kw.get(src) is not None:
            mapped[dst] = float(kw[src])
    if kw.get("zero_centered"):
        mapped["zero_centered"] = True
    if kw.get("high_contrast"):
        raise ValueError(
            "high_contrast=True is erlab's alternative power-law scaling; labkit windows have one "
            "scale, t ** gamma between the limits: pass gamma= instead"
        )
    clash = sorted(set(mapped) & set(view))
    if clash:
        raise ValueError(f"view= and the keywords both set {clash}; set each once")
    rad2deg = kw.get("rad2deg", False)
    if not isinstance(rad2deg, bool):
        if isinstance(rad2deg, str) or not isinstance(rad2deg, Iterable):
            raise ValueError(f"rad2deg must be True/False or a list of names, got {rad2deg!r}")
        rad2deg = tuple(str(n) for n in rad2deg)
    link = kw.get("link", False)
    if not isinstance(link, bool | list | tuple):
        raise ValueError(f"link must be True/False or a list of window indices/uids, got {link!r}")
    file_path = kw.get("file_path")
    return ShowOptions(
        view={**view, **mapped},
        transpose=bool(kw.get("transpose", False)),
        rad2deg=rad2deg,
        source=str(Path(file_path)) if file_path is not None else None,
        link=list(link) if isinstance(link, tuple) else link,
        link_group=kw.get("link_group"),
        link_colors=None if kw.get("link_colors") is None else bool(kw["link_colors"]),
    )
