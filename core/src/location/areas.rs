//! Assigned areas: import from GeoJSON (Polygon and MultiPolygon features with a code and a name),
//! validation with errors that name the feature, and point-in-area lookups through an R-tree.
//!
//! # Boundary rule
//! Areas are closed sets. A point within [`BOUNDARY_EPSILON_DEG`] (about 0.1 mm) of an area's edge
//! is *on* that area's boundary. [`AreaSet::locate`] answers, deterministically and whatever the
//! order of the features:
//! 1. the area the point is strictly inside (if overlapping areas both contain it, the one whose
//!    code sorts first, byte-wise);
//! 2. otherwise, the area whose boundary the point is on, the code that sorts first winning (a
//!    point on the edge shared by communes `05569` and `05662` belongs to `05569`);
//! 3. otherwise the nearest area and the geodesic distance to it.
//!
//! Edges are straight lines in longitude/latitude (RFC 7946 §3.1.1). Areas may not cross the
//! antimeridian (they are refused with a typed error; Vietnam is far from it).

use std::cell::Cell;
use std::collections::HashMap;
use std::fmt;

use geo::line_intersection::{LineIntersection, line_intersection};
use geo::{Coord, Line};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree};
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::geodesic::{
    LatLon, LocalPlane, distance_m, geodesic_lower_bound_m, unit_box, unit_vector,
};
pub use super::pip::BOUNDARY_EPSILON_DEG;
use super::pip::{Pip, RingIndex};

/// Refuse areas with more positions than this (a commune boundary has a few thousand).
pub const MAX_POSITIONS_PER_AREA: usize = 5_000_000;

/// A longitude/latitude box, degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds {
    pub min_lon: f64,
    pub min_lat: f64,
    pub max_lon: f64,
    pub max_lat: f64,
}

impl Bounds {
    /// Vietnam, mainland and islands, with a margin.
    pub const VIETNAM: Bounds =
        Bounds { min_lon: 101.5, min_lat: 6.5, max_lon: 118.0, max_lat: 24.0 };

    fn contains_box(&self, b: &[f64; 4]) -> bool {
        b[0] >= self.min_lon && b[2] <= self.max_lon && b[1] >= self.min_lat && b[3] <= self.max_lat
    }
}

/// How thoroughly to check geometry when building an [`AreaSet`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Validation {
    /// Everything, including self-intersections (O(n log n) per area): for imports.
    #[default]
    Full,
    /// Everything but intersections between edges: for areas that passed a full check before
    /// (reloading what was stored).
    Structural,
}

/// Options for reading areas.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportOptions {
    /// Feature property holding the area's code (e.g. the 5-digit GSO commune code).
    pub code_property: String,
    /// Feature property holding the area's name.
    pub name_property: String,
    /// Where areas are expected; with it, a feature that lies outside but would lie inside with
    /// latitude and longitude exchanged is reported as swapped.
    pub expected_region: Option<Bounds>,
    pub validation: Validation,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            code_property: "code".into(),
            name_property: "name".into(),
            expected_region: None,
            validation: Validation::Full,
        }
    }
}

/// One area before indexing: polygons, each a shell followed by holes, each ring a list of
/// `[lon, lat]` positions, closed (first == last).
#[derive(Debug, Clone, PartialEq)]
pub struct AreaInput {
    pub code: String,
    pub name: String,
    pub polygons: Vec<Vec<Vec<[f64; 2]>>>,
}

impl AreaInput {
    /// From a `geo` multipolygon (whose rings `geo` keeps closed).
    pub fn from_geo(
        code: impl Into<String>,
        name: impl Into<String>,
        mp: &geo::MultiPolygon<f64>,
    ) -> Self {
        let ring = |ls: &geo::LineString<f64>| ls.0.iter().map(|c| [c.x, c.y]).collect::<Vec<_>>();
        let polygons = mp
            .0
            .iter()
            .map(|p| {
                std::iter::once(ring(p.exterior())).chain(p.interiors().iter().map(ring)).collect()
            })
            .collect();
        AreaInput { code: code.into(), name: name.into(), polygons }
    }
}

