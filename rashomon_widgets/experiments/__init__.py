"""Multi-run studies (seeds x widths) over any ``concurrent.futures.Executor``; never imports a widget library.

- :func:`sweep`: run a grid of trainings, append each finished run to a JSON-lines file, resume
  after a kill without redoing finished runs.
- :func:`xor_run`: write-up 3's run: train an XOR net from a Gaussian initialisation, record the exact
  Hessian spectrum, the near-zero count, the final loss and the rank of the behavioural gradients.
- :func:`load_results`, :class:`SweepResult`, :class:`TextProgress`, :func:`default_executor`.

Example:
    >>> from rashomon_widgets.experiments import sweep
    >>> result = sweep(range(20), (2, 3), "runs.jsonl", progress="text")     # doctest: +SKIP
    >>> from distributed import Client                                        # doctest: +SKIP
    >>> result = sweep(range(150), (2, 3, 4), "runs.jsonl",
    ...                executor=Client().get_executor())                      # doctest: +SKIP
"""
from .sweep import SweepResult, TextProgress, default_executor, load_results, sweep, xor_run

__all__ = [
    # sweeps
    "sweep", "SweepResult", "load_results",
    # runs
    "xor_run",
    # helpers
    "default_executor", "TextProgress",
]
