"""All matplotlib plots of vidaffect (shared by ``Results.plot()`` and the reports)."""
from vidaffect.plotting.timeline import plot_results

__all__ = ["plot_results"]
