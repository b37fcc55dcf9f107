#!/usr/bin/env python3
"""Plots one multi-task training run from its JSONL log (one JSON object per epoch).

Keys read, each optional: "epoch", "train_loss.<task>", "val.<task>.<metric>", "weight.<task>",
"grad_norm.<task>", "cos.<ti>.<tj>", "conflict_rate". Figures written to --out (PNG), each only when its keys
appear in the log:
  losses.png        training loss per task, one panel per task (the tasks' scales may differ widely)
  val_metrics.png   validation metrics, one panel per task and metric
  weights.png       task weights over epochs
  grad_norms.png    per-task gradient norms (log scale) and, when logged, the conflict rate
  cosine.png        the last epoch's matrix of gradient cosine similarities, as a heatmap

Usage: python3 scripts/plot_mtl.py run.jsonl --out plots/
Needs matplotlib (Debian: apt-get install python3-matplotlib); renders headless with the Agg backend.
"""

import argparse
import json
import math
import os
import sys


def load_matplotlib():
    try:
        import matplotlib
    except ImportError:
        sys.exit(
            "plot_mtl.py: matplotlib is not installed for " + sys.executable + ". Install it with "
            "'apt-get install python3-matplotlib' (then run the script with /usr/bin/python3) or "
            "'python3 -m pip install matplotlib'."
        )
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def epoch_axis(axis):
    """Labels the x axis "epoch" with whole-number ticks."""
    from matplotlib.ticker import MaxNLocator

    axis.set_xlabel("epoch")
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))


def read_log(path):
    """The epochs of the log as a list of dicts, with blank lines skipped."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.readlines()
    except OSError as e:
        sys.exit(f"plot_mtl.py: cannot read {path}: {e.strerror}")
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            sys.exit(f"plot_mtl.py: {path}, line {number} is not valid JSON: {e.msg}")
        if not isinstance(record, dict):
            sys.exit(f"plot_mtl.py: {path}, line {number} is a JSON {type(record).__name__}, not an object")
        records.append(record)
    if not records:
        sys.exit(f"plot_mtl.py: {path} holds no epochs")
    return records


def number(value):
    """The value as a float, or None when it is missing or not a finite number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def epochs_of(records):
    return [number(r.get("epoch")) if number(r.get("epoch")) is not None else float(i) for i, r in enumerate(records)]


def series(records, key):
    """(epochs, values) of `key` over the epochs where it is logged as a number."""
    xs, ys = [], []
    for x, record in zip(epochs_of(records), records):
        y = number(record.get(key))
        if y is not None:
            xs.append(x)
            ys.append(y)
    return xs, ys


def keys_with_prefix(records, prefix):
    """The suffixes of every key starting with `prefix`, in order of first appearance."""
    found = {}
    for record in records:
        for key in record:
            if key.startswith(prefix) and len(key) > len(prefix):
                found.setdefault(key[len(prefix):], None)
    return list(found)


def task_names(records):
    tasks = {}
    for prefix in ("train_loss.", "weight.", "grad_norm."):
        for name in keys_with_prefix(records, prefix):
            tasks.setdefault(name, None)
    return list(tasks)


def split_pair(pair, tasks):
    """Splits "<ti>.<tj>" into two task names, preferring names seen elsewhere in the log."""
    for i, char in enumerate(pair):
        if char == "." and pair[:i] in tasks and pair[i + 1:] in tasks:
            return pair[:i], pair[i + 1:]
    if pair.count(".") == 1:
        return tuple(pair.split("."))
    return None


def grid(count):
    columns = min(count, 3)
    return (count + columns - 1) // columns, columns


def save(plt, figure, out_dir, name, written):
    path = os.path.join(out_dir, name)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    written.append(path)


def plot_losses(plt, records, tasks, out_dir, written):
    panels = [(t, series(records, "train_loss." + t)) for t in tasks]
    panels = [(t, s) for t, s in panels if s[0]]
    if not panels:
        return
    rows, columns = grid(len(panels))
    figure, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.2 * rows), squeeze=False)
    for axis, (task, (xs, ys)) in zip(axes.flat, panels):
        axis.plot(xs, ys, marker="o", markersize=3)
        axis.set_title(f"{task}: training loss")
        epoch_axis(axis)
        if min(ys) > 0 and max(ys) / min(ys) > 100:
            axis.set_yscale("log")
        axis.grid(alpha=0.3)
    for axis in list(axes.flat)[len(panels):]:
        axis.set_visible(False)
    save(plt, figure, out_dir, "losses.png", written)


def plot_val_metrics(plt, records, out_dir, written):
    names = [n for n in keys_with_prefix(records, "val.") if series(records, "val." + n)[0]]
    if not names:
        return
    rows, columns = grid(len(names))
    figure, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.2 * rows), squeeze=False)
    for axis, name in zip(axes.flat, names):
        xs, ys = series(records, "val." + name)
        axis.plot(xs, ys, marker="o", markersize=3, color="tab:green")
        task, _, metric = name.rpartition(".")
        axis.set_title(f"{task}: validation {metric}" if task else f"validation {name}")
        epoch_axis(axis)
        axis.grid(alpha=0.3)
    for axis in list(axes.flat)[len(names):]:
        axis.set_visible(False)
    save(plt, figure, out_dir, "val_metrics.png", written)


