"""Processing on arrays, free of any engine: the same functions run in live nodes, on series and in
Dask tasks.

::

    from labkit.processing import Roi, roi_stats, frame_stats, bin_mean

    roi_stats(frame, [Roi("bead1", 10, 20, 16, 16)], stats=("mean", "max"))
    frame_stats(frame)                    # min, max, mean, saturated pixels
    bin_mean(frame, 2)                    # 2 x 2 block means
"""

from labkit.processing._binning import bin_mean
from labkit.processing._stats import ROI_STATS, Roi, frame_stats, roi_channels, roi_stats

__all__ = [
    "ROI_STATS",
    "Roi",
    "bin_mean",
    "frame_stats",
    "roi_channels",
    "roi_stats",
]
