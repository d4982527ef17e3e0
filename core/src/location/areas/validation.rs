//! Validation of areas before indexing: ranges and swapped coordinates, the expected region,
//! closed rings, the antimeridian, self-intersections and crossing rings, holes inside their shell,
//! polygons not inside one another, unique codes.

use std::cell::Cell;
use std::collections::HashMap;

use geo::line_intersection::{LineIntersection, line_intersection};
use geo::{Coord, Line};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, Envelope, RTree, RTreeObject, SelectionFunction};

use super::{
    AreaError, AreaErrorKind, AreaInput, ImportOptions, MAX_ERRORS_PER_AREA,
    MAX_POSITIONS_PER_AREA, Validation,
};
use crate::location::pip::{Pip, RingIndex};

/// Check one area; every problem found is returned (at most one intersection per area).
pub fn validate_area(index: usize, a: &AreaInput, opts: &ImportOptions) -> Vec<AreaError> {
    let kinds = check_area(a, opts);
    kinds.into_iter().map(|kind| AreaError { index, code: Some(a.code.clone()), kind }).collect()
}

fn check_area(a: &AreaInput, opts: &ImportOptions) -> Vec<AreaErrorKind> {
    let mut errs = Vec::new();
    if a.polygons.is_empty() || a.polygons.iter().any(Vec::is_empty) {
        errs.push(AreaErrorKind::NoPolygons);
        return errs;
    }
    let count: usize = a.polygons.iter().flatten().map(Vec::len).sum();
    if count > MAX_POSITIONS_PER_AREA {
        errs.push(AreaErrorKind::TooManyPositions { count, max: MAX_POSITIONS_PER_AREA });
        return errs;
    }
    // Ranges, with the swapped-order heuristic.
    let all = || a.polygons.iter().flatten().flatten();
    let bad_pos = a.polygons.iter().enumerate().find_map(|(p, poly)| {
        poly.iter().enumerate().find_map(|(r, ring)| {
            ring.iter().enumerate().find_map(|(k, q)| {
                let ok = q[0].is_finite()
                    && q[1].is_finite()
                    && q[0].abs() <= 180.0
                    && q[1].abs() <= 90.0;
                (!ok).then_some((p, r, k, q[0], q[1]))
            })
        })
    });
    if let Some((polygon, ring, position, lon, lat)) = bad_pos {
        let swapped_ok = all().all(|q| q[0].abs() <= 90.0 && q[1].abs() <= 180.0);
        errs.push(if swapped_ok {
            AreaErrorKind::CoordinatesSwapped
        } else {
            AreaErrorKind::OutOfRange { polygon, ring, position, lon, lat }
        });
        return errs;
    }
    if let Some(region) = opts.expected_region {
        let mut bb = [f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY];
        for q in all() {
            bb = [bb[0].min(q[0]), bb[1].min(q[1]), bb[2].max(q[0]), bb[3].max(q[1])];
        }
        if !region.contains_box(&bb) {
            let swapped = [bb[1], bb[0], bb[3], bb[2]];
            errs.push(if region.contains_box(&swapped) {
                AreaErrorKind::CoordinatesSwapped
            } else {
                AreaErrorKind::OutsideRegion
            });
            return errs;
        }
    }
    for (p, poly) in a.polygons.iter().enumerate() {
        for (r, ring) in poly.iter().enumerate() {
            if ring.first() != ring.last() || ring.len() < 2 {
                errs.push(AreaErrorKind::UnclosedRing { polygon: p, ring: r });
                continue;
            }
            let distinct = distinct_positions(ring);
            if distinct < 3 {
                errs.push(AreaErrorKind::TooFewPositions { polygon: p, ring: r, count: distinct });
            }
            if ring.windows(2).any(|w| (w[1][0] - w[0][0]).abs() > 180.0) {
                errs.push(AreaErrorKind::CrossesAntimeridian { polygon: p, ring: r });
            }
        }
    }
    if !errs.is_empty() {
        return errs;
    }
    // Parts inside one another first: cheap through an index of their boxes, and a MultiPolygon
    // of nested parts is refused for that without the edge-by-edge check, whose index would
    // degrade on such nesting (every box around every other).
    if a.polygons.len() > 1 {
        let overlaps = polygon_overlaps(&a.polygons).0;
        if !overlaps.is_empty() {
            return cap(overlaps);
        }
    }
    if opts.validation == Validation::Full {
        if let Some(e) = first_intersection(a) {
            errs.push(e);
            return errs;
        }
    }
    // Holes inside their shell; polygons not inside one another.
    for (p, poly) in a.polygons.iter().enumerate() {
        let shell = RingIndex::new(&[poly[0].as_slice()]);
        for (r, hole) in poly.iter().enumerate().skip(1) {
            if !ring_inside(&shell, hole) {
                errs.push(AreaErrorKind::HoleOutsideShell { polygon: p, ring: r });
            }
        }
    }
    cap(errs)
}

