"""Analysis of spooled series on Dask: :func:`map_series` runs a function or a processing node
over every frame (or every shard-sized chunk) of a series — also one still being written — on
``dask.distributed`` and returns xarray with the series' coordinates.

``dask[distributed]`` is imported only when :func:`map_series` runs.
"""

from labkit.analysis._cluster import AnalysisCluster, start_cluster
from labkit.analysis._map import AnalysisError, map_series

__all__ = ["AnalysisCluster", "AnalysisError", "map_series", "start_cluster"]
