"""`SpectrumView`: a histogram of the exact Hessian spectrum, or the SLQ density for large models,
with the near-zero band marked and its count shown."""
from __future__ import annotations

import bqplot as bq
import ipywidgets as widgets
import numpy as np

from ..core import Spectrum


class SpectrumView(widgets.VBox):
    """Hessian eigenvalues at a point.

    ``show_spectrum(spectrum)`` draws a histogram of exact eigenvalues (small models) and shows the
    near-zero count the :class:`rw.core.Spectrum` carries (the rule every notebook uses); ``show_density(grid, density)`` draws a
    stochastic-Lanczos density (large models). The label under the plot states the count.

    Example:
        >>> view = rw.SpectrumView()                               # doctest: +SKIP
        >>> view.show_spectrum(ls.spectrum())                      # doctest: +SKIP
    """

    def __init__(self, *, bins: int = 30, **kwargs):
        self.bins = bins
        sx, sy = bq.LinearScale(), bq.LinearScale(min=0)
        self.bars = bq.Bars(x=np.zeros(1), y=np.zeros(1), scales={"x": sx, "y": sy}, colors=["#3b75af"],
                            padding=0.05)
        self.line = bq.Lines(x=np.zeros(1), y=np.zeros(1), scales={"x": sx, "y": sy}, colors=["#3b75af"])
        self.band = bq.Lines(x=[0.0, 0.0], y=[0.0, 1.0], scales={"x": sx, "y": sy}, colors=["orange"],
                             fill="inside", fill_opacities=[0.35], opacities=[0.0])
        axes = [bq.Axis(scale=sx, label="eigenvalue"), bq.Axis(scale=sy, label="count",
                                                              orientation="vertical")]
        self.figure = bq.Figure(marks=[self.band, self.bars, self.line], axes=axes, title="Hessian spectrum",
                                fig_margin={"top": 40, "bottom": 50, "left": 60, "right": 20},
                                layout=widgets.Layout(width="380px", height="300px"))
        self.figure.add_class("rw-spectrum")
        self.label = widgets.HTML("")
        self.label.add_class("rw-near-zero")
        self.near_zero: int | None = None
        super().__init__([self.figure, self.label], **kwargs)

    def show_spectrum(self, spectrum: Spectrum) -> int:
        """Histogram of exact eigenvalues with the spectrum's own near-zero count.

        Args:
            spectrum: an :class:`rw.core.Spectrum` (``ls.spectrum()``).

        Returns:
            the near-zero count shown (``spectrum.num_near_zero``).

        Raises:
            TypeError: not a Spectrum.
        """
        if not isinstance(spectrum, Spectrum):
            raise TypeError(f"spectrum: expected an rw.core.Spectrum (ls.spectrum()), got {type(spectrum).__name__}")
        values = spectrum.values.double().cpu().numpy()
        tol, scale = spectrum.tol, spectrum.scale or 1.0
        counts, edges = np.histogram(values, bins=self.bins)
        self.near_zero = spectrum.num_near_zero
        width = max(tol * scale, (edges[1] - edges[0]) / 2)
        with self.bars.hold_sync():
            self.bars.x, self.bars.y = (edges[:-1] + edges[1:]) / 2, counts
        self.bars.visible, self.line.visible = True, False
        self._band(width, counts.max())
        self.figure.axes[1].label = "count"
        self.label.value = (f"<b>{self.near_zero}</b> of {len(values)} eigenvalues near zero "
                            f"(|&lambda;| &le; {tol:g} &times; {scale:.3g}); largest {values.max():.4g}")
        return self.near_zero

    def show_density(self, grid: np.ndarray, density: np.ndarray, num_params: int, band: float) -> float:
        """An SLQ density; shows the estimated number of eigenvalues with ``|lambda| <= band``."""
        grid, density = np.asarray(grid), np.asarray(density)
        inside = np.abs(grid) <= band
        mass = float(np.trapezoid(density * inside, grid)) if inside.any() else 0.0
        with self.line.hold_sync():
            self.line.x, self.line.y = grid, density
        self.bars.visible, self.line.visible = False, True
        self._band(band, float(density.max()))
        self.figure.axes[1].label = "density"
        self.near_zero = None
        self.label.value = (f"about <b>{mass * num_params:,.0f}</b> of {num_params:,} eigenvalues within "
                            f"&plusmn;{band:.3g} (stochastic Lanczos quadrature)")
        return mass * num_params

    def _band(self, half_width: float, height: float) -> None:
        with self.band.hold_sync():
            self.band.x = [-half_width, -half_width, half_width, half_width]
            self.band.y = [0.0, float(height), float(height), 0.0]
