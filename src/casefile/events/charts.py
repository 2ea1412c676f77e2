"""Severity over time as a server-rendered SVG: stacked bars per time bucket, three bands
(error and worse, warning, the rest), so the chart reads at a glance and needs no script."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

BANDS = [("error+", {"emergency", "alert", "critical", "error"}, "#c0262d"),
         ("warning", {"warning"}, "#e69a1f"),
         ("info−", {"notice", "info", "debug"}, "#9aa6b8")]
STEP = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}
WIDTH, HEIGHT, LEFT, BOTTOM = 900, 160, 40, 18


def _floor(moment: datetime, bucket: str) -> datetime:
    moment = moment.replace(second=0, microsecond=0)
    if bucket in ("hour", "day"):
        moment = moment.replace(minute=0)
    if bucket == "day":
        moment = moment.replace(hour=0)
    return moment


def severity_chart(rows: list[dict[str, Any]], *, since: datetime, until: datetime,
                   bucket: str) -> dict[str, Any]:
    """Geometry for `events/_chart.svg`: bars with their stacked segments, axis labels."""
    step = STEP[bucket]
    counts: dict[datetime, dict[str, int]] = {}
    for row in rows:
        band = next(name for name, levels, _ in BANDS if row["severity"] in levels)
        tally = counts.setdefault(_floor(row["bucket"], bucket), {})
        tally[band] = tally.get(band, 0) + row["count"]
    slots: list[datetime] = []
    start = _floor(since, bucket)
    while start < until and len(slots) < 400:
        slots.append(start)
        start += step
    peak = max((sum(c.values()) for c in counts.values()), default=0)
    plot_w, plot_h = WIDTH - LEFT, HEIGHT - BOTTOM
    bar_w = plot_w / max(len(slots), 1)
    bars = []
    for i, moment in enumerate(slots):
        y, segments = float(plot_h), []
        for name, _, colour in BANDS:
            count = counts.get(moment, {}).get(name, 0)
            if count:
                h = plot_h * count / peak
                y -= h
                segments.append({"y": round(y, 1), "h": round(h, 1), "colour": colour,
                                 "label": f"{moment:%Y-%m-%d %H:%M} {name}: {count}"})
        bars.append({"x": round(LEFT + i * bar_w, 1), "w": round(max(bar_w - 1, 0.5), 1),
                     "segments": segments})
    every = max(len(slots) // 6, 1)
    labels = [{"x": round(LEFT + i * bar_w, 1),
               "text": f"{moment:%m-%d}" if bucket == "day" else f"{moment:%H:%M}"}
              for i, moment in enumerate(slots) if i % every == 0]
    return {"bars": bars, "labels": labels, "peak": peak, "width": WIDTH, "height": HEIGHT,
            "plot_h": plot_h, "left": LEFT, "bands": [(n, c) for n, _, c in BANDS],
            "bucket": bucket, "total": sum(sum(c.values()) for c in counts.values())}