/// Keep the first [`MAX_ERRORS_PER_AREA`] problems of an area and count the rest.
fn cap(mut errs: Vec<AreaErrorKind>) -> Vec<AreaErrorKind> {
    if errs.len() > MAX_ERRORS_PER_AREA {
        let count = errs.len() - MAX_ERRORS_PER_AREA;
        errs.truncate(MAX_ERRORS_PER_AREA);
        errs.push(AreaErrorKind::MoreProblems { count });
    }
    errs
}

/// Polygons of a MultiPolygon that lie inside another one, each reported once (with the first
/// container found), and the number of candidate pairs examined.
///
/// Rings were checked not to cross, so two polygons are either apart, touching, or one inside
/// the other; and one inside the other needs its bounding box inside the other's. So for each
/// polygon, only the polygons whose box contains a corner of its box (from an R-tree of the
/// boxes) are candidates, and the search stops at the first container. Candidates examined
/// are bounded by [`max_overlap_candidates`]; past that the area is refused as too complex.
fn polygon_overlaps(polygons: &[Vec<Vec<[f64; 2]>>]) -> (Vec<AreaErrorKind>, usize) {
    let idx: Vec<RingIndex> = polygons
        .iter()
        .map(|poly| RingIndex::new(&poly.iter().map(Vec::as_slice).collect::<Vec<_>>()))
        .collect();
    let boxes = idx.iter().enumerate().map(|(i, ix)| {
        let b = ix.bbox;
        GeomWithData::new(Rectangle::from_corners([b[0], b[1]], [b[2], b[3]]), i)
    });
    let tree = RTree::bulk_load(boxes.collect());
    let budget = max_overlap_candidates(polygons.len());
    let mut examined = 0usize;
    let mut errs = Vec::new();
    for (pb, poly_b) in polygons.iter().enumerate() {
        let (Some(ib), Some(shell)) = (idx.get(pb), poly_b.first()) else { continue };
        let bb = ib.bbox;
        for cand in tree.locate_all_at_point(&[bb[0], bb[1]]) {
            let pa = cand.data;
            if pa == pb {
                continue;
            }
            examined += 1;
            if examined > budget {
                errs.push(AreaErrorKind::TooComplex { steps: budget });
                return (errs, examined);
            }
            let Some(ia) = idx.get(pa) else { continue };
            if box_inside(&bb, &ia.bbox) && ring_inside(ia, shell) {
                errs.push(AreaErrorKind::PolygonsOverlap {
                    polygon_a: pa.min(pb),
                    polygon_b: pa.max(pb),
                });
                break;
            }
        }
    }
    (errs, examined)
}

/// The most candidate pairs the overlap check of a MultiPolygon of `parts` polygons examines:
/// a generous multiple of the parts (nested or tiled parts take one or two each).
pub(super) fn max_overlap_candidates(parts: usize) -> usize {
    parts.saturating_mul(64).saturating_add(1_000_000)
}

