"""Numba kernels of the bead tracker: one call tracks a range of beads in one frame.

Why numba: the work per bead is a few passes over a 50×50 ROI with a data-dependent bin per
pixel (a scatter-add). Measured on the 2-core machine (loaded), one sub-pixel radial-profile pass
for 100 beads in batched numpy (distances, weights and two ``np.bincount`` over all beads at
once) took 52 µs per bead, the numba pass below 6 µs: numpy pays for its temporaries. The
kernels are compiled with ``cache=True``: the first use on a fresh machine compiles for about
4 s, later processes load the cache in about 0.4 s (see docs/tracking.md). They are ``nogil``,
so :class:`BeadTracker` runs bead ranges on several threads at once without numba's own
threading layer (which is not safe to call from several Python threads, nor fork-safe).

Algorithm per bead (pixel centres at integer coordinates inside the ROI):

1. **Coarse centre**: the centre of mass of the squared deviations from the ROI mean (its
   background share pulls it a few % towards the ROI centre), then the symmetry axes of the row
   and column projections within ⅛ ROI of it (the mirror autocorrelation ``Σ p[j] p[s−j]``,
   best half-pixel ``s``, parabola). A radially symmetric pattern projects to a symmetric profile
   wherever it sits, so this lands within a few tenths of a pixel for beads up to ~20 px off
   the centre of a 50 px ROI.
2. **Refinement by radial-symmetry fit**: model the ROI as ``f(|p − c|)`` with ``f`` the radial
   profile binned about the current centre, and take Gauss–Newton steps on ``c`` that minimise
   the squared residual over every pixel of the inscribed disc. Each pass bins the profile about
   the new centre and, fused into the same loop, accumulates the step against the previous
   profile. Measured on the ring beads (Poisson, 1000 e⁻/px background, 50 px ROIs): 0.008–
   0.013 px RMS, about 1.3× the Cramér–Rao bound of those images, where the 1-D mirror
   cross-correlation (XCor1D) of the same projections gave 0.022 px with a 0.006 px bias (pixel
   locking of the peak interpolation).
3. **Sub-pixel radial profile**: each pixel's fractional radius ``r·oversample`` is split
   linearly between its two neighbouring bins (weights summed per bin), so the profile has no
   1 px staircase; empty bins near r = 0 are filled from their neighbours.
4. **z**: the profile, normalised (weighted mean 0, RMS 1, weights = annulus areas), is matched
   against the bead's table by weighted squared error; around the best plane the table is
   modelled as a quadratic in z through the plane and its two neighbours and Newton steps find
   the minimum. Measured with a 50 nm table: bias ≤ 0.5 nm across a step (a parabola through
   three squared errors gave up to 1.4 nm), RMS as the parabola's.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["FLAG_MISSING", "FLAG_OFF_CENTRE", "FLAG_POOR_MATCH", "FLAG_Z_RANGE", "track_range"]

# quality bits (see labkit.processing.tracking.Quality)
FLAG_MISSING = 1
FLAG_OFF_CENTRE = 2
FLAG_Z_RANGE = 4
FLAG_POOR_MATCH = 8

# fast maths without the no-NaN/no-inf assumptions (NaN checks must keep working)
_FM = {"nsz", "arcp", "contract", "afn", "reassoc"}


def _jit(fn):
    """``njit`` with the on-disk cache, or without it where numba finds no writable cache
    directory (a read-only install without a home cache): then every process compiles once."""
    try:
        return njit(nogil=True, cache=True, fastmath=_FM)(fn)
    except RuntimeError:  # "cannot cache function ...: no locator available"
        return njit(nogil=True, cache=False, fastmath=_FM)(fn)


@_jit
def _load(frame, top, left, roi, px, py):
    """Copy the ROI into ``roi`` (float32) and its column and row projections, less their means,
    into ``px`` and ``py``; returns the ROI's mean."""
    size = roi.shape[0]
    px[:] = 0.0
    total = 0.0
    for i in range(size):
        row = np.float32(0.0)  # a local sum: adding into py[i] would chain through memory
        for j in range(size):
            v = np.float32(frame[top + i, left + j])
            roi[i, j] = v
            px[j] += v
            row += v
        py[i] = row
        total += row
    mean = total / (size * size)
    offset = np.float32(mean * size)
    for i in range(size):
        px[i] -= offset
        py[i] -= offset
    return mean


