//! Location benchmarks on synthetic assigned areas shaped like Vietnam's 3,321 communes (jagged
//! polygons of 200–2,000 vertices tiling a region of 8.1 x 4.1 degrees) and 100,000 households:
//! - `point_in_area`: `AreaSet::locate` for a household position (R-tree + banded crossing test);
//! - `nearest_area_outside`: `locate` for points outside every area (nearest area and distance);
//! - `k_nearest_10`, `nearest_1`, `within_200m`: household queries with geodesic distances;
//! - `area_index_build`, `household_index_build`: building the indexes (areas already validated);
//! - `geodesic_distance`: one Karney distance.
//!
//! Side by side in the same run, the anchor `benches/anchors/shapely_strtree.py` (shapely 2,
//! GEOS) times `STRtree.query(points, predicate="within")` and friends on the same data, which
//! this bench writes to a temporary directory as GeoJSON and CSV. Without python3 + shapely the
//! anchor is skipped with a note. Targets (issue 4): point in area <= 0.5x shapely and <= 10 µs.
//!
//! `cargo bench -p safehome-core --bench location` runs everything; under `cargo test` (no
//! `--bench` argument) a small data set is used, each benchmark runs once and the anchor is skipped.
//! `SAFEHOME_BENCH_NO_ANCHOR=1` skips the anchor in a full run too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fmt::Write as _;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use criterion::Criterion;
use safehome_core::location::{
    AreaInput, AreaSet, Household, HouseholdIndex, ImportOptions, LatLon, Placement, Validation,
    distance_m,
};

/// Deterministic pseudo-random numbers (splitmix64).
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }
    fn int(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as usize
    }
}

struct Grid {
    cols: usize,
    rows: usize,
    lon0: f64,
    lat0: f64,
    cell: f64,
}

impl Grid {
    fn bounds(&self) -> (f64, f64, f64, f64) {
        (
            self.lon0,
            self.lat0,
            self.lon0 + self.cols as f64 * self.cell,
            self.lat0 + self.rows as f64 * self.cell,
        )
    }
}

/// A jagged edge from `a` to `b`: `n` inner vertices whose perpendicular offset follows a bounded
/// random walk, tapered by sin²(πt) to zero at the corners. The offset stays under 0.15 of a cell,
/// so edges of a cell never meet except at corners, and each edge is the graph of a function
/// along its direction, so it never crosses itself: the tiling is valid by construction.
fn jagged_edge(a: [f64; 2], b: [f64; 2], n: usize, amp: f64, rng: &mut Rng) -> Vec<[f64; 2]> {
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    let len = dx.hypot(dy);
    let (nx, ny) = (-dy / len, dx / len);
    let mut walk: f64 = 0.0;
    let mut out = Vec::with_capacity(n + 2);
    out.push(a);
    for k in 1..=n {
        let t = k as f64 / (n + 1) as f64;
        walk = (walk + rng.range(-0.25, 0.25)).clamp(-1.0, 1.0);
        let off = amp * (std::f64::consts::PI * t).sin().powi(2) * walk;
        out.push([a[0] + t * dx + off * nx, a[1] + t * dy + off * ny]);
    }
    out.push(b);
    out
}

/// Communes on a `cols x rows` grid with shared jagged edges: 200–2,000 vertices each.
fn communes(g: &Grid, seed: u64) -> Vec<AreaInput> {
    let mut rng = Rng(seed);
    let amp = 0.15 * g.cell;
    let node = |i: usize, j: usize| [g.lon0 + i as f64 * g.cell, g.lat0 + j as f64 * g.cell];
    // Horizontal edge (i, j) runs node(i, j) -> node(i + 1, j); vertical (i, j) node(i, j) -> node(i, j + 1).
    let mut horiz = Vec::with_capacity(g.cols * (g.rows + 1));
    for j in 0..=g.rows {
        for i in 0..g.cols {
            let n = rng.int(49, 499);
            horiz.push(jagged_edge(node(i, j), node(i + 1, j), n, amp, &mut rng));
        }
    }
    let mut vert = Vec::with_capacity((g.cols + 1) * g.rows);
    for j in 0..g.rows {
        for i in 0..=g.cols {
            let n = rng.int(49, 499);
            vert.push(jagged_edge(node(i, j), node(i, j + 1), n, amp, &mut rng));
        }
    }
    let h = |i: usize, j: usize| &horiz[j * g.cols + i];
    let v = |i: usize, j: usize| &vert[j * (g.cols + 1) + i];
    let mut out = Vec::with_capacity(g.cols * g.rows);
    for j in 0..g.rows {
        for i in 0..g.cols {
            let mut ring: Vec<[f64; 2]> = Vec::new();
            ring.extend_from_slice(h(i, j)); // bottom, west to east
            ring.extend_from_slice(&v(i + 1, j)[1..]); // east, south to north
            ring.extend(h(i, j + 1).iter().rev().skip(1)); // top, east to west
            ring.extend(v(i, j).iter().rev().skip(1)); // west, north to south (closes the ring)
            let code = format!("{:05}", 10_000 + j * g.cols + i);
            out.push(AreaInput {
                code: code.clone(),
                name: format!("Xã {code}"),
                polygons: vec![vec![ring]],
            });
        }
    }
    out
}

