#!/usr/bin/env python3
"""Turns raw benchmark results into Markdown tables and, optionally, an SVG chart.

usage:
    bench_report.py --results R.tsv [--idle I.tsv] [--proto P.tsv]
                    [--svg OUT.svg] [--markdown OUT.md]
                    [--baseline tokio-tungstenite] [--ceiling tcp-raw] [--latency latency]

Without --markdown the Markdown goes to stdout. Standard library only.

Inputs (tab-separated, one header line, blank lines ignored):

  R.tsv  throughput runs
         scenario  description  server  repeat  messages_per_s  p50_us  p99_us
         messages_per_s is a number or FAILED; p50_us and p99_us are numbers or '-'.
         Scenarios and servers keep the order in which they first appear.
  I.tsv  idle memory
         server  connections  rss_per_conn_handshake  rss_per_conn_echo  threads
         bytes per connection are numbers or FAILED; threads a number or '-'.
  P.tsv  protocol core micro-benchmark
         op  size  gbps  memcpy_gbps
         size in bytes; rows repeated for the same op and size are reduced to their median.

Markdown output: throughput (median messages/s of the repeats, with the spread), the ratio of
each median to the --baseline server's median and to the --ceiling server's median, the
round-trip p50/p99 of the --latency scenario, and the idle and protocol tables when given.

SVG output: a horizontal grouped bar chart, one group per scenario and one bar per server, the
bar length being the ratio of the server's median to the baseline's median.

Exits with status 1 and a message naming the file and line on malformed input.
"""
import argparse
import math
import statistics
import sys
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

RESULTS_COLUMNS = (
    "scenario", "description", "server", "repeat", "messages_per_s", "p50_us", "p99_us",
)
IDLE_COLUMNS = ("server", "connections", "rss_per_conn_handshake", "rss_per_conn_echo", "threads")
PROTO_COLUMNS = ("op", "size", "gbps", "memcpy_gbps")

FAILED = "FAILED"
NO_VALUE = "-"
DASH = "\u2013"  # en dash: no value
TIMES = "\u00d7"

# Friendlier names for the reference servers in headings.
FRIENDLY_NAMES = {"tcp-raw": "raw TCP"}

# Okabe-Ito, reordered so that the low-contrast yellow comes late.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#56B4E9", "#CC79A7", "#F0E442", "#000000")

# SVG layout (pixels).
SVG_WIDTH = 900
SVG_PAD = 16
SVG_FONT = "system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif"
BAR_HEIGHT = 13
BAR_GAP = 3
GROUP_PAD = 9
LABEL_FONT_SIZE = 12
LABEL_LINE_HEIGHT = 15
LABEL_MAX_WIDTH = 250
VALUE_MARGIN = 56  # room right of the plot for the longest bar's ratio label


class ReportError(Exception):
    """A problem with an input or output file, reported as 'file[:line]: message'."""


# ---------------------------------------------------------------------------------------------
# Reading the inputs


def read_tsv(path, columns):
    """Yields (line number, {column: text}) for each data line of a tab-separated file.

    The first non-blank line is the header; it must name every column in `columns` (in any
    order; extra columns are ignored). Every data line must have as many fields as the header.
    """
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise ReportError(f"{path}: cannot read: {e.strerror or e}") from e
    except UnicodeDecodeError as e:
        raise ReportError(f"{path}: not UTF-8 text: {e}") from e

    header = None
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        fields = [f.strip() for f in line.split("\t")]
        if header is None:
            missing = [c for c in columns if c not in fields]
            if missing:
                raise ReportError(
                    f"{path}:{lineno}: header lacks column(s) {', '.join(missing)}; "
                    f"expected: {' <TAB> '.join(columns)}"
                )
            header = fields
            continue
        if len(fields) != len(header):
            raise ReportError(
                f"{path}:{lineno}: expected {len(header)} tab-separated fields, got {len(fields)}"
            )
        yield lineno, dict(zip(header, fields))
    if header is None:
        raise ReportError(f"{path}: empty file (no header line)")


