#!/usr/bin/env python3
"""Anchor for core/benches/location.rs: shapely 2 (GEOS) on the same areas and points.

Usage: shapely_strtree.py AREAS.geojson HOUSEHOLDS.csv QUERIES.csv [REPS]

Reads the synthetic communes the Rust bench wrote (a GeoJSON FeatureCollection of Polygon
features with a `code` property) and the household points (CSV id,lat,lon), then times:
  - index build: STRtree over the polygons; shapely.prepare of every polygon; STRtree over
    the household points;
  - point in area: STRtree.query(points, predicate="within") (= polygon contains point), bulk
    over every household, per lookup; the same with predicate="intersects" (boundary included,
    like SafeHome's closed areas); and one point at a time from Python, for reference;
  - nearest household: STRtree.query_nearest(queries) (k = 1, planar distance in degrees).
Each figure is the median of REPS runs. Memory is the growth of the process's resident set
(VmRSS). Prints one JSON object on stdout.
"""
import json
import statistics
import sys
import time

import numpy as np
import shapely
from shapely import STRtree


def rss_bytes():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def median_time(fn, reps):
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def read_points(path):
    ids, lat, lon = [], [], []
    with open(path) as f:
        header = f.readline().strip().split(",")
        ii, ilat, ilon = header.index("id"), header.index("lat"), header.index("lon")
        for line in f:
            parts = line.rstrip("\n").split(",")
            ids.append(parts[ii])
            lat.append(float(parts[ilat]))
            lon.append(float(parts[ilon]))
    return ids, np.array(lon), np.array(lat)


def main():
    areas_path, households_path, queries_path = sys.argv[1:4]
    reps = int(sys.argv[4]) if len(sys.argv) > 4 else 5

    with open(areas_path) as f:
        fc = json.load(f)
    rss0 = rss_bytes()
    polys = np.array(
        [shapely.Polygon(ft["geometry"]["coordinates"][0], ft["geometry"]["coordinates"][1:])
         for ft in fc["features"]],
        dtype=object,
    )
    codes = [ft["properties"]["code"] for ft in fc["features"]]
    del fc
    rss_polys = rss_bytes()

    _, hx, hy = read_points(households_path)
    _, qx, qy = read_points(queries_path)
    households = shapely.points(hx, hy)
    queries = shapely.points(qx, qy)

    build_tree = median_time(lambda: STRtree(polys), reps)
    rss1 = rss_bytes()
    tree = STRtree(polys)
    tree.query(households[:1])  # GEOS builds the tree lazily; force it
    rss_tree = rss_bytes() - rss1

    n = len(households)
    within = median_time(lambda: tree.query(households, predicate="within"), reps) / n
    intersects = median_time(lambda: tree.query(households, predicate="intersects"), reps) / n
    k = min(n, 5000)
    sample = households[:k]
    loop = median_time(lambda: [tree.query(p, predicate="within") for p in sample], reps) / k

    # Prepared polygons (an indexed point-in-area locator per polygon) with a bbox query first.
    # GEOS builds each locator lazily on first use, so memory is measured after a first run.
    def prepared_contains():
        inp, tr = tree.query(households)
        return shapely.contains(polys[tr], households[inp])

    rss2 = rss_bytes()
    t = time.perf_counter()
    shapely.prepare(polys)
    prepare = time.perf_counter() - t
    t = time.perf_counter()
    prepared_contains()
    first_prepared_run = time.perf_counter() - t
    rss_prepared = rss_bytes() - rss2
    prepared = median_time(prepared_contains, reps) / n
    within_prepared = median_time(lambda: tree.query(households, predicate="within"), reps) / n

    # Agreement check on the first 2,000 households: which area code contains each point.
    res = tree.query(households[:2000], predicate="intersects")
    found = {}
    for i, j in zip(res[0], res[1]):
        c = codes[j]
        if i not in found or c < found[i]:
            found[int(i)] = c
    sample_codes = [found.get(i, "") for i in range(min(n, 2000))]

    build_points = median_time(lambda: STRtree(households), reps)
    htree = STRtree(households)
    htree.query_nearest(queries[:1])
    nearest = median_time(lambda: htree.query_nearest(queries), reps) / len(queries)

    out = {
        "shapely": shapely.__version__,
        "geos": shapely.geos_version_string,
        "areas": len(polys),
        "households": n,
        "queries": len(queries),
        "reps": reps,
        "build_area_tree_s": build_tree,
        "prepare_polygons_s": prepare,
        "first_prepared_run_s": first_prepared_run,
        "build_household_tree_s": build_points,
        "pip_within_bulk_ns": within * 1e9,
        "pip_intersects_bulk_ns": intersects * 1e9,
        "pip_within_loop_ns": loop * 1e9,
        "pip_prepared_contains_bulk_ns": prepared * 1e9,
        "pip_within_bulk_after_prepare_ns": within_prepared * 1e9,
        "nearest_k1_bulk_ns": nearest * 1e9,
        "rss_polygons_bytes": rss_polys - rss0,
        "rss_area_tree_bytes": rss_tree,
        "rss_prepared_bytes": rss_prepared,  # prepared geometries and their locators
        "sample_codes": sample_codes,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
