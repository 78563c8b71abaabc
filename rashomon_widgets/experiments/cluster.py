"""A Dask cluster on this machine that nobody else can reach.

``distributed.LocalCluster(dashboard_address=":0")`` serves its dashboard on every interface (0.0.0.0),
while its scheduler and workers listen on 127.0.0.1 only: on a shared or cloud machine anyone on the
network could watch (and, through the dashboard's pages, learn about) the sweep. :func:`local_cluster`
binds everything, the dashboard included, to 127.0.0.1.
"""
from __future__ import annotations

from ..core.validation import check_int

__all__ = ["LOOPBACK", "local_cluster"]

#: the only interface the package's servers listen on
LOOPBACK = "127.0.0.1"


def require_distributed():
    """Dask's ``distributed`` module, imported on first use.

    Dask is optional (the ``dask`` extra): only sweeps and grids on a cluster need it, so the package imports
    it where a cluster is made, and says how to get it where it is missing.

    Returns:
        the ``distributed`` module.

    Raises:
        ImportError: ``distributed`` is not installed.
    """
    try:
        import distributed
    except ImportError as exc:
        raise ImportError("a Dask cluster needs dask and distributed, which are not installed: "
                          "pip install 'rashomon-widgets[dask]'") from exc
    return distributed


def local_cluster(n_workers: int = 2, threads_per_worker: int = 1, **kwargs):
    """A ``distributed.LocalCluster`` of worker processes whose scheduler, workers and dashboard all
    listen on 127.0.0.1 (on free ports).

    Args:
        n_workers: worker processes.
        threads_per_worker: threads in each.
        **kwargs: more ``LocalCluster`` options (``host`` and ``dashboard_address`` are fixed).

    Returns:
        the cluster (a context manager; ``distributed.Client(cluster)`` connects to it).

    Raises:
        ValueError: ``host`` or ``dashboard_address`` passed (they are what this function fixes).

    Example:
        >>> from distributed import Client                                  # doctest: +SKIP
        >>> with local_cluster(2) as cluster, Client(cluster) as client:    # doctest: +SKIP
        ...     executor = client.get_executor()
    """
    LocalCluster = require_distributed().LocalCluster

    fixed = sorted({"host", "dashboard_address", "processes"} & set(kwargs))
    if fixed:
        raise ValueError(f"local_cluster: {fixed} are fixed (processes on {LOOPBACK} only); got them in kwargs")
    return LocalCluster(n_workers=check_int(n_workers, "n_workers"),
                        threads_per_worker=check_int(threads_per_worker, "threads_per_worker"),
                        processes=True, host=LOOPBACK, dashboard_address=f"{LOOPBACK}:0", **kwargs)