def parse_number(text, where, column, allowed=(), signed=False):
    """A finite number (non-negative unless `signed`), or one of the `allowed` markers as is."""
    if text in allowed:
        return text
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not math.isfinite(value) or (value < 0 and not signed):
        kind = "a number" if signed else "a non-negative number"
        extra = "".join(f" or {a}" for a in allowed)
        raise ReportError(f"{where}: {column} must be {kind}{extra}, got {text!r}")
    return value


def parse_count(text, where, column, allowed=(), minimum=0):
    """A whole number >= minimum, or one of the `allowed` markers returned as is."""
    if text in allowed:
        return text
    if not text.isdigit() or int(text) < minimum:
        extra = "".join(f" or {a}" for a in allowed)
        raise ReportError(
            f"{where}: {column} must be a whole number >= {minimum}{extra}, got {text!r}"
        )
    return int(text)


def require_text(text, where, column):
    if not text:
        raise ReportError(f"{where}: {column} is empty")
    return text


@dataclass
class Cell:
    """All repeats of one server in one scenario."""

    rates: list = field(default_factory=list)  # messages/s of the successful repeats
    failed: int = 0
    p50: list = field(default_factory=list)
    p99: list = field(default_factory=list)
    repeats: dict = field(default_factory=dict)  # repeat number -> line number

    @property
    def total(self):
        return len(self.repeats)

    @property
    def median(self):
        """Median messages/s, or None if any repeat failed."""
        if self.failed or not self.rates:
            return None
        return statistics.median(self.rates)

    @property
    def spread(self):
        """Half of (max - min) over the median, as a fraction; None if not meaningful."""
        median = self.median
        if median is None or len(self.rates) < 2 or median == 0:
            return None
        return (max(self.rates) - min(self.rates)) / 2 / median


@dataclass
class Results:
    scenarios: dict = field(default_factory=dict)  # id -> description, in order of appearance
    servers: list = field(default_factory=list)  # in order of appearance
    cells: dict = field(default_factory=dict)  # (scenario, server) -> Cell

    def cell(self, scenario, server):
        return self.cells.get((scenario, server))

    def median(self, scenario, server):
        cell = self.cell(scenario, server)
        return None if cell is None else cell.median

    def ratio(self, scenario, server, reference):
        """Median over the reference's median, or None if either is unavailable."""
        value, ref = self.median(scenario, server), self.median(scenario, reference)
        if value is None or not ref:
            return None
        return value / ref

    def repeat_counts(self):
        return sorted({cell.total for cell in self.cells.values()})


def read_results(path):
    results = Results()
    for lineno, row in read_tsv(path, RESULTS_COLUMNS):
        where = f"{path}:{lineno}"
        scenario = require_text(row["scenario"], where, "scenario")
        server = require_text(row["server"], where, "server")
        repeat = parse_count(row["repeat"], where, "repeat", minimum=1)
        rate = parse_number(row["messages_per_s"], where, "messages_per_s", (FAILED,))
        p50 = parse_number(row["p50_us"], where, "p50_us", (NO_VALUE,))
        p99 = parse_number(row["p99_us"], where, "p99_us", (NO_VALUE,))

        results.scenarios.setdefault(scenario, row["description"] or scenario)
        if server not in results.servers:
            results.servers.append(server)
        cell = results.cells.setdefault((scenario, server), Cell())
        if repeat in cell.repeats:
            raise ReportError(
                f"{where}: repeat {repeat} of {server} in {scenario} already given on line "
                f"{cell.repeats[repeat]}"
            )
        cell.repeats[repeat] = lineno
        if rate == FAILED:
            cell.failed += 1
            continue
        cell.rates.append(rate)
        if p50 != NO_VALUE:
            cell.p50.append(p50)
        if p99 != NO_VALUE:
            cell.p99.append(p99)
    if not results.cells:
        raise ReportError(f"{path}: no result lines after the header")
    return results


