"""The figures of an Optuna study: its optimisation history, the parameters'
importances and the contour of two parameters."""

import warnings

import matplotlib
import numpy as np
import optuna
from matplotlib.figure import Figure


def study_figures(
    study: optuna.Study, contour_params: list[str], target_name: str
) -> dict[str, Figure]:
    """Optimisation history, parameter importances and the contour of two parameters.

    A plot the study cannot fill yet (e.g. importances from one finished trial)
    comes back empty, with Optuna's warning in the log saying why.
    """
    # Optuna draws with pyplot: a backend that needs no display, chosen before pyplot loads.
    matplotlib.use("Agg")
    from optuna.visualization import matplotlib as optuna_plots

    # Optuna marks its matplotlib plots experimental; they are what we want.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        axes = {
            "optimization_history": optuna_plots.plot_optimization_history(
                study, target_name=target_name
            ),
            "param_importances": optuna_plots.plot_param_importances(
                study, target_name=target_name
            ),
            "contour": optuna_plots.plot_contour(
                study, params=contour_params, target_name=target_name
            ),
        }
    figures = {}
    for name, drawn in axes.items():
        figure = (drawn.flat[0] if isinstance(drawn, np.ndarray) else drawn).figure
        width, height = figure.get_size_inches()
        figure.set_size_inches(max(width, 8), max(height, 5))
        figures[name] = figure
    return figures