/// Households inside the tiling: the jagged outer edges stray up to 0.15 of a cell inwards.
fn households(g: &Grid, n: usize, seed: u64) -> Vec<Household> {
    let mut rng = Rng(seed);
    let m = 0.16 * g.cell;
    let (x0, y0, x1, y1) = g.bounds();
    let (x0, y0, x1, y1) = (x0 + m, y0 + m, x1 - m, y1 - m);
    (0..n)
        .map(|i| Household {
            id: format!("hh{i}"),
            location: LatLon::new(rng.range(y0, y1), rng.range(x0, x1)),
            accuracy_m: None,
            head_name: String::new(),
        })
        .collect()
}

fn write_geojson(path: &Path, areas: &[AreaInput]) {
    let mut s = String::with_capacity(areas.len() * 30_000);
    s.push_str("{\"type\":\"FeatureCollection\",\"features\":[\n");
    for (k, a) in areas.iter().enumerate() {
        if k > 0 {
            s.push_str(",\n");
        }
        write!(
            s,
            "{{\"type\":\"Feature\",\"properties\":{{\"code\":\"{}\",\"name\":\"{}\"}},\"geometry\":{{\"type\":\"Polygon\",\"coordinates\":[",
            a.code, a.name
        )
        .unwrap();
        for (r, ring) in a.polygons[0].iter().enumerate() {
            s.push_str(if r > 0 { ",[" } else { "[" });
            for (i, p) in ring.iter().enumerate() {
                if i > 0 {
                    s.push(',');
                }
                // Rust's shortest round-trip formatting: Python reads back the same doubles.
                write!(s, "[{:?},{:?}]", p[0], p[1]).unwrap();
            }
            s.push(']');
        }
        s.push_str("]}}");
    }
    s.push_str("\n]}\n");
    std::fs::write(path, s).unwrap();
}

fn write_points(path: &Path, pts: &[Household]) {
    let mut s = String::from("id,lat,lon\n");
    for h in pts {
        writeln!(s, "{},{:?},{:?}", h.id, h.location.lat, h.location.lon).unwrap();
    }
    std::fs::write(path, s).unwrap();
}

fn rss_bytes() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse::<usize>().ok()))
        })
        .map_or(0, |kb| kb * 1024)
}

/// Median over `reps` runs of `f`'s time, divided by `per`.
fn median_per(reps: usize, per: usize, mut f: impl FnMut()) -> Duration {
    let mut v: Vec<Duration> = (0..reps)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed() / per as u32
        })
        .collect();
    v.sort();
    v[v.len() / 2]
}

fn ns(d: Duration) -> f64 {
    d.as_secs_f64() * 1e9
}

fn mib(b: usize) -> f64 {
    b as f64 / (1024.0 * 1024.0)
}

