"""Pictures drawn on the server as inline SVG: confusion matrices, per-epoch curves, horizontal bars.

Each function returns safe markup with ``role="img"``, a <title> and a <desc>; the numbers are also
in a table on the page for screen readers and copying. Every string that comes from data is escaped.
"""
from __future__ import annotations

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

ACCENT = "#2f5fd0"
SECOND = "#d9822b"
MUTED = "#5b6475"
LINE = "#dfe3ea"
FONT = 'font-family="system-ui, sans-serif"'


def _svg(width: int, height: int, title: str, desc: str, body: list[str]) -> SafeString:
    return mark_safe(
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg" {FONT}>'
        f"<title>{escape(title)}</title><desc>{escape(desc)}</desc>{''.join(body)}</svg>")


def _label(text: str, limit: int = 14) -> str:
    text = str(text)
    return escape(text if len(text) <= limit else text[: limit - 1] + "…")


def confusion_matrix(matrix: list[list[int]], class_names: list[str], title: str = "Confusion matrix") -> SafeString:
    """Rows are true classes, columns predictions; a cell's shade is its share of the row."""
    n = len(matrix)
    cell = max(18, min(44, 440 // max(n, 1)))
    left, top = 90, 70
    size = cell * n
    width, height = left + size + 20, top + size + 20
    body = [f'<text x="{left + size / 2}" y="16" text-anchor="middle" font-size="13" fill="{MUTED}">predicted</text>',
            f'<text x="14" y="{top + size / 2}" font-size="13" fill="{MUTED}" text-anchor="middle" '
            f'transform="rotate(-90 14 {top + size / 2})">true class</text>']
    font = max(9, min(13, cell // 3))
    for j, name in enumerate(class_names[:n]):
        x = left + j * cell + cell / 2
        body.append(f'<text x="{x}" y="{top - 8}" font-size="{font}" text-anchor="start" '
                    f'transform="rotate(-45 {x} {top - 8})">{_label(name, 10)}</text>')
    for i, row in enumerate(matrix):
        total = sum(row) or 1
        y = top + i * cell
        body.append(f'<text x="{left - 6}" y="{y + cell / 2 + font / 3}" font-size="{font}" text-anchor="end">'
                    f'{_label(class_names[i] if i < len(class_names) else i, 10)}</text>')
        for j, count in enumerate(row):
            share = count / total
            fill = f"rgba(47,95,208,{0.06 + 0.94 * share:.3f})" if count else "#fff"
            ink = "#fff" if share > 0.5 else "#1d2433"
            x = left + j * cell
            body.append(f'<rect x="{x}" y="{y}" width="{cell}" height="{cell}" fill="{fill}" stroke="{LINE}"/>')
            if count and cell >= 22:
                body.append(f'<text x="{x + cell / 2}" y="{y + cell / 2 + font / 3}" font-size="{font}" '
                            f'text-anchor="middle" fill="{ink}">{count}</text>')
    correct = sum(matrix[i][i] for i in range(n) if i < len(matrix[i]))
    total = sum(sum(r) for r in matrix) or 1
    return _svg(width, height, title, f"{n} classes; {correct} of {total} samples on the diagonal.", body)


def line_chart(xs: list, series: list[tuple[str, list[float], str]], *, title: str, x_label: str = "epoch",
               marker: int | None = None, y_min: float = 0.0, y_max: float = 1.0) -> SafeString:
    """Lines over a shared x axis with values in [y_min, y_max]; ``marker`` is an x value to highlight."""
    width, height, left, right, top, bottom = 640, 280, 48, 16, 34, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    span = (y_max - y_min) or 1.0
    count = max(len(xs) - 1, 1)

    def px(i: int) -> float:
        return left + plot_w * i / count

    def py(v: float) -> float:
        return top + plot_h * (1 - (min(max(v, y_min), y_max) - y_min) / span)

    body = []
    for k in range(6):
        v = y_min + span * k / 5
        body.append(f'<line x1="{left}" x2="{width - right}" y1="{py(v):.1f}" y2="{py(v):.1f}" stroke="{LINE}"/>'
                    f'<text x="{left - 6}" y="{py(v) + 4:.1f}" font-size="11" text-anchor="end" fill="{MUTED}">'
                    f'{v * 100:.0f}%</text>')
    step = max(1, len(xs) // 10)
    for i, x in enumerate(xs):
        if i % step == 0 or i == len(xs) - 1:
            body.append(f'<text x="{px(i):.1f}" y="{height - bottom + 16}" font-size="11" text-anchor="middle" '
                        f'fill="{MUTED}">{escape(x)}</text>')
    body.append(f'<text x="{left + plot_w / 2}" y="{height - 6}" font-size="12" text-anchor="middle" '
                f'fill="{MUTED}">{escape(x_label)}</text>')
    if marker is not None and marker in xs:
        mx = px(xs.index(marker))
        near_right = mx > left + plot_w * 0.8
        body.append(f'<line x1="{mx:.1f}" x2="{mx:.1f}" y1="{top}" y2="{top + plot_h}" stroke="{MUTED}" '
                    f'stroke-dasharray="4 3"/><text x="{mx - 4 if near_right else mx + 4:.1f}" y="{top + 12}" '
                    f'font-size="11" fill="{MUTED}" text-anchor="{"end" if near_right else "start"}">selected</text>')
    for k, (name, values, colour) in enumerate(series):
        points = " ".join(f"{px(i):.1f},{py(v):.1f}" for i, v in enumerate(values) if v is not None)
        body.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2.2"/>')
        body.extend(f'<circle cx="{px(i):.1f}" cy="{py(v):.1f}" r="2.6" fill="{colour}"/>'
                    for i, v in enumerate(values) if v is not None)
        lx = left + 8 + k * 150
        body.append(f'<rect x="{lx}" y="8" width="14" height="4" fill="{colour}"/>'
                    f'<text x="{lx + 20}" y="14" font-size="12">{escape(name)}</text>')
    present = [(name, [v for v in values if v is not None]) for name, values, _ in series]
    desc = "; ".join(f"{name}: last {values[-1] * 100:.1f}%" for name, values in present if values)
    return _svg(width, height, title, desc or "no data", body)


def horizontal_bars(rows: list[tuple[str, float, float]], *, title: str, unit: str = "",
                    show_total: bool = True) -> SafeString:
    """One bar per row ``(label, value, total)``: the filled part is value/total, the numbers beside it."""
    left, bar_w, right, row_h = 150, 360, 110, 22
    width, height = left + bar_w + right, 10 + row_h * len(rows) + 6
    body = []
    for i, (label, value, total) in enumerate(rows):
        y = 8 + i * row_h
        share = value / total if total else 0.0
        body.append(f'<text x="{left - 8}" y="{y + 14}" font-size="12" text-anchor="end">{_label(label, 22)}</text>'
                    f'<rect x="{left}" y="{y + 3}" width="{bar_w}" height="14" fill="#eef1f6" rx="3"/>'
                    f'<rect x="{left}" y="{y + 3}" width="{bar_w * share:.1f}" height="14" fill="{ACCENT}" rx="3"/>'
                    f'<text x="{left + bar_w + 8}" y="{y + 14}" font-size="12" fill="{MUTED}">'
                    f'{_amount(value, total, unit, show_total)}</text>')
    return _svg(width, height, title, f"{len(rows)} rows", body)


def _amount(value: float, total: float, unit: str, show_total: bool) -> str:
    if not show_total:
        return f"{value:g}{escape(unit)}"
    share = value / total if total else 0.0
    return f"{value:g}/{total:g}{escape(unit)} ({share * 100:.0f}%)"


def paired_bars(rows: list[tuple[str, float, float]], *, title: str, first: str, second: str) -> SafeString:
    """Two signed bars per row ``(label, first, second)`` around a zero line, e.g. a paper's number and ours."""
    left, bar_w, right, row_h = 260, 320, 70, 30
    width, height = left + bar_w + right, 30 + row_h * len(rows)
    scale = max([abs(v) for _, a, b in rows for v in (a, b)] + [1e-9])
    zero = left + bar_w / 2

    def bar(value: float, y: float, colour: str) -> str:
        w = bar_w / 2 * abs(value) / scale
        x = zero if value >= 0 else zero - w
        return (f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="10" fill="{colour}" rx="2"/>'
                f'<text x="{left + bar_w + 6}" y="{y + 9:.1f}" font-size="11" fill="{MUTED}">{value:+.2f}</text>')

    body = [f'<rect x="{left}" y="8" width="14" height="6" fill="{MUTED}"/>'
            f'<text x="{left + 20}" y="15" font-size="12">{escape(first)}</text>'
            f'<rect x="{left + 90}" y="8" width="14" height="6" fill="{ACCENT}"/>'
            f'<text x="{left + 110}" y="15" font-size="12">{escape(second)}</text>',
            f'<line x1="{zero}" y1="22" x2="{zero}" y2="{height - 4}" stroke="{MUTED}" stroke-width="1"/>']
    for i, (label, a, b) in enumerate(rows):
        y = 26 + i * row_h
        body.append(f'<text x="{left - 8}" y="{y + 14}" font-size="12" text-anchor="end">{_label(label, 40)}</text>')
        body.append(bar(a, y, MUTED) + bar(b, y + 12, ACCENT))
    desc = "; ".join(f"{label}: {first} {a:+.2f}, {second} {b:+.2f}" for label, a, b in rows)
    return _svg(width, height, title, desc or "no data", body)
