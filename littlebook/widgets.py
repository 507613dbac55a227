"""Interactive explorers for JupyterLab, built on ipywidgets.

Every explorer is a plain plotting function plus sliders: ``explore(draw, lr=log_slider(...))``
calls ``draw(lr=...)`` once now and again whenever a slider moves, redrawing the figure in place.
Tests and headless runs call the plain function directly.
"""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as w
import matplotlib.pyplot as plt

__all__ = ["explore", "log_slider"]


def log_slider(value: float, min: float, max: float, description: str = "lr", steps_per_decade: int = 4
               ) -> w.FloatLogSlider:
    """A log-scale slider (learning rates span decades); values snap to 10^(k/steps_per_decade)."""
    import math

    return w.FloatLogSlider(value=value, base=10, min=math.log10(min), max=math.log10(max),
                            step=1 / steps_per_decade, description=description, readout_format=".2g",
                            continuous_update=False)


def explore(draw: Callable[..., object], **controls: w.ValueWidget) -> w.VBox:
    """Show ``controls`` above an output area in which ``draw(**values)`` redraws on every change.

    ``draw`` makes its own matplotlib figure; whatever it returns (a string, a History…) is printed
    under the figure, so a diverging run can say "diverged at step N" instead of raising.
    """
    out = w.Output()

    def redraw(**values):
        with out:
            out.clear_output(wait=True)
            result = draw(**values)
            plt.show()
            if result is not None:
                print(result)

    for c in controls.values():
        if hasattr(c, "continuous_update"):
            c.continuous_update = False  # retrain on release, not on every pixel of a drag
    w.interactive_output(redraw, controls)
    return w.VBox([w.HBox(list(controls.values())), out])  # the cell's value: Jupyter displays it
