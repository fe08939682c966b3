"""The timeline plot: what the load saw, with every fault window on the same time axis.

A reviewer should see in one picture whether throughput dropped and latency rose inside
the fault windows, whether the DLQ filled and drained, and when Redis converged again.
Three stacked panels share the x axis (seconds since the experiment started):
throughput and p95 latency, DLQ size, and the fraction of acknowledged events already
applied in Redis. Every fault window is shaded across all three and labelled on the top one.

Drawn on a bare ``Figure`` with the Agg canvas: no pyplot global state, no display,
safe in a pytest process and in threads.
"""

from __future__ import annotations

import io
import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from chaoskit.report.record import ExperimentRecord

WIDTH_PX = 1400
HEIGHT_PX = 900
_DPI = 100
_FAULT_COLOURS = ("#d62728", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#bcbd22", "#17becf")


def timeline_png(record: ExperimentRecord, width_px: int = WIDTH_PX, height_px: int = HEIGHT_PX) -> bytes:
    """The record's timeline as a PNG of exactly ``width_px`` x ``height_px`` pixels."""
    fig = Figure(figsize=(width_px / _DPI, height_px / _DPI), dpi=_DPI)
    FigureCanvasAgg(fig)
    load_ax, dlq_ax, conv_ax = fig.subplots(3, 1, sharex=True, gridspec_kw={"height_ratios": (3, 1.4, 1.4)})
    t0 = record.started_at

    _load_panel(load_ax, record, t0)
    _series_panel(dlq_ax, [(t - t0, float(n)) for t, n in record.dlq_sizes], "DLQ size (events)", "#7f7f7f", step=True)
    _series_panel(
        conv_ax,
        [(t - t0, 100.0 * f) for t, f in record.convergence],
        "acked events\napplied in Redis (%)",
        "#2ca02c",
        step=False,
    )
    conv_ax.set_ylim(-2, 102)
    _fault_windows((load_ax, dlq_ax, conv_ax), record, t0)

    conv_ax.set_xlim(0, max(record.ended_at - t0, 1.0))
    conv_ax.set_xlabel(
        f"seconds since the experiment started (t0 = {time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(t0))} UTC)"
    )
    fig.suptitle(f"{record.name}: load, DLQ and convergence under faults", fontsize=13)
    fig.subplots_adjust(left=0.07, right=0.93, top=0.93, bottom=0.07, hspace=0.12)
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=_DPI)
    return out.getvalue()


def _load_panel(ax: Axes, record: ExperimentRecord, t0: float) -> None:
    seconds = sorted(record.seconds, key=lambda s: s["time"])
    x = [s["time"] - t0 for s in seconds]
    ax.set_ylabel("requests/s")
    ax.grid(True, alpha=0.3)
    if not seconds:
        _no_data(ax, "no load statistics recorded")
        return
    ax.plot(x, _column(seconds, "rps"), color="#1f77b4", label="throughput (req/s)")
    ax.plot(x, _column(seconds, "failures"), color="#d62728", linewidth=1, label="failures/s")
    latency = ax.twinx()
    latency.plot(x, _column(seconds, "p95"), color="#ff7f0e", linestyle="--", label="p95 latency (ms)")
    latency.set_ylabel("p95 latency (ms)")
    latency.set_ylim(bottom=0)
    ax.set_ylim(bottom=0)
    lines = ax.get_lines() + latency.get_lines()
    ax.legend(lines, [str(line.get_label()) for line in lines], loc="upper right", fontsize=9)


def _column(seconds: Sequence[Mapping[str, Any]], name: str) -> list[float]:
    """A figure per second; a missing one (no successful request that second has no
    p95) is NaN, which matplotlib draws as a gap rather than a false zero."""
    return [math.nan if s.get(name) is None else float(s[name]) for s in seconds]


def _series_panel(ax: Axes, points: Sequence[tuple[float, float]], label: str, colour: str, *, step: bool) -> None:
    ax.set_ylabel(label)
    ax.grid(True, alpha=0.3)
    if not points:
        _no_data(ax, f"no {label.splitlines()[0]} samples recorded")
        return
    points = sorted(points)
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    if step:
        ax.step(xs, ys, where="post", color=colour)
    else:
        ax.plot(xs, ys, color=colour, marker=".", markersize=3)
    ax.set_ylim(bottom=0)


def _fault_windows(axes: Sequence[Axes], record: ExperimentRecord, t0: float) -> None:
    """Shade each window on every panel; label it on the top panel, staggered so
    overlapping windows stay readable."""
    colours: dict[str, str] = {}
    for i, window in enumerate(sorted(record.timeline_windows, key=lambda w: w["injected_at"])):
        kind = str(window["name"])
        colour = colours.setdefault(kind, _FAULT_COLOURS[len(colours) % len(_FAULT_COLOURS)])
        start = window["injected_at"] - t0
        healed = window.get("healed_at")
        end = (healed if healed is not None else record.ended_at) - t0
        for ax in axes:
            ax.axvspan(start, end, color=colour, alpha=0.15, linewidth=0)
        suffix = "" if healed is not None else " (not healed)"
        axes[0].text(
            start,
            0.97 - 0.09 * (i % 4),
            f" {kind} on {window['target']}{suffix}",
            transform=axes[0].get_xaxis_transform(),
            va="top",
            ha="left",
            fontsize=9,
            color=colour,
            bbox={"facecolor": "white", "alpha": 0.7, "edgecolor": "none", "pad": 1},
        )


def _no_data(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color="#7f7f7f")