fn anchor(dir: &Path) -> Option<serde_json::Value> {
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/anchors/shapely_strtree.py");
    let probe = Command::new("python3").args(["-c", "import shapely, numpy"]).output();
    if !probe.is_ok_and(|o| o.status.success()) {
        println!("anchor: skipped (python3 with shapely 2 not found; `pip install shapely`)");
        return None;
    }
    let out = Command::new("python3")
        .arg(&script)
        .arg(dir.join("areas.geojson"))
        .arg(dir.join("households.csv"))
        .arg(dir.join("queries.csv"))
        .arg("5")
        .output()
        .ok()?;
    if !out.status.success() {
        println!("anchor: failed: {}", String::from_utf8_lossy(&out.stderr));
        return None;
    }
    serde_json::from_slice(&out.stdout).ok()
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    // Vietnam has 3,321 communes: an 81 x 41 grid of 0.1-degree (about 10 km) cells, 102–110.1 E,
    // 19–23.1 N. Under `cargo test`, a 9 x 5 grid and 2,000 households.
    let g = if full {
        Grid { cols: 81, rows: 41, lon0: 102.0, lat0: 19.0, cell: 0.1 }
    } else {
        Grid { cols: 9, rows: 5, lon0: 105.0, lat0: 21.0, cell: 0.1 }
    };
    let n_households = if full { 100_000 } else { 2_000 };
    let dir = std::env::temp_dir().join(format!("safehome-location-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    let t = Instant::now();
    let inputs = communes(&g, 7);
    let hh = households(&g, n_households, 11);
    let (x0, y0, x1, _) = g.bounds();
    let mut rng = Rng(13);
    let queries: Vec<Household> = households(&g, 10_000.min(n_households), 17);
    let outside: Vec<LatLon> = (0..1_000)
        .map(|_| LatLon::new(rng.range(y0 - 1.0, y0 - 0.05), rng.range(x0, x1)))
        .collect();
    let positions: usize = inputs.iter().map(|a| a.polygons[0][0].len()).sum();
    let (vmin, vmax) = inputs
        .iter()
        .map(|a| a.polygons[0][0].len() - 1)
        .fold((usize::MAX, 0), |(lo, hi), n| (lo.min(n), hi.max(n)));
    println!(
        "location bench: {} areas ({vmin}..{vmax} vertices, {positions} positions), {} households; generated in {:.1} s",
        inputs.len(),
        hh.len(),
        t.elapsed().as_secs_f64()
    );
    write_geojson(&dir.join("areas.geojson"), &inputs);
    write_points(&dir.join("households.csv"), &hh);
    write_points(&dir.join("queries.csv"), &queries);

    // Import the same GeoJSON the anchor reads, with full validation (self-intersections too).
    let text = std::fs::read_to_string(dir.join("areas.geojson")).unwrap();
    let t = Instant::now();
    let set =
        AreaSet::from_geojson(&text, &ImportOptions::default()).expect("valid synthetic areas");
    let import_full = t.elapsed();
    drop(text);
    // Index build alone, from validated areas.
    let structural =
        ImportOptions { validation: Validation::Structural, ..ImportOptions::default() };
    let rss0 = rss_bytes();
    let t = Instant::now();
    let set2 = AreaSet::new(inputs.clone(), &structural).unwrap();
    let build_structural = t.elapsed();
    let rss_areas = rss_bytes().saturating_sub(rss0);
    drop(set2);
    let rss0 = rss_bytes();
    let t = Instant::now();
    let hidx = HouseholdIndex::new(hh.clone()).unwrap();
    let build_households = t.elapsed();
    let rss_households = rss_bytes().saturating_sub(rss0);

    // Every household is in exactly one commune (or on a shared edge).
    let located =
        hh.iter().filter(|h| matches!(set.locate(h.location), Placement::Inside { .. })).count();
    assert_eq!(located, hh.len(), "every household lies inside the tiling");

    let reps = if full { 7 } else { 1 };
    let pip = median_per(reps, hh.len(), || {
        for h in &hh {
            black_box(set.locate(black_box(h.location)));
        }
    });
    let pip_outside = median_per(reps, outside.len(), || {
        for p in &outside {
            black_box(set.locate(black_box(*p)));
        }
    });
    let knn10 = median_per(reps, queries.len(), || {
        for q in &queries {
            black_box(hidx.nearest(black_box(q.location), 10));
        }
    });
    let knn1 = median_per(reps, queries.len(), || {
        for q in &queries {
            black_box(hidx.nearest(black_box(q.location), 1));
        }
    });
    let within = median_per(reps, queries.len(), || {
        for q in &queries {
            black_box(hidx.within(black_box(q.location), 200.0));
        }
    });

    let shapely = if full && std::env::var_os("SAFEHOME_BENCH_NO_ANCHOR").is_some() {
        println!("anchor: skipped (SAFEHOME_BENCH_NO_ANCHOR is set)");
        None
    } else if full {
        anchor(&dir)
    } else {
        println!(
            "anchor: skipped under `cargo test` (run `cargo bench -p safehome-core --bench location`)"
        );
        None
    };
    // Same answers as shapely on the sample it reports (codes of the area containing each point).
    if let Some(codes) = shapely.as_ref().and_then(|s| s["sample_codes"].as_array()) {
        let mismatches = codes
            .iter()
            .zip(&hh)
            .filter(|(c, h)| {
                let ours = match set.locate(h.location) {
                    Placement::Inside { area, .. } => set.area(area).map(|a| a.code.as_str()),
                    _ => None,
                };
                ours != c.as_str()
            })
            .count();
        println!("agreement with shapely on {} households: {} mismatches", codes.len(), mismatches);
    }

    let a = |k: &str| shapely.as_ref().and_then(|s| s[k].as_f64());
    let row = |name: &str, rust_ns: f64, anchor_key: &str, note: &str| {
        let anchor_ns = a(anchor_key);
        match anchor_ns {
            Some(an) => println!(
                "{name:<26} rust {:>10.1} ns   shapely {:>10.1} ns ({note})   ratio {:.3}",
                rust_ns,
                an,
                rust_ns / an
            ),
            None => println!("{name:<26} rust {rust_ns:>10.1} ns"),
        }
        println!(
            "BENCH {}",
            serde_json::json!({"name": name, "rust_ns": rust_ns, "anchor_ns": anchor_ns,
                               "ratio": anchor_ns.map(|an| rust_ns / an), "anchor": note})
        );
    };
    println!("\n-- per lookup (median of {reps} runs) --");
    row("point_in_area", ns(pip), "pip_within_bulk_ns", "STRtree.query within, bulk");
    if let Some(x) = a("pip_intersects_bulk_ns") {
        println!("{:<26} shapely {x:>10.1} ns (STRtree.query intersects, bulk)", "");
    }
    if let Some(x) = a("pip_prepared_contains_bulk_ns") {
        println!("{:<26} shapely {x:>10.1} ns (bbox query + prepared contains, bulk)", "");
    }
    if let Some(x) = a("pip_within_loop_ns") {
        println!("{:<26} shapely {x:>10.1} ns (STRtree.query within, one call per point)", "");
    }
    row("nearest_area_outside", ns(pip_outside), "", "");
    row("nearest_household_k1", ns(knn1), "nearest_k1_bulk_ns", "query_nearest, planar, bulk");
    row("nearest_households_k10", ns(knn10), "", "");
    row("households_within_200m", ns(within), "", "");
    println!("\n-- index build and memory --");
    println!(
        "areas: import with full validation {:.2} s; index build {:.3} s; heap {:.1} MiB (estimate), RSS +{:.1} MiB",
        import_full.as_secs_f64(),
        build_structural.as_secs_f64(),
        mib(set.heap_bytes()),
        mib(rss_areas)
    );
    println!(
        "households: index build {:.3} s; heap {:.1} MiB (estimate), RSS +{:.1} MiB",
        build_households.as_secs_f64(),
        mib(hidx.heap_bytes()),
        mib(rss_households)
    );
    if let Some(s) = &shapely {
        println!(
            "shapely {} (GEOS {}): STRtree(polygons) {:.3} s, prepare {:.3} s + first prepared run {:.2} s, STRtree(points) {:.3} s; RSS polygons +{:.1} MiB, tree +{:.1} MiB, prepared +{:.1} MiB",
            s["shapely"].as_str().unwrap_or("?"),
            s["geos"].as_str().unwrap_or("?"),
            a("build_area_tree_s").unwrap_or(f64::NAN),
            a("prepare_polygons_s").unwrap_or(f64::NAN),
            a("first_prepared_run_s").unwrap_or(f64::NAN),
            a("build_household_tree_s").unwrap_or(f64::NAN),
            mib(a("rss_polygons_bytes").unwrap_or(0.0) as usize),
            mib(a("rss_area_tree_bytes").unwrap_or(0.0) as usize),
            mib(a("rss_prepared_bytes").unwrap_or(0.0) as usize),
        );
    }
    println!(
        "BENCH {}",
        serde_json::json!({
            "name": "index_build",
            "areas_import_full_s": import_full.as_secs_f64(),
            "areas_index_s": build_structural.as_secs_f64(),
            "areas_heap_bytes": set.heap_bytes(),
            "households_index_s": build_households.as_secs_f64(),
            "households_heap_bytes": hidx.heap_bytes(),
            "shapely_area_tree_s": a("build_area_tree_s"),
            "shapely_prepare_s": a("prepare_polygons_s"),
            "shapely_household_tree_s": a("build_household_tree_s"),
        })
    );
    println!();

    // Criterion's own estimates for the same operations.
    let mut c = Criterion::default().configure_from_args();
    let mut group = c.benchmark_group("location");
    let mut i = 0usize;
    group.bench_function("point_in_area", |b| {
        b.iter(|| {
            i = (i + 1) % hh.len();
            set.locate(black_box(hh[i].location))
        })
    });
    group.bench_function("nearest_area_outside", |b| {
        b.iter(|| {
            i = (i + 1) % outside.len();
            set.locate(black_box(outside[i]))
        })
    });
    group.bench_function("k_nearest_10", |b| {
        b.iter(|| {
            i = (i + 1) % queries.len();
            hidx.nearest(black_box(queries[i].location), 10)
        })
    });
    group.bench_function("within_200m", |b| {
        b.iter(|| {
            i = (i + 1) % queries.len();
            hidx.within(black_box(queries[i].location), 200.0)
        })
    });
    group.bench_function("geodesic_distance", |b| {
        b.iter(|| {
            i = (i + 1) % queries.len();
            distance_m(black_box(queries[i].location), black_box(hh[i].location))
        })
    });
    group.sample_size(10);
    group.bench_function("household_index_build", |b| {
        b.iter(|| HouseholdIndex::new(black_box(hh.clone())).unwrap())
    });
    group.bench_function("area_index_build", |b| {
        b.iter(|| AreaSet::new(black_box(inputs.clone()), &structural).unwrap())
    });
    group.finish();
    c.final_summary();
    let _ = std::fs::remove_dir_all(&dir);
}