/// Check every area and that codes are unique.
pub(super) fn validate_all<'a>(
    items: impl Iterator<Item = (usize, &'a AreaInput)>,
    opts: &ImportOptions,
) -> Vec<AreaError> {
    let mut errs = Vec::new();
    let mut first_of: HashMap<&str, usize> = HashMap::new();
    for (i, a) in items {
        errs.extend(validate_area(i, a, opts));
        if let Some(&first) = first_of.get(a.code.as_str()) {
            errs.push(AreaError {
                index: i,
                code: Some(a.code.clone()),
                kind: AreaErrorKind::DuplicateCode { first },
            });
        } else {
            first_of.insert(&a.code, i);
        }
    }
    errs
}

fn distinct_positions(ring: &[[f64; 2]]) -> usize {
    let mut v: Vec<(u64, u64)> = ring.iter().map(|p| (p[0].to_bits(), p[1].to_bits())).collect();
    v.sort_unstable();
    v.dedup();
    v.len()
}

/// Whether box `inner` lies within box `outer` (`[min_lon, min_lat, max_lon, max_lat]`).
fn box_inside(inner: &[f64; 4], outer: &[f64; 4]) -> bool {
    outer[0] <= inner[0] && outer[1] <= inner[1] && inner[2] <= outer[2] && inner[3] <= outer[3]
}

/// Whether `ring` lies inside the area indexed by `idx`, judged by its first position that is not
/// on the area's boundary (rings were already checked not to cross).
fn ring_inside(idx: &RingIndex, ring: &[[f64; 2]]) -> bool {
    for q in ring {
        match idx.classify(q[0], q[1]) {
            Pip::Inside => return true,
            Pip::Outside => return false,
            Pip::Boundary => {}
        }
    }
    // Every position on the boundary: a ring that retraces the shell; not a usable hole.
    false
}

/// The first forbidden intersection between edges of an area, if any: within a ring, any contact
/// between non-adjacent edges or an overlap of adjacent ones; between rings, a crossing or an
/// overlap (touching at a single point is allowed).
fn first_intersection(a: &AreaInput) -> Option<AreaErrorKind> {
    struct Seg {
        poly: u32,
        ring: u32,
        idx: u32,
        len: u32,
    }
    let mut segs = Vec::new();
    let mut lines = Vec::new();
    for (p, poly) in a.polygons.iter().enumerate() {
        for (r, ring) in poly.iter().enumerate() {
            // Consecutive repeated positions are allowed (and skipped).
            let pts: Vec<[f64; 2]> = dedup_consecutive(ring);
            let n = pts.len().saturating_sub(1);
            for (k, w) in pts.windows(2).enumerate() {
                let line =
                    Line::new(Coord { x: w[0][0], y: w[0][1] }, Coord { x: w[1][0], y: w[1][1] });
                let env = AABB::from_corners(
                    [w[0][0].min(w[1][0]), w[0][1].min(w[1][1])],
                    [w[0][0].max(w[1][0]), w[0][1].max(w[1][1])],
                );
                segs.push(GeomWithData::new(Rectangle::from_aabb(env), lines.len() as u32));
                lines.push((
                    line,
                    Seg { poly: p as u32, ring: r as u32, idx: k as u32, len: n as u32 },
                ));
            }
        }
    }
    let tree = RTree::bulk_load(segs);
    let budget = max_intersection_steps(lines.len());
    let steps = Cell::new(0usize);
    for (i, (line, s)) in lines.iter().enumerate() {
        let env = AABB::from_corners(
            [line.start.x.min(line.end.x), line.start.y.min(line.end.y)],
            [line.start.x.max(line.end.x), line.start.y.max(line.end.y)],
        );
        let select = Budgeted { env, steps: &steps, budget };
        for other in tree.locate_with_selection_function(select) {
            let j = other.data as usize;
            if j <= i {
                continue;
            }
            let (oline, o) = &lines[j];
            let Some(x) = line_intersection(*line, *oline) else { continue };
            let same_ring = s.poly == o.poly && s.ring == o.ring;
            let adjacent = same_ring
                && (s.idx.abs_diff(o.idx) == 1
                    || (s.idx == 0 && o.idx == s.len - 1)
                    || (o.idx == 0 && s.idx == o.len - 1));
            let at = match x {
                LineIntersection::SinglePoint { intersection, is_proper } => {
                    if adjacent || (!same_ring && !is_proper) {
                        continue;
                    }
                    intersection
                }
                LineIntersection::Collinear { intersection } => {
                    if intersection.start == intersection.end && (adjacent || !same_ring) {
                        continue;
                    }
                    intersection.start
                }
            };
            return Some(if same_ring {
                AreaErrorKind::SelfIntersection {
                    polygon: s.poly as usize,
                    ring: s.ring as usize,
                    lon: at.x,
                    lat: at.y,
                }
            } else {
                AreaErrorKind::RingsIntersect {
                    polygon_a: s.poly as usize,
                    ring_a: s.ring as usize,
                    polygon_b: o.poly as usize,
                    ring_b: o.ring as usize,
                    lon: at.x,
                    lat: at.y,
                }
            });
        }
        if steps.get() > budget {
            return Some(AreaErrorKind::TooComplex { steps: budget });
        }
    }
    None
}

