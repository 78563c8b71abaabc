"""`SimilarityView`: a labelled heatmap of a (V, V) similarity matrix, with the values in the cells."""
from __future__ import annotations

from collections.abc import Sequence

import bqplot as bq
import ipywidgets as widgets
import numpy as np

from ._legend import (
    COLOR_BAR_OFFSET_PX,
    MAX_WIDTH,
    TITLE_STYLE,
    VIEW_CLASS,
    set_color_range,
    text_color_on,
    tick_labels,
    viridis_rgb,
)


class SimilarityView(widgets.VBox):
    """Pairwise similarities of named models as a grid heatmap (write-up 2's figure).

    The colour scale runs from the smallest value shown to 1, so small differences stay visible; its
    colour bar has at most four round ticks in a short exact format (no overlap even for 0.99..1.0), sent
    before its range changes (:func:`set_color_range`). With ``show_values`` each cell prints its value
    (a ``bq.Label`` mark over the grid) in black or white, whichever contrasts more with that cell's colour
    (:func:`text_color_on`: white text on viridis' yellow end is unreadable). ``size`` is the figure's width
    in pixels (at most 440). :meth:`to_matplotlib` draws the same cells, texts and colour bar.

    Example:
        >>> view = rw.SimilarityView()                                  # doctest: +SKIP
        >>> view.show(S, ["M1", "M2", "M1 pruned", "M2 pruned"])        # doctest: +SKIP
    """

    def __init__(self, *, title: str = "cosine similarity of OOD predictions", show_values: bool = True,
                 size: int = 420, **kwargs):
        self._rows, self._cols = bq.OrdinalScale(reverse=True), bq.OrdinalScale()
        self._color = bq.ColorScale(scheme="viridis", min=0.0, max=1.0)
        self.show_values = show_values
        self.grid = bq.GridHeatMap(color=np.ones((2, 2)), row=["", " "], column=["", " "],
                                   scales={"row": self._rows, "column": self._cols, "color": self._color},
                                   display_format=None)
        # the cells' values: one label each, centred on its cell (the ordinal scales' band centres), in a colour
        # of its own (a GridHeatMap's labels share one font style); a .2f or .3f text in the cell's text colour
        self.values = bq.Label(x=[], y=[], text=[], scales={"x": self._cols, "y": self._rows}, colors=["black"],
                               default_size=10, font_weight="normal", align="middle", y_offset=4,
                               visible=show_values)
        #: the values' format: ".3f" where every value rounds to 0.99 or 1.00, else ".2f"
        self.display_format = ".2f"
        self.color_axis = bq.ColorAxis(scale=self._color, orientation="vertical", side="right", tick_format=".2f")
        axes = [bq.Axis(scale=self._cols, tick_rotate=40, tick_style={"font-size": "10px", "text-anchor": "start"}),
                bq.Axis(scale=self._rows, orientation="vertical", tick_style={"font-size": "10px"}),
                self.color_axis]
        width = min(int(size), MAX_WIDTH)
        margin = {"top": 40, "bottom": 100, "left": 100, "right": 90}
        self.figure = bq.Figure(marks=[self.grid, self.values], axes=axes, title=title, title_style=dict(TITLE_STYLE),
                                fig_margin=margin, layout=widgets.Layout(width=f"{width}px", height=f"{width + 20}px"))
        self._bar_length = width + 20 - margin["top"] - margin["bottom"] - 2 * COLOR_BAR_OFFSET_PX
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
        set_color_range(self._color, self.color_axis, min(low, 0.999), 1.0, self._bar_length)
        # cross-validation of row/column against color is deferred until all three are set
        with self.grid.hold_sync(), self.grid.hold_trait_notifications():
            self.grid.row, self.grid.column, self.grid.color = names, names, matrix
        self.display_format = ".3f" if low > 0.98 else ".2f"  # three decimals where every value rounds to 0.99 or 1.00
        rows, cols = np.indices(matrix.shape)
        with self.values.hold_sync():
            self.values.x = np.array(names, dtype=object)[cols.ravel()].astype(str)
            self.values.y = np.array(names, dtype=object)[rows.ravel()].astype(str)
            self.values.text = np.array([format(v, self.display_format) for v in matrix.ravel()])
            self.values.colors = self.text_colors(matrix).ravel().tolist()
        self.matrix, self.names = matrix, names
        self.label.value = caption

    def cell_colors(self, matrix: np.ndarray | None = None) -> np.ndarray:
        """(V, V, 3) RGB in [0, 1]: each cell's colour (viridis over the colour scale's range)."""
        matrix = self.matrix if matrix is None else np.asarray(matrix, dtype=float)
        return viridis_rgb(matrix, self._color.min, self._color.max).reshape(*matrix.shape, 3)

    def text_colors(self, matrix: np.ndarray | None = None) -> np.ndarray:
        """(V, V) the colour of each cell's value: black or white, whichever contrasts more with the cell."""
        matrix = self.matrix if matrix is None else np.asarray(matrix, dtype=float)
        cells = self.cell_colors(matrix).reshape(-1, 3)
        return np.array([text_color_on(tuple(c)) for c in cells], dtype=object).reshape(matrix.shape)

    def to_matplotlib(self, ax):
        """Draw the same picture on a matplotlib axes (for ``explorer.save``): the cells (viridis over the same
        range), each value in its cell's text colour, the names, and the colour bar with the live view's ticks.

        Returns:
            the image (its colour bar is drawn already).

        Raises:
            ValueError: nothing shown yet.
        """
        if self.matrix is None:
            raise ValueError("to_matplotlib: nothing shown yet; call view.show(matrix, names) first")
        S, names = self.matrix, self.names
        image = ax.imshow(S, cmap="viridis", vmin=self._color.min, vmax=self._color.max)
        ax.set_xticks(range(len(names)), names, rotation=40, ha="right", fontsize=8)
        ax.set_yticks(range(len(names)), names, fontsize=8)
        if self.values.visible:
            for (r, c), color in np.ndenumerate(self.text_colors()):
                ax.text(c, r, format(S[r, c], self.display_format), ha="center", va="center", color=color,
                        fontsize=7)
        ticks = np.asarray(self.color_axis.tick_values, dtype=float)
        bar = ax.figure.colorbar(image, ax=ax, shrink=0.8, label="cosine similarity")
        bar.set_ticks(ticks, labels=tick_labels(ticks, self.color_axis.tick_format))
        ax.set_title(self.figure.title, fontsize=10)
        return image
