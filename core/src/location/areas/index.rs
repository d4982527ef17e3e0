//! The indexed set: [`AreaSet`] with an R-tree over the areas' boxes for point lookups (the
//! boundary rule of the `areas` module) and one over their boxes on the unit sphere for
//! nearest-area searches.

use std::collections::HashMap;

use geo::Coord;
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree};

use super::reader::read_collection;
use super::validation::{dedup_consecutive, validate_all};
use super::{AreaInput, AreasError, BOUNDARY_EPSILON_DEG, ImportOptions};
use crate::location::geodesic::{
    LatLon, LocalPlane, distance_m, geodesic_lower_bound_m, unit_box, unit_vector,
};
use crate::location::pip::{Pip, RingIndex};

/// One assigned area, indexed.
#[derive(Debug, Clone)]
pub struct Area {
    pub code: String,
    pub name: String,
    index: RingIndex,
    /// Rings per polygon, in order (shell first).
    rings_per_polygon: Vec<u32>,
    /// Position of the code in byte order among all codes: the boundary tie-break.
    rank: u32,
}

impl Area {
    /// `[min_lon, min_lat, max_lon, max_lat]`.
    pub fn bbox(&self) -> [f64; 4] {
        self.index.bbox
    }

    /// Number of positions over all rings.
    pub fn positions(&self) -> usize {
        self.index.len()
    }

    /// Number of polygons.
    pub fn polygon_count(&self) -> usize {
        self.rings_per_polygon.len()
    }

    /// The area as a `geo` multipolygon.
    pub fn to_geo(&self) -> geo::MultiPolygon<f64> {
        let mut rings = (0..self.index.ring_count()).map(|r| {
            geo::LineString::new(
                self.index.ring(r).iter().map(|p| Coord { x: p[0], y: p[1] }).collect(),
            )
        });
        let mut polys = Vec::with_capacity(self.rings_per_polygon.len());
        for &n in &self.rings_per_polygon {
            let shell = rings.next().unwrap_or_else(|| geo::LineString::new(Vec::new()));
            let holes: Vec<_> = rings.by_ref().take(n.saturating_sub(1) as usize).collect();
            polys.push(geo::Polygon::new(shell, holes));
        }
        geo::MultiPolygon::new(polys)
    }
}

/// Where a position is relative to a set of areas.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Placement {
    /// In area `area` (an index into the set); `on_boundary` when it is on that area's boundary
    /// and strictly inside no area.
    Inside { area: usize, on_boundary: bool },
    /// In no area; `nearest` is the closest area and `distance_m` the geodesic distance to it.
    Outside { nearest: usize, distance_m: f64 },
    /// The set is empty.
    NoAreas,
    /// The position is not finite or out of range.
    InvalidPosition,
}

type Box2 = GeomWithData<Rectangle<[f64; 2]>, u32>;
type Box3 = GeomWithData<Rectangle<[f64; 3]>, u32>;

/// Assigned areas with an R-tree over their bounding boxes (for point lookups) and a second one
/// over their boxes on the unit sphere (for nearest-area searches with true distance bounds).
#[derive(Debug, Clone)]
pub struct AreaSet {
    areas: Vec<Area>,
    by_code: HashMap<String, usize>,
    tree: RTree<Box2>,
    sphere_tree: RTree<Box3>,
}

impl AreaSet {
    /// Read and validate a GeoJSON FeatureCollection. Every problem in every feature is reported,
    /// each naming the feature by its position in the file (0-based) and its code when known.
    pub fn from_geojson(text: &str, opts: &ImportOptions) -> Result<AreaSet, AreasError> {
        let features = read_collection(text, opts)?;
        if features.is_empty() {
            return Err(AreasError::Empty);
        }
        let mut errs = Vec::new();
        let mut inputs = Vec::with_capacity(features.len());
        for (i, f) in features.into_iter().enumerate() {
            match f {
                Ok(a) => inputs.push((i, a)),
                Err(e) => errs.push(e),
            }
        }
        errs.extend(validate_all(inputs.iter().map(|(i, a)| (*i, a)), opts));
        if !errs.is_empty() {
            errs.sort_by_key(|e| e.index);
            return Err(AreasError::Features(errs));
        }
        Ok(AreaSet::index(inputs.into_iter().map(|(_, a)| a).collect()))
    }

    /// Validate and index areas. Errors name areas by their position in `inputs`.
    pub fn new(inputs: Vec<AreaInput>, opts: &ImportOptions) -> Result<AreaSet, AreasError> {
        if inputs.is_empty() {
            return Err(AreasError::Empty);
        }
        let errs = validate_all(inputs.iter().enumerate(), opts);
        if !errs.is_empty() {
            return Err(AreasError::Features(errs));
        }
        Ok(AreaSet::index(inputs))
    }