/// The most index steps (nodes and segments looked at) the edge intersection check of an area
/// with `segments` edges takes: a generous multiple of what a boundary needs (a few dozen per
/// segment). Edges whose boxes all overlap (long edges nested around each other) degrade the
/// index towards comparing every pair; the budget turns that into a refusal.
pub(super) fn max_intersection_steps(segments: usize) -> usize {
    segments.saturating_mul(256).saturating_add(1_000_000)
}

/// Selects the objects whose box intersects `env`, counting every node and object it looks at
/// in `steps`; past `budget` it selects nothing more.
struct Budgeted<'a> {
    env: AABB<[f64; 2]>,
    steps: &'a Cell<usize>,
    budget: usize,
}

impl Budgeted<'_> {
    fn step(&self, other: &AABB<[f64; 2]>) -> bool {
        let n = self.steps.get().saturating_add(1);
        self.steps.set(n);
        n <= self.budget && other.intersects(&self.env)
    }
}

impl<T: RTreeObject<Envelope = AABB<[f64; 2]>>> SelectionFunction<T> for Budgeted<'_> {
    fn should_unpack_parent(&self, envelope: &AABB<[f64; 2]>) -> bool {
        self.step(envelope)
    }
    fn should_unpack_leaf(&self, leaf: &T) -> bool {
        self.step(&leaf.envelope())
    }
}