def read_idle(path):
    rows = []
    for lineno, row in read_tsv(path, IDLE_COLUMNS):
        where = f"{path}:{lineno}"
        rows.append(
            {
                "server": require_text(row["server"], where, "server"),
                "connections": parse_count(row["connections"], where, "connections"),
                # Differences of resident memory: noise can make a small one negative.
                "handshake": parse_number(row["rss_per_conn_handshake"], where,
                                          "rss_per_conn_handshake", (FAILED,), signed=True),
                "echo": parse_number(row["rss_per_conn_echo"], where, "rss_per_conn_echo",
                                     (FAILED,), signed=True),
                "threads": parse_count(row["threads"], where, "threads", (NO_VALUE, FAILED)),
            }
        )
    return rows


def read_proto(path):
    """Returns (ops in order, sizes ascending, {(op, size): (gbps, memcpy_gbps)})."""
    samples = {}
    ops = []
    for lineno, row in read_tsv(path, PROTO_COLUMNS):
        where = f"{path}:{lineno}"
        op = require_text(row["op"], where, "op")
        size = parse_count(row["size"], where, "size")
        gbps = parse_number(row["gbps"], where, "gbps", (FAILED,))
        memcpy = parse_number(row["memcpy_gbps"], where, "memcpy_gbps", (FAILED, NO_VALUE))
        if op not in ops:
            ops.append(op)
        samples.setdefault((op, size), []).append((gbps, memcpy))

    def median_or_marker(values):
        numbers = [v for v in values if not isinstance(v, str)]
        if len(numbers) != len(values):
            return FAILED if FAILED in values else None
        return statistics.median(numbers)

    table = {
        key: (median_or_marker([g for g, _ in pairs]), median_or_marker([m for _, m in pairs]))
        for key, pairs in samples.items()
    }
    sizes = sorted({size for _, size in samples})
    return ops, sizes, table


# ---------------------------------------------------------------------------------------------
# Formatting


def fmt_rate(value):
    if value >= 100:
        return f"{round(value):,}"
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def fmt_ratio(value):
    return f"{value:.2f}{TIMES}"


def fmt_micros(value):
    if value >= 100:
        return f"{round(value):,}"
    return f"{value:.1f}"


def fmt_bytes(value):
    if abs(value) < 1024:
        return f"{round(value)} B"
    return f"{value / 1024:,.1f} KiB"


def fmt_size(size):
    for unit, factor in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= factor and size % factor == 0:
            return f"{size // factor} {unit}"
    return f"{size:,} B"


def fmt_gbps(value):
    if value >= 100:
        return f"{value:.0f}"
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def fmt_repeats(counts):
    """'3 repeats', '1 repeat' or '2–3 repeats' for the numbers of repeats per cell."""
    if len(counts) == 1:
        return f"{counts[0]} repeat" + ("" if counts[0] == 1 else "s")
    return f"{counts[0]}{DASH}{counts[-1]} repeats"


def friendly(server):
    name = FRIENDLY_NAMES.get(server)
    return f"{name} ({server})" if name else server


def md_escape(text):
    """Escapes the characters that would end a table cell or start markup."""
    return "".join("\\" + ch if ch in "\\|<>*_`[]" else ch for ch in str(text))


def md_table(headers, rows):
    """A Markdown table, first column left-aligned and the others right-aligned, padded."""
    cells = [[md_escape(h) for h in headers]] + [[md_escape(c) for c in row] for row in rows]
    widths = [max(3, *(len(row[i]) for row in cells)) for i in range(len(headers))]

    def line(row):
        padded = [
            row[i].ljust(widths[i]) if i == 0 else row[i].rjust(widths[i]) for i in range(len(row))
        ]
        return "| " + " | ".join(padded) + " |"

    rule = ["-" * widths[0]] + ["-" * (w - 1) + ":" for w in widths[1:]]
    return [line(cells[0]), "| " + " | ".join(rule) + " |"] + [line(row) for row in cells[1:]]