    fn index(inputs: Vec<AreaInput>) -> AreaSet {
        let mut order: Vec<usize> = (0..inputs.len()).collect();
        order.sort_by(|&a, &b| inputs[a].code.as_bytes().cmp(inputs[b].code.as_bytes()));
        let mut rank = vec![0u32; inputs.len()];
        for (r, &i) in order.iter().enumerate() {
            rank[i] = r as u32;
        }
        let mut areas = Vec::with_capacity(inputs.len());
        for (i, a) in inputs.into_iter().enumerate() {
            let rings: Vec<Vec<[f64; 2]>> =
                a.polygons.iter().flatten().map(|r| dedup_consecutive(r)).collect();
            let slices: Vec<&[[f64; 2]]> = rings.iter().map(Vec::as_slice).collect();
            areas.push(Area {
                index: RingIndex::new(&slices),
                rings_per_polygon: a.polygons.iter().map(|p| p.len() as u32).collect(),
                code: a.code,
                name: a.name,
                rank: rank[i],
            });
        }
        const E: f64 = BOUNDARY_EPSILON_DEG * 2.0;
        let boxes: Vec<Box2> = areas
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let b = a.index.bbox;
                let env = AABB::from_corners([b[0] - E, b[1] - E], [b[2] + E, b[3] + E]);
                GeomWithData::new(Rectangle::from_aabb(env), i as u32)
            })
            .collect();
        let boxes3: Vec<Box3> = areas
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let b = a.index.bbox;
                let (lo, hi) = unit_box(b[0], b[1], b[2], b[3]);
                GeomWithData::new(Rectangle::from_corners(lo, hi), i as u32)
            })
            .collect();
        let by_code = areas.iter().enumerate().map(|(i, a)| (a.code.clone(), i)).collect();
        AreaSet {
            areas,
            by_code,
            tree: RTree::bulk_load(boxes),
            sphere_tree: RTree::bulk_load(boxes3),
        }
    }

    pub fn len(&self) -> usize {
        self.areas.len()
    }

    pub fn is_empty(&self) -> bool {
        self.areas.is_empty()
    }

    pub fn area(&self, i: usize) -> Option<&Area> {
        self.areas.get(i)
    }

    pub fn areas(&self) -> &[Area] {
        &self.areas
    }

    /// The index of the area with this code.
    pub fn find(&self, code: &str) -> Option<usize> {
        self.by_code.get(code).copied()
    }

    /// Which area `p` is in, or the nearest one (see the module's boundary rule).
    pub fn locate(&self, p: LatLon) -> Placement {
        if !p.is_valid() {
            return Placement::InvalidPosition;
        }
        let mut best: Option<(bool, u32, usize)> = None;
        for cand in self.tree.locate_all_at_point(&[p.lon, p.lat]) {
            let i = cand.data as usize;
            let a = &self.areas[i];
            let on_boundary = match a.index.classify(p.lon, p.lat) {
                Pip::Outside => continue,
                Pip::Boundary => true,
                Pip::Inside => false,
            };
            let key = (on_boundary, a.rank, i);
            if best.is_none_or(|b| (key.0, key.1) < (b.0, b.1)) {
                best = Some(key);
            }
        }
        if let Some((on_boundary, _, area)) = best {
            return Placement::Inside { area, on_boundary };
        }
        match self.nearest(p) {
            Some((nearest, distance_m)) => Placement::Outside { nearest, distance_m },
            None => Placement::NoAreas,
        }
    }

    /// Every area containing `p` (strictly or on its boundary), in code order, with whether `p`
    /// is on that area's boundary.
    pub fn areas_at(&self, p: LatLon) -> Vec<(usize, bool)> {
        if !p.is_valid() {
            return Vec::new();
        }
        let mut out: Vec<(usize, bool)> = self
            .tree
            .locate_all_at_point(&[p.lon, p.lat])
            .filter_map(|c| {
                let i = c.data as usize;
                match self.areas[i].index.classify(p.lon, p.lat) {
                    Pip::Outside => None,
                    Pip::Boundary => Some((i, true)),
                    Pip::Inside => Some((i, false)),
                }
            })
            .collect();
        out.sort_by_key(|&(i, _)| self.areas[i].rank);
        out
    }

    /// Geodesic distance in metres from `p` to area `i` (0 when inside or on its boundary).
    pub fn distance_to(&self, p: LatLon, i: usize) -> Option<f64> {
        let a = self.areas.get(i).filter(|_| p.is_valid())?;
        if a.index.classify(p.lon, p.lat) != Pip::Outside {
            return Some(0.0);
        }
        Some(self.boundary_distance(a, p, &LocalPlane::at(p.lat)))
    }

    /// The closest boundary point, found in a local plane around `p`; the geodesic to it.
    fn boundary_distance(&self, a: &Area, p: LatLon, plane: &LocalPlane) -> f64 {
        let q = a.index.nearest_boundary(p.lon, p.lat, plane.kx, plane.ky);
        distance_m(p, LatLon::new(q[1], q[0]))
    }

    /// The nearest area to `p` (which is in none) and the distance to it: areas are visited in
    /// order of a lower bound of their distance (chord to their box on the unit sphere), and the
    /// search stops when the bound exceeds the best distance found.
    fn nearest(&self, p: LatLon) -> Option<(usize, f64)> {
        let u = unit_vector(p);
        let plane = LocalPlane::at(p.lat);
        let mut best: Option<(f64, u32, usize)> = None;
        for (cand, d2) in self.sphere_tree.nearest_neighbor_iter_with_distance_2(&u) {
            let lb = geodesic_lower_bound_m(d2.sqrt());
            if best.is_some_and(|b| lb > b.0) {
                break;
            }
            let i = cand.data as usize;
            let a = &self.areas[i];
            let d = self.boundary_distance(a, p, &plane);
            if best.is_none_or(|b| (d, a.rank) < (b.0, b.1)) {
                best = Some((d, a.rank, i));
            }
        }
        best.map(|(d, _, i)| (i, d))
    }

    /// Approximate heap bytes held by the set (geometry, band indexes, codes, both trees).
    pub fn heap_bytes(&self) -> usize {
        let areas: usize = self
            .areas
            .iter()
            .map(|a| {
                a.index.heap_bytes()
                    + a.code.capacity()
                    + a.name.capacity()
                    + a.rings_per_polygon.capacity() * 4
            })
            .sum();
        let per_area = std::mem::size_of::<Area>()
            + std::mem::size_of::<Box2>() * 2
            + std::mem::size_of::<Box3>() * 2
            + std::mem::size_of::<(String, usize)>() * 2;
        areas + self.areas.len() * per_area
    }
}
