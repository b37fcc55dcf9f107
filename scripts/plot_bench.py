#!/usr/bin/env python3
"""Turns the Google Benchmark JSON files of the CUDA benchmarks into a markdown report and a plot.

    plot_bench.py --markdown OUT.md [--plot OUT.png] [--title TEXT] [--context "key: value" ...] FILE.json ...

The markdown report has one table per program (one row per benchmark, with its time and every counter it
reports, and the error of a row that failed its check). The plot (matplotlib, Debian package
python3-matplotlib) shows GFLOP/s against the matrix size for every SGEMM row of bench_sgemm_cuda; without
matplotlib it is skipped with a message and the markdown still gets written.
"""
import argparse
import json
import os
import re
import sys

# Counters in the order the tables show them, with their number formats.
COUNTERS = [
    ("GFLOP/s", "{:.1f}"),
    ("pct_of_cublas", "{:.1f}"),
    ("max_rel_err", "{:.1e}"),
    ("GB/s", "{:.1f}"),
    ("pct_of_copy", "{:.1f}"),
    ("images/s", "{:.0f}"),
    ("speedup_vs_cpu", "{:.2f}"),
]


def load(path):
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    rows = [b for b in data.get("benchmarks", []) if b.get("run_type", "iteration") == "iteration"]
    return data.get("context", {}), rows


def program_name(path):
    return "bench_" + os.path.splitext(os.path.basename(path))[0]


def display_name(name):
    return name.replace("/manual_time", "").replace("/real_time", "")


def table(rows):
    present = [(c, fmt) for c, fmt in COUNTERS if any(c in r for r in rows)]
    header = ["benchmark", "time"] + [c for c, _ in present] + ["check"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        if r.get("error_occurred"):
            cells = [display_name(r["name"]), "-"] + ["-"] * len(present) + ["FAILED: " + r.get("error_message", "")]
        else:
            time = "{:.3g} {}".format(r.get("real_time", 0.0), r.get("time_unit", "ns"))
            cells = [display_name(r["name"]), time]
            cells += [fmt.format(r[c]) if c in r else "" for c, fmt in present]
            cells.append("ok")
        lines.append("| " + " | ".join(cell.replace("|", "/") for cell in cells) + " |")
    return "\n".join(lines)


def sgemm_series(rows):
    """{row name: [(n, GFLOP/s)]} for the SGEMM rows that passed their check."""
    series = {}
    for r in rows:
        if r.get("error_occurred") or "GFLOP/s" not in r:
            continue
        m = re.match(r"^(sgemm_[^/]+)/n:(\d+)", r["name"])
        if m:
            series.setdefault(m.group(1), []).append((int(m.group(2)), r["GFLOP/s"]))
    return {k: sorted(v) for k, v in series.items()}


def plot(series, path, title):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("plot_bench.py: matplotlib is not installed (apt-get install python3-matplotlib); no plot written")
        return False
    fig, ax = plt.subplots(figsize=(9, 6))
    for name, points in sorted(series.items(), key=lambda kv: (not kv[0].startswith("sgemm_cublas"), kv[0])):
        xs, ys = zip(*points)
        style = "--" if name.startswith("sgemm_cublas") else "-"
        ax.plot(xs, ys, style, marker="o", label=name.replace("sgemm_", ""))
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("n (C = A @ B, all n x n, float32)")
    ax.set_ylabel("GFLOP/s")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print("plot_bench.py: wrote " + path)
    return True


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--markdown", required=True, help="the report to write")
    parser.add_argument("--plot", help="the PNG of the SGEMM ladder to write")
    parser.add_argument("--title", default="tandem CUDA benchmarks")
    parser.add_argument("--context", action="append", default=[], help="a 'key: value' line for the report's header")
    parser.add_argument("files", nargs="+", help="Google Benchmark JSON files (--benchmark_out_format=json)")
    args = parser.parse_args()

    out = ["# " + args.title, ""]
    out += ["- " + line for line in args.context]
    all_rows = []
    sections = []
    for path in args.files:
        if not os.path.exists(path):
            sections += ["## " + program_name(path), "", "No results: the program did not write " + path + ".", ""]
            continue
        context, rows = load(path)
        all_rows += rows
        sections += ["## " + program_name(path), ""]
        if context.get("cuda_device"):
            sections += ["Device: {} (CUDA runtime {}), run {}.".format(
                context["cuda_device"], context.get("cuda_runtime", "?"), context.get("date", "?")), ""]
        sections += [table(rows), ""]
    series = sgemm_series(all_rows)
    if args.plot and series:
        if plot(series, args.plot, "SGEMM ladder: " + args.title):
            out += ["", "![SGEMM GFLOP/s against n]({})".format(os.path.basename(args.plot))]
    out += [""] + sections
    with open(args.markdown, "w", encoding="utf-8") as f:
        f.write("\n".join(out).rstrip() + "\n")
    print("plot_bench.py: wrote " + args.markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