# ---------------------------------------------------------------------------------------------
# Markdown


def throughput_cell(cell):
    if cell is None:
        return DASH
    if cell.failed:
        return f"{FAILED} ({cell.failed} of {cell.total})"
    text = fmt_rate(cell.median)
    if cell.spread is not None:
        text += f" \u00b1{cell.spread * 100:.1f}%"
    return text


def ratio_cell(results, scenario, server, reference):
    cell = results.cell(scenario, server)
    if cell is None or results.median(scenario, reference) in (None, 0):
        return DASH
    if cell.failed:
        return FAILED
    return fmt_ratio(results.ratio(scenario, server, reference))


def throughput_section(results):
    repeats = fmt_repeats(results.repeat_counts())
    rows = [
        [description] + [throughput_cell(results.cell(scenario, s)) for s in results.servers]
        for scenario, description in results.scenarios.items()
    ]
    lines = [f"### Throughput (messages/s, median of {repeats})", ""]
    lines += md_table(["Scenario"] + results.servers, rows)
    notes = []
    if any(cell.spread is not None for cell in results.cells.values()):
        notes.append("\u00b1 is half the range of the repeats (max \u2212 min) over the median.")
    if any(cell.failed for cell in results.cells.values()):
        notes.append(f"{FAILED} (k of n): k of the cell's n repeats failed.")
    if any(results.cell(sc, s) is None for sc in results.scenarios for s in results.servers):
        notes.append(f"{DASH}: not run.")
    return lines + (["", " ".join(notes)] if notes else [])


def ratio_section(results, reference):
    lines = [f"### Ratio to {friendly(reference)}", ""]
    if reference not in results.servers:
        return lines + [f"No results for {reference}."]
    rows = [
        [description] + [ratio_cell(results, scenario, s, reference) for s in results.servers]
        for scenario, description in results.scenarios.items()
    ]
    lines += md_table(["Scenario"] + results.servers, rows)
    lines += ["", f"Median messages/s over the median of {reference} in the same scenario."]
    lacking = [
        description
        for scenario, description in results.scenarios.items()
        if results.median(scenario, reference) in (None, 0)
    ]
    if lacking:
        lines[-1] += f" {DASH}: no {reference} result to compare with ({'; '.join(lacking)})."
    return lines


def latency_section(results, scenario):
    if scenario not in results.scenarios:
        return []
    rows = []
    for server in results.servers:
        cell = results.cell(scenario, server)
        if cell is None:
            continue
        if cell.failed:
            failed = f"{FAILED} ({cell.failed} of {cell.total})"
            rows.append([server, failed, failed])
            continue
        medians = [statistics.median(v) if v else None for v in (cell.p50, cell.p99)]
        rows.append([server] + [DASH if m is None else fmt_micros(m) for m in medians])
    description = md_escape(results.scenarios[scenario])
    title = f"### Round-trip latency: {description} (\u00b5s, median of the repeats)"
    return [title, ""] + md_table(["Server", "p50 (\u00b5s)", "p99 (\u00b5s)"], rows)


def idle_section(rows):
    def value(v, fmt):
        return v if isinstance(v, str) else fmt(v)

    table = [
        [
            r["server"],
            value(r["handshake"], fmt_bytes),
            value(r["echo"], fmt_bytes),
            f"{r['connections']:,}",
            DASH if r["threads"] == NO_VALUE else value(r["threads"], lambda n: f"{n:,}"),
        ]
        for r in rows
    ]
    headers = ["Server", "After handshake", "After one echo", "Connections", "Threads"]
    lines = ["### Idle memory (resident memory per connection)", ""] + md_table(headers, table)
    return lines + ["", "Bytes per connection; 1 KiB = 1024 B."]


