"""Multi-run studies (seeds x widths) over any ``concurrent.futures.Executor``; never imports a widget library.

- :func:`sweep`: run a grid of trainings, append each finished run to a JSON-lines file, resume
  after a kill without redoing finished runs.
- :func:`mlp_run`: write-ups 3 and 4's run: train a small net on XOR (or 4 random points) from a Gaussian
  initialisation, record the exact Hessian spectrum, the near-zero count, the final loss and the rank of the
  behavioural gradients.
- :mod:`.skeletons`: write-up 2: L1 fine-tuning, pruning, OOD similarity, aligned skeleton comparison
  (:func:`skeleton_task`, :func:`l1_finetune`, :func:`skeleton_variants`, :func:`ood_similarity`,
  :func:`compare_skeletons`, and :class:`SkeletonStudy`: one setting at a time, cached).
- :mod:`.broad_basins`: write-up 3's small constructions (2-D toy landscapes, nudges of a minimum).
- :mod:`.information_loss`: write-up 4's (the 3-parameter contour model, a soft-target classifier, nets with
  merged inputs, a sum of cosines with minima that are not global).
- :mod:`.shipped`: the large XOR sweeps of notebooks 03 and 04, shipped as data, and the command that makes them.
- :mod:`.ridge`: write-up 1's checks against null models (notebook 01's SLQ moment check, the cyclic
  walk's directions against random steps and against a walk along the curve).
- :mod:`.skeleton_verdicts`: write-up 2's "above 0.6 with one exception" with a tolerance for stray pairs, and
  a bootstrap over seed pairs and OOD inputs (notebook 02).
- :mod:`.verdicts`: shares with 95% Wilson intervals and trends across widths that can come out either way.
- :func:`load_results`, :class:`SweepResult`, :class:`TextProgress`, :func:`default_executor`,
  :func:`local_cluster` (a Dask cluster whose scheduler, workers and dashboard listen on 127.0.0.1 only).

Example:
    >>> from rashomon_widgets.experiments import sweep
    >>> result = sweep(range(20), (2, 3), "runs.jsonl", progress="text")     # doctest: +SKIP
    >>> from distributed import Client                                        # doctest: +SKIP
    >>> from rashomon_widgets.experiments import local_cluster               # doctest: +SKIP
    >>> with local_cluster(2) as cluster, Client(cluster) as client:          # doctest: +SKIP
    ...     result = sweep(range(150), (2, 3, 4), "runs.jsonl", executor=client.get_executor())
"""
from . import broad_basins, information_loss, ridge, skeleton_verdicts, skeletons, verdicts
from .cluster import local_cluster
from .cyclic import (
    Barriers,
    CyclicWalk,
    Directions,
    DirectionVerdict,
    compare_directions,
    cycle_schedule,
    cyclic_walk,
    directions,
    pairwise_barriers,
    project_onto_plane,
)
from .skeletons import (
    SkeletonComparison,
    SkeletonRecord,
    SkeletonStudy,
    SkeletonTask,
    Variant,
    compare_skeletons,
    l1_finetune,
    ood_similarity,
    skeleton_task,
    skeleton_variants,
)
from .sweep import ResultsWarning, SweepResult, TextProgress, default_executor, load_results, mlp_run, sweep

__all__ = [
    # sweeps
    "sweep", "SweepResult", "load_results", "ResultsWarning",
    # runs
    "mlp_run",
    # helpers
    "default_executor", "local_cluster", "TextProgress",
    # write-up 2: skeletons
    "skeleton_task", "SkeletonTask", "l1_finetune", "skeleton_variants", "Variant", "ood_similarity",
    "compare_skeletons", "SkeletonComparison", "SkeletonStudy", "SkeletonRecord",
    # write-up constructions
    "ridge", "shipped", "skeleton_verdicts", "skeletons", "verdicts", "broad_basins", "information_loss",
]
__all__ += ["cyclic_walk", "CyclicWalk", "cycle_schedule", "directions", "Directions", "compare_directions",
            "DirectionVerdict", "pairwise_barriers", "Barriers", "project_onto_plane"]  # write-up 1: cyclic walk


def __getattr__(name):
    # ``shipped`` is imported on first use, so that ``python -m rashomon_widgets.experiments.shipped`` runs
    # the module once, as __main__, and not a second time as an attribute of this package
    if name == "shipped":
        import importlib
        return importlib.import_module(".shipped", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