def plot_weights(plt, records, tasks, out_dir, written):
    lines = [(t, series(records, "weight." + t)) for t in tasks]
    lines = [(t, s) for t, s in lines if s[0]]
    if not lines:
        return
    figure, axis = plt.subplots(figsize=(6, 3.8))
    for task, (xs, ys) in lines:
        axis.plot(xs, ys, marker="o", markersize=3, label=task)
    axis.set_title("task weights")
    epoch_axis(axis)
    axis.set_ylabel("weight")
    axis.grid(alpha=0.3)
    axis.legend()
    save(plt, figure, out_dir, "weights.png", written)


def plot_grad_norms(plt, records, tasks, out_dir, written):
    lines = [(t, series(records, "grad_norm." + t)) for t in tasks]
    lines = [(t, s) for t, s in lines if s[0]]
    conflict = series(records, "conflict_rate")
    if not lines and not conflict[0]:
        return
    panels = int(bool(lines)) + int(bool(conflict[0]))
    figure, axes = plt.subplots(1, panels, figsize=(5.5 * panels, 3.8), squeeze=False)
    axes = list(axes.flat)
    if lines:
        axis = axes.pop(0)
        for task, (xs, ys) in lines:
            axis.plot(xs, ys, marker="o", markersize=3, label=task)
        if all(y > 0 for _, (_, ys) in lines for y in ys):
            axis.set_yscale("log")
        axis.set_title("gradient norm per task")
        epoch_axis(axis)
        axis.grid(alpha=0.3)
        axis.legend()
    if conflict[0]:
        axis = axes.pop(0)
        axis.plot(conflict[0], conflict[1], marker="o", markersize=3, color="tab:red")
        axis.set_ylim(-0.02, 1.02)
        axis.set_title("fraction of steps with conflicting gradients")
        epoch_axis(axis)
        axis.grid(alpha=0.3)
    save(plt, figure, out_dir, "grad_norms.png", written)


def plot_cosine(plt, records, tasks, out_dir, written):
    # The last epoch that logged any cosine.
    last = next((r for r in reversed(records) if any(k.startswith("cos.") for k in r)), None)
    if last is None:
        return
    pairs = {}
    names = list(tasks)
    for key, value in last.items():
        if not key.startswith("cos.") or number(value) is None:
            continue
        pair = split_pair(key[len("cos."):], tasks)
        if pair is None:
            print(f"plot_mtl.py: cannot tell the two task names apart in '{key}'; skipped", file=sys.stderr)
            continue
        pairs[pair] = number(value)
        for name in pair:
            if name not in names:
                names.append(name)
    if not pairs:
        return
    names = [n for n in names if any(n in p for p in pairs)]
    index = {n: i for i, n in enumerate(names)}
    size = len(names)
    matrix = [[1.0 if i == j else math.nan for j in range(size)] for i in range(size)]
    for (a, b), value in pairs.items():
        matrix[index[a]][index[b]] = matrix[index[b]][index[a]] = value
    figure, axis = plt.subplots(figsize=(1.2 * size + 2.5, 1.1 * size + 1.8))
    image = axis.imshow(matrix, cmap="RdBu", vmin=-1, vmax=1)
    axis.set_xticks(range(size))
    axis.set_yticks(range(size))
    axis.set_xticklabels(names, rotation=45, ha="right")
    axis.set_yticklabels(names)
    for i in range(size):
        for j in range(size):
            if not math.isnan(matrix[i][j]):
                axis.text(j, i, f"{matrix[i][j]:.2f}", ha="center", va="center",
                          color="white" if abs(matrix[i][j]) > 0.6 else "black")
    epoch = number(last.get("epoch"))
    axis.set_title("gradient cosine similarity" + (f" (epoch {epoch:g})" if epoch is not None else ""))
    figure.colorbar(image, ax=axis, fraction=0.046, pad=0.04)
    save(plt, figure, out_dir, "cosine.png", written)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Plot a multi-task training run from its JSONL log.")
    parser.add_argument("log", help="the run's JSONL log (one JSON object per epoch)")
    parser.add_argument("--out", default=".", help="folder for the PNG files (created if needed; default: .)")
    args = parser.parse_args(argv)

    plt = load_matplotlib()
    records = read_log(args.log)
    try:
        os.makedirs(args.out, exist_ok=True)
    except OSError as e:
        sys.exit(f"plot_mtl.py: cannot create {args.out}: {e.strerror}")

    tasks = task_names(records)
    written = []
    plot_losses(plt, records, tasks, args.out, written)
    plot_val_metrics(plt, records, args.out, written)
    plot_weights(plt, records, tasks, args.out, written)
    plot_grad_norms(plt, records, tasks, args.out, written)
    plot_cosine(plt, records, tasks, args.out, written)
    if not written:
        sys.exit(f"plot_mtl.py: {args.log} has none of the keys this script plots "
                 "(train_loss.<task>, val.<task>.<metric>, weight.<task>, grad_norm.<task>, cos.<ti>.<tj>, "
                 "conflict_rate)")
    for path in written:
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