def proto_section(ops, sizes, table):
    def cell(op, size):
        if (op, size) not in table:
            return DASH
        gbps, memcpy = table[(op, size)]
        if gbps == FAILED:
            return FAILED
        text = f"{fmt_gbps(gbps)} GB/s"
        if isinstance(memcpy, float) and memcpy > 0:
            text += f" ({gbps / memcpy:.2f}{TIMES})"
        return text

    rows = [[fmt_size(size)] + [cell(op, size) for op in ops] for size in sizes]
    lines = ["### Protocol core (GB/s; in brackets, the ratio to memcpy of the same size)", ""]
    return lines + md_table(["Size"] + ops, rows)


def repeats_line(results):
    counts = results.repeat_counts()
    if len(counts) == 1:
        return f"Repeats found: {counts[0]} per scenario and server."
    return f"Repeats found: between {counts[0]} and {counts[-1]} per scenario and server."


def render_markdown(results, idle, proto, baseline, ceiling, latency):
    sections = [
        [repeats_line(results)],
        throughput_section(results),
        ratio_section(results, baseline),
    ]
    if ceiling != baseline:
        sections.append(ratio_section(results, ceiling))
    sections.append(latency_section(results, latency))
    if idle is not None:
        sections.append(idle_section(idle))
    if proto is not None:
        sections.append(proto_section(*proto))
    return "\n\n".join("\n".join(s) for s in sections if s) + "\n"


# ---------------------------------------------------------------------------------------------
# SVG


def text_width(text, size):
    """A rough, generous width estimate for a sans-serif text, enough for layout."""
    units = 0.0
    for ch in text:
        if ch in "iljtf.,:;'|!()[] ":
            units += 0.32
        elif ch in "mwMW@%":
            units += 0.85
        elif ch.isupper():
            units += 0.68
        else:
            units += 0.57
    return units * size * 1.1


def wrap(text, size, max_width, max_lines=3):
    """Splits text at spaces into lines no wider than max_width (ellipsis past max_lines)."""
    lines, current = [], ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if current and text_width(candidate, size) > max_width:
            lines.append(current)
            current = word
        else:
            current = candidate
    lines.append(current)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] += "\u2026"
    return lines


def nice_step(limit, max_ticks=8):
    """A tick step (1, 2, 2.5 or 5 times a power of ten) giving at most max_ticks ticks."""
    raw = limit / max_ticks
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if factor * power >= raw:
            return factor * power
    return 10 * power


def fmt_tick(value):
    return f"{value:g}{TIMES}"


def attr(value):
    return escape(str(value), {'"': "&quot;"})


def svg_text(x, y, text, size=LABEL_FONT_SIZE, anchor="start", fill="#222222", extra=""):
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
        f'fill="{fill}"{extra}>{escape(text)}</text>'
    )


def legend(servers, colours, top, width):
    """Legend items laid out left to right, wrapping; returns (svg lines, height)."""
    parts, x, y = [], SVG_PAD, top
    for server, colour in zip(servers, colours):
        item = 12 + 6 + text_width(server, 12) + 18
        if x > SVG_PAD and x + item > width - SVG_PAD:
            x, y = SVG_PAD, y + 20
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="12" height="12" rx="2" fill="{colour}" '
            f'stroke="#000000" stroke-opacity="0.25"/>'
        )
        parts.append(svg_text(x + 18, y + 10.5, server))
        x += item
    return parts, y + 12 - top


