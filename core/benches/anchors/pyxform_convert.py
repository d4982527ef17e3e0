"""Anchor of benches/xlsform.rs: pyxform (the XLSForm converter ODK Central and KoboToolbox run)
converting the same spreadsheet to an XForm, in process, REPS times; and, for comparison, its
reading step alone (the workbook to pyxform's internal JSON, no XForm). Prints one JSON line with
the medians and every run in seconds, and pyxform's version.

    python pyxform_convert.py FORM.xlsx REPS
"""

import json
import statistics
import sys
import time

import pyxform
from pyxform.xls2json import parse_file_to_json
from pyxform.xls2xform import convert


def main():
    path, reps = sys.argv[1], int(sys.argv[2])
    convert(xlsform=path)  # warm-up: imports, caches
    runs = []
    for _ in range(reps):
        t = time.perf_counter()
        result = convert(xlsform=path)
        runs.append(time.perf_counter() - t)
    assert "<h:html" in result.xform
    reads = []
    for _ in range(reps):
        t = time.perf_counter()
        parse_file_to_json(path)
        reads.append(time.perf_counter() - t)
    print(
        json.dumps(
            {
                "pyxform": pyxform.__version__,
                "median_s": statistics.median(runs),
                "runs_s": runs,
                "read_median_s": statistics.median(reads),
            }
        )
    )


if __name__ == "__main__":
    main()
