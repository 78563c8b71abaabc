"""`SimilarityView`: a labelled heatmap of a (V, V) similarity matrix, with the values in the cells."""
from __future__ import annotations

from collections.abc import Sequence

import bqplot as bq
import ipywidgets as widgets
import numpy as np

from ._legend import MAX_WIDTH, TITLE_STYLE, VIEW_CLASS, set_colour_ticks


class SimilarityView(widgets.VBox):
    """Pairwise similarities of named models as a grid heatmap (write-up 2's figure).

    The colour scale runs from the smallest value shown to 1, so small differences stay visible; its
    colour bar has at most four round ticks in a short exact format (no overlap even for 0.99..1.0). With
    ``show_values`` each cell prints its value. ``size`` is the figure's width in pixels (at most 440).

    Example:
        >>> view = rw.SimilarityView()                                  # doctest: +SKIP
        >>> view.show(S, ["M1", "M2", "M1 pruned", "M2 pruned"])        # doctest: +SKIP
    """

    def __init__(self, *, title: str = "cosine similarity of OOD predictions", show_values: bool = True,
                 size: int = 420, **kwargs):
        self._rows, self._cols = bq.OrdinalScale(reverse=True), bq.OrdinalScale()
        self._colour = bq.ColorScale(scheme="viridis", min=0.0, max=1.0)
        self.show_values = show_values
        self.grid = bq.GridHeatMap(color=np.ones((2, 2)), row=["", " "], column=["", " "],
                                   scales={"row": self._rows, "column": self._cols, "color": self._colour},
                                   display_format=".2f" if show_values else None,
                                   font_style={"font-size": "10px", "fill": "white"})
        self.colour_axis = bq.ColorAxis(scale=self._colour, orientation="vertical", side="right", tick_format=".2f")
        axes = [bq.Axis(scale=self._cols, tick_rotate=40, tick_style={"font-size": "10px", "text-anchor": "start"}),
                bq.Axis(scale=self._rows, orientation="vertical", tick_style={"font-size": "10px"}),
                self.colour_axis]
        width = min(int(size), MAX_WIDTH)
        self.figure = bq.Figure(marks=[self.grid], axes=axes, title=title, title_style=dict(TITLE_STYLE),
                                fig_margin={"top": 40, "bottom": 100, "left": 100, "right": 90},
                                layout=widgets.Layout(width=f"{width}px", height=f"{width + 20}px"))
        self.figure.add_class("rw-similarity")
        self.label = widgets.HTML("")
        self.matrix: np.ndarray | None = None
        self.names: list[str] = []
        super().__init__([self.figure, self.label], **kwargs)
        self.add_class(VIEW_CLASS)

    def show(self, matrix: np.ndarray, names: Sequence[str], *, caption: str = "") -> None:
        """Draw ``matrix`` (V, V) with ``names`` on both axes (names must be distinct)."""
        matrix = np.asarray(matrix, dtype=float)
        names = [str(n) for n in names]
        if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.shape[0] != len(names):
            raise ValueError(f"matrix: expected a square (V, V) array with V = {len(names)} names, got shape "
                             f"{matrix.shape}")
        if len(set(names)) != len(names):
            raise ValueError(f"names: expected distinct names, got {names}")
        low = float(np.nanmin(matrix))
        with self._colour.hold_sync():
            self._colour.min = min(low, 0.999)
            self._colour.max = 1.0
        set_colour_ticks(self.colour_axis, self._colour.min, self._colour.max)
        # cross-validation of row/column against color is deferred until all three are set
        with self.grid.hold_sync(), self.grid.hold_trait_notifications():
            self.grid.row, self.grid.column, self.grid.color = names, names, matrix
            if self.show_values:  # three decimals where every value rounds to 0.99 or 1.00
                self.grid.display_format = ".3f" if low > 0.98 else ".2f"
        self.matrix, self.names = matrix, names
        self.label.value = caption