def render_svg(results, baseline, width=SVG_WIDTH):
    servers = results.servers
    colours = [PALETTE[i % len(PALETTE)] for i in range(len(servers))]
    scenarios = list(results.scenarios.items())
    repeats = fmt_repeats(results.repeat_counts())

    ratios = {
        (sc, s): results.ratio(sc, s, baseline) for sc, _ in scenarios for s in servers
    }
    highest = max([r for r in ratios.values() if r is not None] + [1.0])
    step = nice_step(highest)
    axis_max = math.ceil(highest / step - 1e-9) * step

    labels = {sc: wrap(desc, LABEL_FONT_SIZE, LABEL_MAX_WIDTH) for sc, desc in scenarios}
    label_width = max(
        text_width(line, LABEL_FONT_SIZE) for lines in labels.values() for line in lines
    )
    plot_left = SVG_PAD + min(label_width, LABEL_MAX_WIDTH) + 14
    plot_right = width - SVG_PAD - VALUE_MARGIN
    scale = (plot_right - plot_left) / axis_max

    body = []
    title = f"Throughput relative to {baseline}"
    subtitle = (
        f"Median messages/s of {repeats}, over the median of {baseline} in the same "
        f"scenario; longer is faster."
    )
    body.append(svg_text(SVG_PAD, SVG_PAD + 16, title, size=17, extra=' font-weight="bold"'))
    body.append(svg_text(SVG_PAD, SVG_PAD + 36, subtitle, size=12, fill="#555555"))
    legend_parts, legend_height = legend(servers, colours, SVG_PAD + 50, width)
    body += legend_parts

    plot_top = SVG_PAD + 50 + legend_height + 30
    group_height = len(servers) * (BAR_HEIGHT + BAR_GAP) - BAR_GAP + 2 * GROUP_PAD
    # Scenario labels may need more lines than the bars take.
    heights = [
        max(group_height, len(labels[scenario]) * LABEL_LINE_HEIGHT + 2 * GROUP_PAD)
        for scenario, _ in scenarios
    ]
    plot_bottom = plot_top + sum(heights)

    # Grid and ticks.
    grid, tick = [], 0.0
    while tick <= axis_max + 1e-9:
        x = plot_left + tick * scale
        grid.append(
            f'<line x1="{x:.1f}" y1="{plot_top:.1f}" x2="{x:.1f}" y2="{plot_bottom:.1f}" '
            f'stroke="#e3e3e3" stroke-width="1"/>'
        )
        grid.append(svg_text(x, plot_bottom + 16, fmt_tick(round(tick, 6)), size=11,
                             anchor="middle", fill="#555555"))
        tick += step
    body += grid

    # Groups.
    y, value_labels = plot_top, []
    for index, ((scenario, description), height) in enumerate(zip(scenarios, heights)):
        if index:
            body.append(
                f'<line x1="{SVG_PAD}" y1="{y:.1f}" x2="{width - SVG_PAD}" y2="{y:.1f}" '
                f'stroke="#cccccc" stroke-width="1"/>'
            )
        lines = labels[scenario]
        first = y + height / 2 - (len(lines) - 1) * LABEL_LINE_HEIGHT / 2 + LABEL_FONT_SIZE * 0.35
        body.append(f"<g><title>{escape(f'{description} ({scenario})')}</title>")
        for i, line in enumerate(lines):
            body.append(svg_text(plot_left - 10, first + i * LABEL_LINE_HEIGHT, line, anchor="end"))
        body.append("</g>")

        bar_y = y + (height - group_height) / 2 + GROUP_PAD
        for server, colour in zip(servers, colours):
            ratio = ratios[(scenario, server)]
            mid = bar_y + BAR_HEIGHT / 2 + 11 * 0.35
            if ratio is None:
                cell = results.cell(scenario, server)
                note = "failed" if cell is not None and cell.failed else "n/a"
                body.append(svg_text(plot_left + 4, mid, note, size=11, fill="#777777",
                                     extra=' font-style="italic"'))
            else:
                length = max(ratio * scale, 1.0)
                median = fmt_rate(results.median(scenario, server))
                tooltip = escape(f"{server}: {fmt_ratio(ratio)} ({median} messages/s)")
                body.append(
                    f'<rect x="{plot_left:.1f}" y="{bar_y:.1f}" width="{length:.1f}" '
                    f'height="{BAR_HEIGHT}" fill="{colour}" stroke="#000000" stroke-opacity="0.2" '
                    f'stroke-width="0.5"><title>{tooltip}</title></rect>'
                )
                value_labels.append((plot_left + length + 4, bar_y, mid, fmt_ratio(ratio)))
            bar_y += BAR_HEIGHT + BAR_GAP
        y += height

    # Axis line, and the reference line at 1x drawn over the bars.
    body.append(
        f'<line x1="{plot_left:.1f}" y1="{plot_top:.1f}" x2="{plot_left:.1f}" '
        f'y2="{plot_bottom:.1f}" stroke="#555555" stroke-width="1"/>'
    )
    one = plot_left + scale
    body.append(
        f'<line x1="{one:.1f}" y1="{plot_top - 6:.1f}" x2="{one:.1f}" y2="{plot_bottom:.1f}" '
        f'stroke="#222222" stroke-width="1.5" stroke-dasharray="5 3"/>'
    )
    body.append(svg_text(one, plot_top - 10, f"1{TIMES} = {baseline}", size=11, anchor="middle",
                         extra=' font-weight="bold"'))
    # Ratio labels last, on a white backing so that the reference line does not cross them.
    for x, bar_y, mid, label in value_labels:
        body.append(
            f'<rect x="{x - 2:.1f}" y="{bar_y:.1f}" width="{text_width(label, 11) + 4:.1f}" '
            f'height="{BAR_HEIGHT}" fill="#ffffff" fill-opacity="0.85"/>'
        )
        body.append(svg_text(x, mid, label, size=11))

    height = plot_bottom + 16 + SVG_PAD + 4
    head = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height:.0f}" '
        f'viewBox="0 0 {width} {height:.0f}" role="img" aria-label="{attr(title)}" '
        f'font-family="{attr(SVG_FONT)}">',
        f"<title>{escape(title)}</title>",
        f'<rect x="0" y="0" width="{width}" height="{height:.0f}" fill="#ffffff"/>',
    ]
    return "\n".join(head + body + ["</svg>"]) + "\n"