@_jit
def _mirror_score(p, s):
    """Mean of ``p[j] * p[s - j]`` over the pairs inside ``p`` (symmetry about ``s / 2``)."""
    n = p.size
    j0 = max(0, s - (n - 1))
    j1 = min(n - 1, s)
    acc = np.float32(0.0)
    for j in range(j0, j1 + 1):
        acc += p[j] * p[s - j]
    return acc / (j1 - j0 + 1)


@_jit
def _mirror_axis(p, lo, hi):
    """Symmetry axis of ``p`` in ``[lo, hi]``: best whole pixel, then best half pixel next to
    it, refined by a parabola through the half-pixel scores around it."""
    s_lo = int(math.ceil(2.0 * lo))
    s_hi = int(math.floor(2.0 * hi))
    best = -1e300
    s_best = s_lo
    for s in range(s_lo, s_hi + 1, 2):
        v = _mirror_score(p, s)
        if v > best:
            best = v
            s_best = s
    a = _mirror_score(p, s_best - 1) if s_best > s_lo else -1e300
    c = _mirror_score(p, s_best + 1) if s_best < s_hi else -1e300
    if a > best or c > best:  # the best half-pixel position is a neighbour
        s_best = s_best - 1 if a > c else s_best + 1
        best = max(a, c)
        if s_best <= s_lo or s_best >= s_hi:
            return s_best / 2.0
        a = _mirror_score(p, s_best - 1)
        c = _mirror_score(p, s_best + 1)
    elif s_best == s_lo or s_best == s_hi:
        return s_best / 2.0
    den = a - 2.0 * best + c
    off = 0.5 * (a - c) / den if den < 0.0 else 0.0
    return (s_best + off) / 2.0


@_jit
def _coarse(roi, mean, px, py, window):
    """(cy, cx): the centre of mass of the squared deviations from the mean (rings and spots
    alike; the background's share pulls it a few % towards the ROI centre), then the symmetry
    axes of the row and column projections within ``window`` px of it."""
    size = roi.shape[0]
    total = sy = sx = 0.0
    for i in range(size):
        row = row_x = np.float32(0.0)
        for j in range(size):
            d = roi[i, j] - np.float32(mean)
            d2 = d * d
            row += d2
            row_x += d2 * np.float32(j)
        total += row
        sy += row * i
        sx += row_x
    if total <= 0.0:
        return (size - 1) / 2.0, (size - 1) / 2.0
    gy = sy / total
    gx = sx / total
    edge = 1.5
    cy = _mirror_axis(py, max(edge, gy - window), min(size - 1 - edge, gy + window))
    cx = _mirror_axis(px, max(edge, gx - window), min(size - 1 - edge, gx + window))
    return cy, cx


@_jit
def _finish_profile(prof, wsum):
    """Divide the binned sums by their weights; fill empty bins from the nearest filled ones."""
    nb = prof.size
    last = -1
    for b in range(nb):
        if wsum[b] > 1e-6:
            prof[b] /= wsum[b]
            if last < b - 1:  # fill the gap (last, b)
                for g in range(last + 1, b):
                    if last < 0:
                        prof[g] = prof[b]
                    else:
                        t = (g - last) / (b - last)
                        prof[g] = prof[last] * (1.0 - t) + prof[b] * t
            last = b
    if last < 0:
        prof[:] = 0.0
    else:
        for g in range(last + 1, nb):
            prof[g] = prof[last]


