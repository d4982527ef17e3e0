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
//!
//! The code: this module holds the vocabulary (inputs, options, errors); `reader` reads GeoJSON,
//! `validation` checks geometry, `index` builds and queries the [`AreaSet`].

use std::fmt;

pub use super::pip::BOUNDARY_EPSILON_DEG;

mod index;
mod reader;
mod validation;

pub use index::{Area, AreaSet, Placement};
pub use validation::validate_area;

/// Refuse areas with more positions than this (a commune boundary has a few thousand).
pub const MAX_POSITIONS_PER_AREA: usize = 5_000_000;

/// Most problems reported for one area; the rest are counted ([`AreaErrorKind::MoreProblems`]).
pub const MAX_ERRORS_PER_AREA: usize = 100;

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
    /// More problems in the same feature than [`MAX_ERRORS_PER_AREA`]: how many were not listed.
    MoreProblems {
        count: usize,
    },
    /// The overlap or edge intersection check took more steps than its budget (a generous
    /// multiple of the parts or edges) without finishing: geometry built to defeat the index.
    TooComplex {
        steps: usize,
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
            MoreProblems { .. } => "more_problems",
            TooComplex { .. } => "too_complex",
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
            MoreProblems { count } => {
                write!(f, "and {count} more problem(s) in this feature, not listed")
            }
            TooComplex { steps } => write!(
                f,
                "the geometry is too intricate to check (more than {steps} steps of its \
                 spatial index)"
            ),
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