pub(super) fn dedup_consecutive(ring: &[[f64; 2]]) -> Vec<[f64; 2]> {
    let mut pts: Vec<[f64; 2]> = Vec::with_capacity(ring.len());
    for p in ring {
        if pts.last() != Some(p) {
            pts.push(*p);
        }
    }
    pts
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn square(cx: f64, cy: f64, h: f64) -> Vec<Vec<[f64; 2]>> {
        vec![vec![
            [cx - h, cy - h],
            [cx + h, cy - h],
            [cx + h, cy + h],
            [cx - h, cy + h],
            [cx - h, cy - h],
        ]]
    }

    fn nested_squares(n: usize) -> Vec<Vec<Vec<[f64; 2]>>> {
        (0..n).map(|i| square(105.0, 20.0, 0.5 * (1.0 - i as f64 / (n as f64 + 1.0)))).collect()
    }

    /// 20,000 nested squares: every square but the outermost lies inside another. The pairwise
    /// check examined 200 million pairs and listed every overlapping pair (3.7 GB); now each
    /// square examines one or two candidates, and the report is capped.
    #[test]
    fn nested_squares_are_reported_capped_with_linear_candidates() {
        let n = 20_000;
        let polygons = nested_squares(n);
        let (overlaps, examined) = polygon_overlaps(&polygons);
        assert_eq!(overlaps.len(), n - 1, "each inner square once");
        assert!(examined <= 2 * n, "{examined} candidate pairs for {n} squares");

        let area = AreaInput { code: "00001".into(), name: "n".into(), polygons };
        let errs = validate_area(0, &area, &ImportOptions::default());
        assert_eq!(errs.len(), MAX_ERRORS_PER_AREA + 1);
        assert!(
            errs[..MAX_ERRORS_PER_AREA]
                .iter()
                .all(|e| matches!(e.kind, AreaErrorKind::PolygonsOverlap { .. }))
        );
        assert_eq!(
            errs[MAX_ERRORS_PER_AREA].kind,
            AreaErrorKind::MoreProblems { count: n - 1 - MAX_ERRORS_PER_AREA }
        );
    }

    /// A tiling of squares sharing edges and corners (each box touches up to 8 others): no
    /// overlap, and the candidates stay a small multiple of the parts.
    #[test]
    fn tiled_squares_examine_few_candidates() {
        let side = 200;
        let polygons: Vec<_> = (0..side * side)
            .map(|i| {
                square(102.0 + (i % side) as f64 * 0.01, 10.0 + (i / side) as f64 * 0.01, 0.005)
            })
            .collect();
        let n = polygons.len();
        let (overlaps, examined) = polygon_overlaps(&polygons);
        assert!(overlaps.is_empty(), "{:?}", &overlaps[..overlaps.len().min(3)]);
        assert!(examined <= 4 * n, "{examined} candidate pairs for {n} squares");
    }

    /// The work budget: a polygon inside another, in a MultiPolygon small enough to check, is
    /// found; the budget grows with the parts.
    #[test]
    fn overlap_budget_grows_with_parts() {
        let polygons = vec![square(105.0, 20.0, 0.5), square(105.0, 20.0, 0.1)];
        let (overlaps, examined) = polygon_overlaps(&polygons);
        assert_eq!(overlaps, vec![AreaErrorKind::PolygonsOverlap { polygon_a: 0, polygon_b: 1 }]);
        assert!(examined <= 2);
        assert!(max_overlap_candidates(1_000) < max_overlap_candidates(100_000));
    }

    #[test]
    fn errors_are_capped_with_a_count() {
        let errs: Vec<_> = (0..250).map(|first| AreaErrorKind::DuplicateCode { first }).collect();
        let capped = cap(errs);
        assert_eq!(capped.len(), MAX_ERRORS_PER_AREA + 1);
        assert_eq!(capped.last(), Some(&AreaErrorKind::MoreProblems { count: 150 }));
        assert_eq!(cap(vec![AreaErrorKind::NoPolygons]), vec![AreaErrorKind::NoPolygons]);
    }
}

#[cfg(test)]
mod budget_tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    /// Square holes nested in one another inside one shell: no two edges meet, but every
    /// edge's box lies around the smaller ones, so the R-tree degrades towards comparing
    /// every pair. The check stops at its step budget with a typed error instead of taking
    /// quadratic time (about 8 × 10⁹ steps here).
    #[test]
    fn nested_holes_hit_the_step_budget() {
        let n = 20_000;
        let ring = |h: f64| {
            vec![
                [105.0 - h, 20.0 - h],
                [105.0 + h, 20.0 - h],
                [105.0 + h, 20.0 + h],
                [105.0 - h, 20.0 + h],
                [105.0 - h, 20.0 - h],
            ]
        };
        let mut poly = vec![ring(0.6)];
        poly.extend((0..n).map(|i| ring(0.5 * (1.0 - i as f64 / (n as f64 + 1.0)))));
        let area = AreaInput { code: "1".into(), name: "n".into(), polygons: vec![poly] };
        let segments = 4 * (n + 1);
        assert_eq!(
            first_intersection(&area),
            Some(AreaErrorKind::TooComplex { steps: max_intersection_steps(segments) })
        );
    }
}
