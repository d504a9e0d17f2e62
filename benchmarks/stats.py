"""Medians, ranges, paired ratios and the plain-text tables the benchmarks print."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence


def clean(values: Iterable[float | None]) -> list[float]:
    return [float(v) for v in values if v is not None]


def median(values: Iterable[float | None]) -> float | None:
    data = clean(values)
    return statistics.median(data) if data else None


def span(values: Iterable[float | None]) -> tuple[float, float] | None:
    data = clean(values)
    return (min(data), max(data)) if data else None


def paired_ratios(ours: Sequence[float | None], baseline: Sequence[float | None]) -> list[float]:
    """ours[i] / baseline[i] for every round where both exist and the baseline is non-zero."""
    return [o / b for o, b in zip(ours, baseline, strict=False) if o is not None and b]


def fmt(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "n/a"
    return f"{value:.{digits}f}"


def fmt_summary(values: Iterable[float | None], digits: int = 2) -> str:
    """``median (min-max)`` of the values."""
    data = clean(values)
    if not data:
        return "n/a"
    low, high = min(data), max(data)
    if len(data) == 1:
        return fmt(data[0], digits)
    return f"{fmt(statistics.median(data), digits)} ({fmt(low, digits)}-{fmt(high, digits)})"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A fixed-width text table (also valid Markdown)."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=False)]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=False)) + " |"

    separator = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), separator, *(line(row) for row in rows)])
