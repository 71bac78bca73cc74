"""Charts drawn on the server as inline SVG: no charting library, no script.

Horizontal lengths are percentages of the chart's width and vertical ones pixels, with
no viewBox: the chart stretches to any width (a 360 px phone, a 1280 px screen, paper)
while its text keeps the page's own size instead of shrinking with the drawing.

Labels are survey text, written by whoever built the survey: everything put into the
SVG goes through markupsafe.escape. Each chart is role="img" with a <title> and a
<desc> it is labelled by; the page puts the same numbers in a table beside it.
"""

from __future__ import annotations

import math
import re
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

BAR_COLOUR = "#2f6db5"  # 5.4:1 on white: the bars are seen, not only their labels
TRACK_COLOUR = "#e3e8ee"
WHISKER_COLOUR = "#0d2238"
WEIGHTED_COLOUR = "#b45309"  # 5.0:1 on white; it stands out of the bar above and below
TEXT_COLOUR = "#1b1b1b"
GRID_COLOUR = "#c9d1d9"
FONT_SIZE = 14  # px, as the text around it (16 px) a little smaller
SMALL_FONT = 12.5
LABEL_CHARS = 40  # a line of label text before it wraps, about 330 px at 14 px
LABEL_LINES = 3
TRACK_END = 80.0  # % of the width where a 100% bar ends; the value text is after it
LINE = 18  # px per line of label text
BAR_HEIGHT = 18
BAR_GAP = 12


@dataclass(frozen=True)
class Bar:
    label: str
    ratio: float | None  # 0..1: the bar's length
    interval: tuple[float, float] | None  # drawn as a whisker across the bar
    text: str  # written after the bar, e.g. "45,6%"
    detail: str = ""  # the bar's tooltip and spoken description, e.g. "1.234 of 2.706"
    weighted: float | None = None  # 0..1, the weighted share: a mark across the bar


@dataclass(frozen=True)
class Column:
    value: float
    detail: str  # the column's tooltip, e.g. "2026-11-01 14:00: 23"
    tick: str = ""  # text under the axis, when this column gets one