@_jit
def _pass(roi, cy, cx, oversample, model, deriv, fit, binning, prof, wsum, hist, out3, rows):
    """If ``binning``, bin the radial profile about (cy, cx) into ``prof``/``wsum``; if ``fit``,
    accumulate a Gauss–Newton step of the centre against ``model`` (with derivative ``deriv``).

    Only pixels inside the profile's circle are visited, in float32 with float64 sums (float32
    halved the time; distances < 64 px lose nothing). Each row is done in three loops: radii,
    bins and weights into ``rows`` (4, size) — a loop the compiler vectorises —, then the
    scatter into the histograms, then the fit (vectorised, gathers). Even and odd pixels go to
    separate rows of ``hist`` (4, bins), so neighbours, which mostly share a bin, do not chain
    their adds through memory. Writes (dy, dx, residual mean square) into ``out3``.
    """
    f32 = np.float32
    size = roi.shape[0]
    nb = prof.size
    r_max = (nb - 1) / oversample
    scale = f32(oversample)
    top = f32(nb - 1.001)
    one = f32(1.0)
    half = f32(0.5)
    cy32 = f32(cy)
    cx32 = f32(cx)
    radius, weight, bins, offset = rows[0], rows[1], rows[2], rows[3]
    if binning:
        hist[:] = 0.0
    a11 = a12 = a22 = g1 = g2 = 0.0
    res2 = 0.0
    count = 0
    for i in range(size):
        dy = f32(i) - cy32
        span2 = r_max * r_max - dy * dy
        if span2 <= 0.0:
            continue
        span = math.sqrt(span2)
        j0 = max(0, int(math.ceil(cx - span)))
        n = min(size - 1, int(math.floor(cx + span))) - j0 + 1
        for q in range(n):
            dx = f32(j0 + q) - cx32
            r = np.sqrt(dx * dx + dy * dy)
            f = min(r * scale, top)
            b = np.floor(f)
            radius[q] = r
            weight[q] = f - b
            bins[q] = b
            offset[q] = dx
        if binning:
            for q in range(n):
                b = np.int32(bins[q])
                w = weight[q]
                v = roi[i, j0 + q]
                row = q & 1
                hist[row, b] += (one - w) * v
                hist[row, b + 1] += w * v
                hist[2 + row, b] += one - w
                hist[2 + row, b + 1] += w
        if fit:
            r11 = r12 = r22 = rg1 = rg2 = rr = f32(0.0)
            for q in range(n):
                b = np.int32(bins[q])
                w = weight[q]
                r = radius[q]
                res = roi[i, j0 + q] - (model[b] * (one - w) + model[b + 1] * w)
                slope = (deriv[b] * (one - w) + deriv[b + 1] * w) / max(r, half)
                if r < half:  # the centre pixel says nothing about where the centre is
                    slope = f32(0.0)
                    res = f32(0.0)
                jy = -slope * dy
                jx = -slope * offset[q]
                r11 += jy * jy
                r12 += jy * jx
                r22 += jx * jx
                rg1 += jy * res
                rg2 += jx * res
                rr += res * res
            a11 += r11
            a12 += r12
            a22 += r22
            g1 += rg1
            g2 += rg2
            res2 += rr
            count += n
    if binning:
        for b in range(nb):
            prof[b] = hist[0, b] + hist[1, b]
            wsum[b] = hist[2, b] + hist[3, b]
        _finish_profile(prof, wsum)
    det = a11 * a22 - a12 * a12
    if fit and det > 0.0:
        out3[0] = (a22 * g1 - a12 * g2) / det
        out3[1] = (a11 * g2 - a12 * g1) / det
    else:
        out3[0] = 0.0
        out3[1] = 0.0
    out3[2] = res2 / count if count > 0 else 0.0


@_jit
def _derivative(prof, oversample, deriv):
    """Central-difference slope of the profile per pixel of radius."""
    nb = prof.size
    for b in range(1, nb - 1):
        deriv[b] = (prof[b + 1] - prof[b - 1]) * oversample * 0.5
    deriv[0] = 0.0
    deriv[nb - 1] = deriv[nb - 2]


@_jit
def _normalise(prof, weights, out):
    """``out`` = prof with weighted mean 0 and weighted RMS 1; returns the weighted RMS before."""
    sw = 0.0
    s = 0.0
    for b in range(prof.size):
        sw += weights[b]
        s += weights[b] * prof[b]
    mean = s / sw
    ss = 0.0
    for b in range(prof.size):
        d = prof[b] - mean
        out[b] = d
        ss += weights[b] * d * d
    rms = math.sqrt(ss / sw)
    scale = 1.0 / rms if rms > 0.0 else 0.0
    for b in range(prof.size):
        out[b] *= scale
    return rms