/// What is wrong with one feature.
#[derive(Debug, Clone, PartialEq)]
pub enum AreaErrorKind {
    /// The feature's JSON is malformed.
    Json {
        line: usize,
        column: usize,
        message: String,
    },
    /// Not a GeoJSON Feature object.
    NotAFeature(String),
    MissingProperty(String),
    /// The property is not a string (codes keep leading zeros, so numbers are refused).
    PropertyNotString(String),
    MissingGeometry,
    /// A geometry other than Polygon or MultiPolygon.
    UnsupportedGeometry(String),
    /// Coordinates not shaped as GeoJSON requires; `path` points into `coordinates`.
    BadCoordinates {
        path: String,
        detail: String,
    },
    NoPolygons,
    OutOfRange {
        polygon: usize,
        ring: usize,
        position: usize,
        lon: f64,
        lat: f64,
    },
    /// Every position would be valid (or inside the expected region) with lat and lon exchanged.
    CoordinatesSwapped,
    OutsideRegion,
    UnclosedRing {
        polygon: usize,
        ring: usize,
    },
    TooFewPositions {
        polygon: usize,
        ring: usize,
        count: usize,
    },
    TooManyPositions {
        count: usize,
        max: usize,
    },
    CrossesAntimeridian {
        polygon: usize,
        ring: usize,
    },
    SelfIntersection {
        polygon: usize,
        ring: usize,
        lon: f64,
        lat: f64,
    },
    RingsIntersect {
        polygon_a: usize,
        ring_a: usize,
        polygon_b: usize,
        ring_b: usize,
        lon: f64,
        lat: f64,
    },
    HoleOutsideShell {
        polygon: usize,
        ring: usize,
    },
    PolygonsOverlap {
        polygon_a: usize,
        polygon_b: usize,
    },
    DuplicateCode {
        first: usize,
    },
}

impl AreaErrorKind {
    /// A stable code for machine-readable output.
    pub fn code(&self) -> &'static str {
        use AreaErrorKind::*;
        match self {
            Json { .. } => "json",
            NotAFeature(_) => "not_a_feature",
            MissingProperty(_) => "missing_property",
            PropertyNotString(_) => "property_not_string",
            MissingGeometry => "missing_geometry",
            UnsupportedGeometry(_) => "unsupported_geometry",
            BadCoordinates { .. } => "bad_coordinates",
            NoPolygons => "no_polygons",
            OutOfRange { .. } => "out_of_range",
            CoordinatesSwapped => "coordinates_swapped",
            OutsideRegion => "outside_region",
            UnclosedRing { .. } => "unclosed_ring",
            TooFewPositions { .. } => "too_few_positions",
            TooManyPositions { .. } => "too_many_positions",
            CrossesAntimeridian { .. } => "crosses_antimeridian",
            SelfIntersection { .. } => "self_intersection",
            RingsIntersect { .. } => "rings_intersect",
            HoleOutsideShell { .. } => "hole_outside_shell",
            PolygonsOverlap { .. } => "polygons_overlap",
            DuplicateCode { .. } => "duplicate_code",
        }
    }
}

impl fmt::Display for AreaErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use AreaErrorKind::*;
        match self {
            Json { line, column, message } => {
                write!(f, "malformed JSON at line {line}, column {column}: {message}")
            }
            NotAFeature(what) => write!(f, "not a GeoJSON Feature ({what})"),
            MissingProperty(p) => write!(f, "property `{p}` is missing"),
            PropertyNotString(p) => write!(f, "property `{p}` must be a string"),
            MissingGeometry => write!(f, "geometry is missing"),
            UnsupportedGeometry(t) => {
                write!(f, "geometry type `{t}` is not supported (Polygon or MultiPolygon)")
            }
            BadCoordinates { path, detail } => write!(f, "{path}: {detail}"),
            NoPolygons => write!(f, "the geometry has no polygons"),
            OutOfRange { polygon, ring, position, lon, lat } => write!(
                f,
                "position {position} of ring {ring} of polygon {polygon}: [{lon}, {lat}] is outside longitude ±180 / latitude ±90"
            ),
            CoordinatesSwapped => write!(
                f,
                "coordinates look swapped: GeoJSON positions are [longitude, latitude], these read as [latitude, longitude]"
            ),
            OutsideRegion => write!(f, "the area lies outside the expected region"),
            UnclosedRing { polygon, ring } => write!(
                f,
                "ring {ring} of polygon {polygon} is not closed (its last position must repeat the first)"
            ),
            TooFewPositions { polygon, ring, count } => write!(
                f,
                "ring {ring} of polygon {polygon} has {count} distinct positions; a ring needs at least 3"
            ),
            TooManyPositions { count, max } => write!(f, "{count} positions (at most {max})"),
            CrossesAntimeridian { polygon, ring } => {
                write!(
                    f,
                    "ring {ring} of polygon {polygon} crosses the antimeridian (not supported)"
                )
            }
            SelfIntersection { polygon, ring, lon, lat } => write!(
                f,
                "ring {ring} of polygon {polygon} intersects itself near [{lon:.6}, {lat:.6}]"
            ),
            RingsIntersect { polygon_a, ring_a, polygon_b, ring_b, lon, lat } => write!(
                f,
                "ring {ring_a} of polygon {polygon_a} crosses ring {ring_b} of polygon {polygon_b} near [{lon:.6}, {lat:.6}]"
            ),
            HoleOutsideShell { polygon, ring } => {
                write!(f, "hole {ring} of polygon {polygon} is not inside the polygon's shell")
            }
            PolygonsOverlap { polygon_a, polygon_b } => {
                write!(f, "polygons {polygon_a} and {polygon_b} of the MultiPolygon overlap")
            }
            DuplicateCode { first } => write!(f, "the code is already used by feature {first}"),
        }
    }
}