# ---------------------------------------------------------------------------------------------


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Turns raw benchmark results into Markdown tables and an SVG chart."
    )
    parser.add_argument("--results", required=True, metavar="R.tsv", help="throughput runs")
    parser.add_argument("--idle", metavar="I.tsv", help="idle memory per connection")
    parser.add_argument("--proto", metavar="P.tsv", help="protocol core micro-benchmark")
    parser.add_argument("--svg", metavar="OUT.svg", help="write the ratio chart here")
    parser.add_argument("--markdown", metavar="OUT.md",
                        help="write the Markdown here (default: stdout)")
    parser.add_argument("--baseline", default="tokio-tungstenite",
                        help="server the ratios and the chart compare with (default: %(default)s)")
    parser.add_argument("--ceiling", default="tcp-raw",
                        help="second reference server for ratios (default: %(default)s)")
    parser.add_argument("--latency", default="latency", metavar="SCENARIO",
                        help="scenario whose p50/p99 make the latency table (default: %(default)s)")
    return parser.parse_args(argv)


def write_file(path, text):
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as e:
        raise ReportError(f"{path}: cannot write: {e.strerror or e}") from e


def main(argv):
    args = parse_args(argv)
    try:
        results = read_results(args.results)
        idle = read_idle(args.idle) if args.idle else None
        proto = read_proto(args.proto) if args.proto else None
        markdown = render_markdown(results, idle, proto, args.baseline, args.ceiling, args.latency)
        if args.svg:
            if args.baseline not in results.servers:
                print(f"bench_report: warning: no results for {args.baseline}, "
                      "the chart has no bars", file=sys.stderr)
            write_file(args.svg, render_svg(results, args.baseline))
        if args.markdown:
            write_file(args.markdown, markdown)
        else:
            sys.stdout.write(markdown)
    except ReportError as e:
        print(f"bench_report: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
