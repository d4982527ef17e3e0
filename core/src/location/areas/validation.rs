//! Validation of areas before indexing: ranges and swapped coordinates, the expected region,
//! closed rings, the antimeridian, self-intersections and crossing rings, holes inside their shell,
//! polygons not inside one another, unique codes.

use std::collections::HashMap;

use geo::line_intersection::{LineIntersection, line_intersection};
use geo::{Coord, Line};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree};

use super::{
    AreaError, AreaErrorKind, AreaInput, ImportOptions, MAX_POSITIONS_PER_AREA, Validation,
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
    if a.polygons.len() > 1 {
        let idx: Vec<RingIndex> = a
            .polygons
            .iter()
            .map(|poly| RingIndex::new(&poly.iter().map(Vec::as_slice).collect::<Vec<_>>()))
            .collect();
        for (pa, ia) in idx.iter().enumerate() {
            for (pb, poly_b) in a.polygons.iter().enumerate() {
                if pa != pb && boxes_overlap(&ia.bbox, &idx[pb].bbox) && ring_inside(ia, &poly_b[0])
                {
                    errs.push(AreaErrorKind::PolygonsOverlap {
                        polygon_a: pa.min(pb),
                        polygon_b: pa.max(pb),
                    });
                }
            }
        }
        errs.dedup();
    }
    errs
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

fn boxes_overlap(a: &[f64; 4], b: &[f64; 4]) -> bool {
    a[0] <= b[2] && b[0] <= a[2] && a[1] <= b[3] && b[1] <= a[3]
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
    for (i, (line, s)) in lines.iter().enumerate() {
        let env = AABB::from_corners(
            [line.start.x.min(line.end.x), line.start.y.min(line.end.y)],
            [line.start.x.max(line.end.x), line.start.y.max(line.end.y)],
        );
        for other in tree.locate_in_envelope_intersecting(&env) {
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
    }
    None
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