/// A problem with one feature, naming it by position (0-based) and code when known.
#[derive(Debug, Clone, PartialEq)]
pub struct AreaError {
    pub index: usize,
    pub code: Option<String>,
    pub kind: AreaErrorKind,
}

impl fmt::Display for AreaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.code {
            Some(c) => write!(f, "feature {} (code {c}): {}", self.index, self.kind),
            None => write!(f, "feature {}: {}", self.index, self.kind),
        }
    }
}

impl std::error::Error for AreaError {}

/// Why a set of areas could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AreasError {
    #[error("malformed JSON at line {line}, column {column}: {message}")]
    Json { line: usize, column: usize, message: String },
    #[error("not a GeoJSON FeatureCollection: {0}")]
    NotFeatureCollection(String),
    #[error("the FeatureCollection has no features")]
    Empty,
    #[error("{}", list_errors(.0))]
    Features(Vec<AreaError>),
}

fn list_errors(errs: &[AreaError]) -> String {
    let mut s = format!("{} problem(s) in features", errs.len());
    for e in errs.iter().take(5) {
        s.push_str("; ");
        s.push_str(&e.to_string());
    }
    if errs.len() > 5 {
        s.push_str("; ...");
    }
    s
}

// ----- GeoJSON reading ----------------------------------------------------------------------------

/// Read a FeatureCollection, one feature at a time (a feature's JSON is dropped as soon as it has
/// been converted), recording which feature a syntax error falls in.
fn read_collection(
    text: &str,
    opts: &ImportOptions,
) -> Result<Vec<Result<AreaInput, AreaError>>, AreasError> {
    let current = Cell::new(None);
    let mut out = Vec::new();
    let mut de = serde_json::Deserializer::from_str(text);
    let seed = CollectionSeed { opts, current: &current, out: &mut out };
    let kind = match seed.deserialize(&mut de).and_then(|k| de.end().map(|()| k)) {
        Ok(k) => k,
        Err(e) => {
            let (line, column, message) = (e.line(), e.column(), strip_position(&e.to_string()));
            if let Some(index) = current.get() {
                out.push(Err(AreaError {
                    index,
                    code: None,
                    kind: AreaErrorKind::Json { line, column, message },
                }));
                return Ok(out);
            }
            return Err(if e.is_data() {
                AreasError::NotFeatureCollection(message)
            } else {
                AreasError::Json { line, column, message }
            });
        }
    };
    match kind {
        Some(t) if t == "FeatureCollection" => Ok(out),
        Some(t) => Err(AreasError::NotFeatureCollection(format!("type is `{t}`"))),
        None => Err(AreasError::NotFeatureCollection("no `type` member".into())),
    }
}

/// serde_json appends " at line L column C"; the error carries those as numbers already.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

struct CollectionSeed<'a> {
    opts: &'a ImportOptions,
    current: &'a Cell<Option<usize>>,
    out: &'a mut Vec<Result<AreaInput, AreaError>>,
}

impl<'de> DeserializeSeed<'de> for CollectionSeed<'_> {
    type Value = Option<String>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for CollectionSeed<'_> {
    type Value = Option<String>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a GeoJSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut kind = None;
        let mut seen_features = false;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "type" => kind = Some(map.next_value::<String>()?),
                "features" if !seen_features => {
                    seen_features = true;
                    map.next_value_seed(FeaturesSeed {
                        opts: self.opts,
                        current: self.current,
                        out: &mut *self.out,
                    })?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if !seen_features && kind.as_deref() == Some("FeatureCollection") {
            return Err(de::Error::custom("no `features` member"));
        }
        Ok(kind)
    }
}

struct FeaturesSeed<'a, 'b> {
    opts: &'a ImportOptions,
    current: &'a Cell<Option<usize>>,
    out: &'b mut Vec<Result<AreaInput, AreaError>>,
}