def _id(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", text)


def _num(value: float) -> str:
    """An SVG coordinate: short, and never in scientific notation."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _wrap(label: str) -> list[str]:
    lines = textwrap.wrap(label, LABEL_CHARS, break_long_words=True) or [""]
    if len(lines) > LABEL_LINES:
        lines = lines[:LABEL_LINES]
        lines[-1] = lines[-1][: LABEL_CHARS - 1].rstrip() + "…"
    return lines


def _open(chart_id: str, kind: str, height: int, title: str, desc: str) -> list[str]:
    cid = _id(chart_id)
    return [
        f'<svg class="chart {kind}" id="{cid}" width="100%" height="{height}" '
        f'role="img" aria-labelledby="{cid}-title {cid}-desc" focusable="false" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{cid}-title">{escape(title)}</title>',
        f'<desc id="{cid}-desc">{escape(desc)}</desc>',
    ]


def bar_chart(
    chart_id: str, title: str, desc: str, bars: Sequence[Bar], track_end: float = TRACK_END
) -> Markup:
    """Horizontal bars, one under the other: the label above its bar (wrapped, so a
    long commune name still reads on a phone), the percentage after it, and the 95%
    interval as a whisker over it; a weighted share as a mark across the bar that
    stands out of it above and below. `track_end`: the % of the width a 100% bar takes,
    less where the text after it is longer (the report writes the interval there)."""
    parts: list[str] = []
    y = 4
    for bar in bars:
        lines = _wrap(bar.label)
        parts.append('<g class="bar">')
        if bar.detail:
            parts.append(f"<title>{escape(bar.label)}: {escape(bar.detail)}</title>")
        for line in lines:
            y += LINE
            parts.append(
                f'<text x="0" y="{y - 4}" font-size="{FONT_SIZE}" '
                f'fill="{TEXT_COLOUR}">{escape(line)}</text>'
            )
        top = y + 2
        middle = top + BAR_HEIGHT / 2
        parts.append(
            f'<rect class="track" x="0" y="{top}" width="{_num(track_end)}%" '
            f'height="{BAR_HEIGHT}" fill="{TRACK_COLOUR}"/>'
        )
        if bar.ratio:
            width = max(0.0, min(1.0, bar.ratio)) * track_end
            parts.append(
                f'<rect class="value" x="0" y="{top}" width="{_num(width)}%" '
                f'height="{BAR_HEIGHT}" fill="{BAR_COLOUR}"/>'
            )
        if bar.interval is not None:
            low, high = (max(0.0, min(1.0, v)) * track_end for v in bar.interval)
            parts.append(
                f'<g class="whisker" stroke="{WHISKER_COLOUR}" stroke-width="1.5">'
                f'<line x1="{_num(low)}%" x2="{_num(high)}%" y1="{_num(middle)}" '
                f'y2="{_num(middle)}"/>'
                f'<line x1="{_num(low)}%" x2="{_num(low)}%" y1="{top + 5}" '
                f'y2="{top + BAR_HEIGHT - 5}"/>'
                f'<line x1="{_num(high)}%" x2="{_num(high)}%" y1="{top + 5}" '
                f'y2="{top + BAR_HEIGHT - 5}"/></g>'
            )
        if bar.weighted is not None:
            at = max(0.0, min(1.0, bar.weighted)) * track_end
            parts.append(
                f'<line class="weighted" x1="{_num(at)}%" x2="{_num(at)}%" y1="{top - 5}" '
                f'y2="{top + BAR_HEIGHT + 5}" stroke="{WEIGHTED_COLOUR}" stroke-width="3"/>'
            )
        parts.append(
            f'<text x="100%" y="{_num(middle + 5)}" text-anchor="end" '
            f'font-size="{FONT_SIZE}" fill="{TEXT_COLOUR}">{escape(bar.text)}</text>'
        )
        parts.append("</g>")
        y = top + BAR_HEIGHT + BAR_GAP
    height = y
    return Markup("\n".join(_open(chart_id, "bars", height, title, desc) + parts + ["</svg>"]))


def nice_ceiling(value: float) -> float:
    """The axis' top: 1, 2 or 5 times a power of ten, at least `value` (and 1)."""
    if value <= 1:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power


PLOT_TOP = 22  # room for the top gridline's number
PLOT_HEIGHT = 150
AXIS_ROOM = 26  # under the plot, for the ticks' text
EDGE = 12.0  # % from either side where a tick's text would be cut in half if centred


def column_chart(
    chart_id: str,
    title: str,
    desc: str,
    columns: Sequence[Column],
    number: Callable[[float], str] = str,
    max_ticks: int = 4,
) -> Markup:
    """Columns over time, evenly spaced: gridlines at 0, half and the top, their
    numbers written above them at the left, and at most `max_ticks` labels under the
    axis so they never run into each other on a phone."""
    n = len(columns)
    top = nice_ceiling(max((c.value for c in columns), default=0))
    bottom = PLOT_TOP + PLOT_HEIGHT
    parts: list[str] = []
    for fraction in (0.5, 1.0):
        y = bottom - PLOT_HEIGHT * fraction
        parts.append(
            f'<line class="grid" x1="0" x2="100%" y1="{_num(y)}" y2="{_num(y)}" '
            f'stroke="{GRID_COLOUR}" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="0" y="{_num(y - 5)}" font-size="{SMALL_FONT}" '
            f'fill="{TEXT_COLOUR}">{escape(number(top * fraction))}</text>'
        )
    if n:
        slot = 100 / n
        width = min(slot * 0.8, 8.0)
        for i, column in enumerate(columns):
            if column.value <= 0:
                continue
            h = PLOT_HEIGHT * column.value / top
            x = i * slot + (slot - width) / 2
            parts.append(
                f'<rect class="value" x="{_num(x)}%" y="{_num(bottom - h)}" '
                f'width="{_num(width)}%" height="{_num(h)}" fill="{BAR_COLOUR}">'
                f"<title>{escape(column.detail)}</title></rect>"
            )
        ticks = sorted(
            {round(k * (n - 1) / (max_ticks - 1)) for k in range(max_ticks)}
            if n > max_ticks
            else range(n)
        )
        for i in ticks:
            x = (i + 0.5) * slot  # under the column; at an edge, kept inside the chart
            anchor = "start" if x < EDGE else "end" if x > 100 - EDGE else "middle"
            x = 0.0 if anchor == "start" else 100.0 if anchor == "end" else x
            parts.append(
                f'<text x="{_num(x)}%" y="{bottom + 18}" text-anchor="{anchor}" '
                f'font-size="{SMALL_FONT}" fill="{TEXT_COLOUR}">'
                f"{escape(columns[i].tick)}</text>"
            )
    parts.append(
        f'<line class="axis" x1="0" x2="100%" y1="{bottom}" y2="{bottom}" '
        f'stroke="{TEXT_COLOUR}" stroke-width="1"/>'
    )
    height = bottom + AXIS_ROOM
    return Markup("\n".join(_open(chart_id, "columns", height, title, desc) + parts + ["</svg>"]))
