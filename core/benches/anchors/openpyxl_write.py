"""Anchor of benches/export.rs: openpyxl (write-only mode, the streaming writer Python analysts'
tools use) writing the same rows as the SafeHome xlsx export, one sheet per CSV file of the
SafeHome CSV export of the same records. The CSV files are read before timing; only building and
saving the workbook is timed, REPS times. Cells that parse as numbers are written as numbers, as
SafeHome writes them. Prints one JSON line with the median and every run in seconds.

    python openpyxl_write.py CSV_DIR OUT.xlsx REPS
"""

import csv
import json
import os
import statistics
import sys
import time

import openpyxl


def cell(v):
    if v == "":
        return None
    try:
        return float(v)
    except ValueError:
        return v


def main():
    src, out, reps = sys.argv[1], sys.argv[2], int(sys.argv[3])
    sheets = []
    for name in sorted(os.listdir(src)):
        if not name.endswith(".csv"):
            continue
        with open(os.path.join(src, name), encoding="utf-8-sig", newline="") as f:
            rows = [[cell(v) for v in r] for r in csv.reader(f)]
        sheets.append((name[:-4][:31], rows))
    runs = []
    for _ in range(reps):
        t = time.perf_counter()
        wb = openpyxl.Workbook(write_only=True)
        for title, rows in sheets:
            ws = wb.create_sheet(title=title)
            for r in rows:
                ws.append(r)
        wb.save(out)
        runs.append(time.perf_counter() - t)
    print(
        json.dumps(
            {
                "openpyxl": openpyxl.__version__,
                "rows": sum(len(r) for _, r in sheets),
                "median_s": statistics.median(runs),
                "runs_s": runs,
            }
        )
    )


if __name__ == "__main__":
    main()