impl<'de> DeserializeSeed<'de> for FeaturesSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for FeaturesSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of features")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0;
        loop {
            self.current.set(Some(i));
            match seq.next_element::<Value>()? {
                Some(v) => self.out.push(feature_from_json(i, &v, self.opts)),
                None => break,
            }
            i += 1;
        }
        self.current.set(None);
        Ok(())
    }
}

fn feature_from_json(
    index: usize,
    v: &Value,
    opts: &ImportOptions,
) -> Result<AreaInput, AreaError> {
    let err = |code: Option<String>, kind| AreaError { index, code, kind };
    let Some(obj) = v.as_object() else {
        return Err(err(None, AreaErrorKind::NotAFeature("not an object".into())));
    };
    match obj.get("type").and_then(Value::as_str) {
        Some("Feature") => {}
        Some(t) => return Err(err(None, AreaErrorKind::NotAFeature(format!("type is `{t}`")))),
        None => return Err(err(None, AreaErrorKind::NotAFeature("no `type` member".into()))),
    }
    let props = obj.get("properties").and_then(Value::as_object);
    let prop = |name: &str| -> Result<String, AreaErrorKind> {
        match props.and_then(|p| p.get(name)) {
            None | Some(Value::Null) => Err(AreaErrorKind::MissingProperty(name.into())),
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_string()),
            Some(Value::String(_)) => Err(AreaErrorKind::MissingProperty(name.into())),
            Some(_) => Err(AreaErrorKind::PropertyNotString(name.into())),
        }
    };
    let code = prop(&opts.code_property).map_err(|k| err(None, k))?;
    let name = prop(&opts.name_property).map_err(|k| err(Some(code.clone()), k))?;
    let fail = |k| err(Some(code.clone()), k);
    let geom = match obj.get("geometry") {
        None | Some(Value::Null) => return Err(fail(AreaErrorKind::MissingGeometry)),
        Some(g) => g,
    };
    let gtype = geom.get("type").and_then(Value::as_str).unwrap_or("");
    let coords = geom.get("coordinates");
    let polygons = match (gtype, coords) {
        ("Polygon", Some(c)) => vec![polygon_from_json(c, "coordinates").map_err(fail)?],
        ("MultiPolygon", Some(c)) => {
            let arr = c
                .as_array()
                .ok_or_else(|| fail(bad("coordinates", "expected an array of polygons")))?;
            arr.iter()
                .enumerate()
                .map(|(i, p)| polygon_from_json(p, &format!("coordinates[{i}]")))
                .collect::<Result<Vec<_>, _>>()
                .map_err(fail)?
        }
        ("Polygon" | "MultiPolygon", None) => return Err(fail(bad("coordinates", "missing"))),
        (t, _) => return Err(fail(AreaErrorKind::UnsupportedGeometry(t.to_string()))),
    };
    Ok(AreaInput { code, name, polygons })
}

fn bad(path: &str, detail: &str) -> AreaErrorKind {
    AreaErrorKind::BadCoordinates { path: path.into(), detail: detail.into() }
}

fn polygon_from_json(v: &Value, path: &str) -> Result<Vec<Vec<[f64; 2]>>, AreaErrorKind> {
    let rings = v.as_array().ok_or_else(|| bad(path, "expected an array of rings"))?;
    let mut out = Vec::with_capacity(rings.len());
    for (r, ring) in rings.iter().enumerate() {
        let rp = format!("{path}[{r}]");
        let positions =
            ring.as_array().ok_or_else(|| bad(&rp, "expected an array of positions"))?;
        let mut pts = Vec::with_capacity(positions.len());
        for (k, pos) in positions.iter().enumerate() {
            let nums = pos.as_array().filter(|a| a.len() >= 2).ok_or_else(|| {
                bad(&format!("{rp}[{k}]"), "expected a position [longitude, latitude]")
            })?;
            let (Some(x), Some(y)) = (nums[0].as_f64(), nums[1].as_f64()) else {
                return Err(bad(&format!("{rp}[{k}]"), "position values must be numbers"));
            };
            pts.push([x, y]);
        }
        out.push(pts);
    }
    Ok(out)
}

// ----- validation ---------------------------------------------------------------------------------

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
fn validate_all<'a>(
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

fn dedup_consecutive(ring: &[[f64; 2]]) -> Vec<[f64; 2]> {
    let mut pts: Vec<[f64; 2]> = Vec::with_capacity(ring.len());
    for p in ring {
        if pts.last() != Some(p) {
            pts.push(*p);
        }
    }
    pts
}

// ----- the indexed set ----------------------------------------------------------------------------

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
