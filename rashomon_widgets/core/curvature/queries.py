"""Curvature questions a Landscape answers: eigenpairs, spectrum, density, trace, null space, tangent."""
from __future__ import annotations

import torch

from ..validation import check_callable, check_choice, check_tolerance, check_vectors
from . import eigensolver, nullspace, policy, spectra, spectral_density, trace_estimators
from .spectra import Eigenpairs, Spectrum, default_tol


class CurvatureQueries:
    """Eigenpairs, the exact spectrum, density, trace, null space and tangent projection: mixed into
    :class:`Landscape`, answered by the algorithms of this package on its operators."""

    def _on_hessian(self, theta: torch.Tensor, algorithm, *args, **kwargs):
        """``algorithm(op, *args, **kwargs)`` on the Hessian operator at ``theta``, whose graphs are freed after.

        The result carries its own ``num_products``; the deprecated per-thread ``last_num_products`` is
        kept equal to it.
        """
        with self.hessian_operator(theta) as op:
            return self._counted(algorithm(op, *args, **kwargs))

    def _counted(self, result):
        """Record ``result.num_products`` for the deprecated ``Landscape.last_num_products``; return it."""
        self._local.last_num_products = result.num_products
        return result

    def eigs(self, k: int = 5, which: str = "largest", theta=None, *, method: str = "auto", **kwargs):
        """The ``k`` largest or smallest Hessian eigenpairs.

        Args:
            k: how many, 1 <= k <= P.
            which: ``"largest"`` (descending) or ``"smallest"`` (ascending).
            theta: (P,); default the trained parameters.
            method: ``"lanczos"`` (matrix-free, :func:`eigensolver.lanczos_eigs`), ``"dense"``
                (``eigh``), or ``"auto"`` (dense for small models by :class:`SizePolicy`, or when
                k >= P - 1).
            **kwargs: Lanczos options passed to :func:`eigensolver.lanczos_eigs`: ``tol`` (relative
                eigenvalue accuracy, default 1e-6), ``ncv``, ``maxiter``, ``seed``, ``start`` (a warm
                start: the eigenvectors at a nearby point), ``solver`` (``"arpack"`` for scipy's
                ``eigsh``), ``progress``.

        Returns:
            :class:`Eigenpairs` ``(values (k,), vectors (P, k))``, vectors orthonormal, with the
            ``num_products`` they cost (P for the dense Hessian).

        Raises:
            ValueError: k out of range, an unknown option, or a loss at ``theta`` that is not finite.
            TypeError: a ``progress`` that is not callable.

        Example:
            >>> values, vectors = ls.eigs(5)                    # doctest: +SKIP
            >>> nearby = ls.theta + 0.01 * vectors[:, 0]        # doctest: +SKIP
            >>> ls.eigs(5, theta=nearby, start=vectors)         # fewer products  # doctest: +SKIP
        """
        point = self.check_theta(theta)
        check_choice(method, "method", ("auto", "lanczos", "dense"))
        check_callable(kwargs.get("progress"), "progress", "progress(done, total)", optional=True)
        if method == "auto":
            method = "dense" if (self.policy.is_small(self.num_params) or k >= self.num_params - 1) else "lanczos"
        if method == "dense":
            values, vectors = eigensolver.dense_eigs(self.hessian(point), k, which)
            return self._counted(Eigenpairs(values, vectors, num_products=self.num_params))
        return self._on_hessian(point, eigensolver.lanczos_eigs, k, which, **kwargs)

    def spectrum(self, theta=None, *, tol: float | None = None, vectors: bool = False) -> Spectrum:
        """All P Hessian eigenvalues, exact (dense ``eigh``), with the package's near-zero rule.

        Args:
            theta: (P,); default the trained parameters.
            tol: relative near-zero tolerance; default :func:`default_tol` of the model's dtype.
            vectors: also keep the eigenvectors (``Spectrum.null_vectors()``).

        Returns:
            a :class:`Spectrum` (values ascending; ``num_near_zero``, ``near_zero``, ``rank``; ``num_products``
            is P, the products' worth of the dense Hessian).

        Raises:
            ValueError: P above ``dense_limit``, or a loss at ``theta`` that is not finite.
        """
        tol = default_tol(self.dtype) if tol is None else check_tolerance(tol)
        return self._counted(spectra.spectrum_of(self.hessian(theta), tol, vectors=vectors,
                                                  num_products=self.num_params))

    def density(self, theta=None, **kwargs):
        """Eigenvalue density of the Hessian (stochastic Lanczos quadrature). See :func:`spectral_density.density`.

        Lanczos vectors are held within ``memory_budget`` (``max_vectors``, unless given): on a large
        model the deflating run is shorter than its default 400 steps (see :func:`spectral_density.density`). On a
        heavy model (one forward pass over the data above :data:`policy.HEAVY_FORWARD` multiply-adds) and
        with none of ``num_vectors``, ``num_steps`` and ``deflation_steps`` given, the budget is
        :data:`policy.HEAVY_DENSITY` (180 products instead of up to 800); ``rtol=`` asks for more runs
        until the trace is as accurate as wanted.

        Args:
            theta: (P,); default the trained parameters.
            **kwargs: passed to :func:`spectral_density.density`.

        Returns:
            what :func:`spectral_density.density` returns (unpacks as ``(grid, density)``).

        Raises:
            ValueError: a loss at ``theta`` that is not finite, or a bad option.
        """
        kwargs.setdefault("max_vectors", self.max_vectors())
        if not {"num_vectors", "num_steps", "deflation_steps"} & kwargs.keys() and \
                policy.is_heavy(self):
            kwargs.update(policy.HEAVY_DENSITY)
        return self._on_hessian(self.check_theta(theta), spectral_density.density, **kwargs)

    def max_vectors(self) -> int:
        """How many parameter vectors fit ``memory_budget`` (at least 3): the Lanczos vectors a density or
        spectrum estimate holds at once.

        Returns:
            an int.

        Example:
            >>> ls.max_vectors()     # 512 MiB of float32 vectors of a 1.2M-parameter model    # doctest: +SKIP
            111
        """
        return max(3, self.memory_budget // (self.num_params * self._theta.element_size()))

    def trace(self, theta=None, *, method: str = "auto", **kwargs):
        """The trace of the Hessian. See :func:`trace_estimators.trace`.

        Args:
            theta: (P,); default the trained parameters.
            method: ``"auto"`` is ``"exact"`` for small models (:class:`SizePolicy`), else the
                estimator of :func:`trace_estimators.trace`.
            **kwargs: passed to :func:`trace_estimators.trace`.

        Returns:
            what :func:`trace_estimators.trace` returns (a float with an error estimate).

        Raises:
            ValueError: a loss at ``theta`` that is not finite, or a bad option.
        """
        if method == "auto" and self.policy.is_small(self.num_params):
            method = "exact"
        return self._on_hessian(self.check_theta(theta), trace_estimators.trace, method=method, **kwargs)

    def null_space(self, theta=None, tol: float | None = None, *, method: str = "auto") -> torch.Tensor:
        """Orthonormal basis of the **zero-curvature** directions at ``theta``.

        Args:
            theta: (P,); default the trained parameters.
            tol: relative tolerance (:class:`Spectrum`'s rule); default :func:`default_tol`.
            method: ``"hessian"``: eigenvectors of the dense Hessian with near-zero eigenvalues
                (exact; P <= ``dense_limit``). ``"jacobian"``: the null space of the behaviour's
                Jacobian, the directions that keep every output (equal to the Hessian's null space at a
                global minimum of a sum-of-squares loss; a few sampled Hessian products check that,
                and a :class:`~.nullspace.CurvatureWarning` says when they find curvature).
                ``"auto"``: ``"hessian"``, or a ``ValueError`` above ``dense_limit``.

        Returns:
            (P, d) tensor with orthonormal columns (d may be 0).

        Raises:
            ValueError: ``method="auto"`` or ``"hessian"`` above the dense limit (the message names
                the alternatives), an unknown method or a bad tolerance.
        """
        check_choice(method, "method", ("auto", "hessian", "jacobian"))
        tol = default_tol(self.dtype) if tol is None else check_tolerance(tol)
        point = self.check_theta(theta)
        if method in ("auto", "hessian") and not self.policy.fits_dense(self.num_params ** 2):
            raise ValueError(
                f"null_space: P={self.num_params:,} is above dense_limit={self.dense_limit:,}, and the "
                "Hessian's null space (zero-curvature directions) is only computed exactly. Choose: "
                "rw.Landscape(..., dense_limit=N) with N >= P for the exact answer; "
                "ls.null_space(method='jacobian') for the directions that keep every output (equal to "
                "the Hessian's null space at a global minimum of a sum-of-squares loss; a check warns "
                "otherwise); or ls.project_tangent(v) to project single directions matrix-free.")
        if method in ("auto", "hessian"):
            return self.spectrum(point, tol=tol, vectors=True).null_vectors()
        basis = nullspace.jacobian_null_space(self.jacobian(point), tol)
        with self.hessian_operator(point) as op:
            if self.policy.is_small(self.num_params) or self.num_params < 4:
                scale = float(torch.linalg.eigvalsh(op.to_dense()).abs().max())
            else:  # the top eigenvalue by magnitude: both ends, loosely (a scale, not an answer)
                scale = max(float(eigensolver.lanczos_eigs(op, 1, which, tol=1e-3)[0].abs()[0])
                            for which in ("largest", "smallest"))
            ratio = nullspace.sampled_curvature(op, basis, scale)
        nullspace.warn_if_curved(ratio, tol, f"the Jacobian's null space ({basis.shape[1]} directions)")
        return basis

    def project_tangent(self, v: torch.Tensor, theta=None, *, method: str = "auto",
                        tol: float | None = None, max_iter: int = 500) -> torch.Tensor:
        """Project ``v`` onto the null space of the behaviour's Jacobian: ``v - J^T (J J^T)^+ J v``.

        Args:
            v: direction(s), (P,) or (P, K).
            theta: (P,); default the trained parameters.
            method: ``"dense"`` (pseudo-inverse of the dense Jacobian), ``"lsqr"`` (matrix-free: scipy
                ``lsqr`` with one JVP and one VJP per iteration) or ``"auto"`` (dense while J fits the
                dense limit).
            tol: the pseudo-inverse's relative cut-off (dense; default 1e-7 float64, 1e-4 float32), or
                lsqr's stopping tolerance (default 1e-10 / 1e-6).
            max_iter: lsqr iterations at most.

        Returns:
            the projected direction(s), shaped like ``v``; ``ls.jvp(result)`` is (nearly) zero.
        """
        point = self.check_theta(theta)
        v = check_vectors(v, self.num_params, self.dtype, self.device, allow_matrix=True)
        check_choice(method, "method", ("auto", "dense", "lsqr"))
        if method == "auto":
            k = self.outputs(point).numel()
            method = "dense" if self.policy.fits_dense(k * self.num_params) else "lsqr"
        if tol is None:
            f64 = self.dtype == torch.float64
            tol = (1e-7 if f64 else 1e-4) if method == "dense" else (1e-10 if f64 else 1e-6)
        if method == "dense":
            return nullspace.project_tangent_dense(self.jacobian(point), v, tol)
        return nullspace.project_tangent_lsqr(self.jacobian_operator(point), v, tol, max_iter)