@_jit
def _lookup(pn, table, weights, sse):
    """(fractional plane index, weighted correlation) of normalised profile ``pn`` in ``table``."""
    n_planes, nb = table.shape
    sw = 0.0
    for b in range(nb):
        sw += weights[b]
    best = 1e300
    k = 0
    for p in range(n_planes):
        acc = 0.0
        for b in range(nb):
            d = pn[b] - table[p, b]
            acc += weights[b] * d * d
        sse[p] = acc
        if acc < best:
            best = acc
            k = p
    t = 0.0
    if 0 < k < n_planes - 1:  # quadratic model of the table around plane k, Newton on the error
        for _ in range(4):
            g = 0.0
            h = 0.0
            for b in range(nb):
                d1 = 0.5 * (table[k + 1, b] - table[k - 1, b])
                d2 = table[k + 1, b] - 2.0 * table[k, b] + table[k - 1, b]
                slope = d1 + t * d2
                res = pn[b] - (table[k, b] + t * d1 + 0.5 * t * t * d2)
                g += weights[b] * res * slope
                h += weights[b] * (slope * slope - res * d2)
            if h <= 0.0:
                break
            t = min(1.0, max(-1.0, t + g / h))
    return k + t, 1.0 - best / (2.0 * sw)


@_jit
def track_range(
    frame, tops, lefts, lo, hi,  # frame (H, W), ROI origins (n,), beads [lo, hi)
    oversample, n_iter, window, max_offset, min_snr, min_match,
    tables, table_of, table_z, weights,  # (T, planes, nb), (n,) int (-1: none), (planes,), (nb,)
    out, profiles,  # (n, 6) x, y, z, flags, snr, match; (n, nb) normalised profiles
    roi, px, py, prof_a, prof_b, wsum, hist, deriv, sse, step, rows,  # scratch of this thread
):  # fmt: skip
    """Track beads ``lo``…``hi - 1`` of one frame (see the module docstring)."""
    size = roi.shape[0]
    mid = (size - 1) / 2.0
    n_planes = table_z.size
    for k in range(lo, hi):
        mean = _load(frame, tops[k], lefts[k], roi, px, py)
        cy, cx = _coarse(roi, mean, px, py, window)
        flags = 0
        model = prof_a
        binned = prof_b
        _pass(roi, cy, cx, oversample, model, deriv, False, True, model, wsum, hist, step, rows)
        for it in range(n_iter):
            # the first step is taken where the model was binned: no new profile to bin there
            _derivative(model, oversample, deriv)
            _pass(
                roi, cy, cx, oversample, model, deriv, True, it > 0, binned, wsum, hist, step, rows
            )
            cy += step[0]
            cx += step[1]
            if it > 0:
                model, binned = binned, model
            if not (0.0 <= cy <= size - 1 and 0.0 <= cx <= size - 1):
                flags |= FLAG_MISSING  # the fit ran out of the ROI: no bead to fit
                break
        if abs(cy - mid) > max_offset or abs(cx - mid) > max_offset:
            flags |= FLAG_OFF_CENTRE
        pn = profiles[k]
        amplitude = _normalise(model, weights, pn)
        noise = math.sqrt(step[2]) if step[2] > 0.0 else 1e-30
        snr = amplitude / noise
        z = math.nan
        match = math.nan
        if flags & FLAG_MISSING or snr < min_snr:
            flags |= FLAG_MISSING
        elif table_of[k] >= 0:
            index, match = _lookup(pn, tables[table_of[k]], weights, sse)
            if index <= 0.0 or index >= n_planes - 1:
                flags |= FLAG_Z_RANGE
            i0 = min(int(index), n_planes - 2)
            frac = index - i0
            z = table_z[i0] * (1.0 - frac) + table_z[i0 + 1] * frac
            if match < min_match:
                flags |= FLAG_POOR_MATCH
        if flags & FLAG_MISSING:
            out[k, 0] = math.nan
            out[k, 1] = math.nan
        else:
            out[k, 0] = lefts[k] + cx
            out[k, 1] = tops[k] + cy
        out[k, 2] = z
        out[k, 3] = flags
        out[k, 4] = snr
        out[k, 5] = match
