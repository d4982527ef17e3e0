//! Distances on the WGS84 ellipsoid, and the cheap spherical and planar helpers that the spatial
//! indexes use to prune candidates before computing exact distances.
//!
//! Every distance this module reports is the geodesic on the WGS84 ellipsoid (Karney 2013, through
//! `geo`'s `Geodesic`, which wraps geographiclib-rs). The spherical helpers only ever provide
//! *lower bounds* for pruning, scaled by [`ELLIPSOID_SLACK`] so that a bound on the sphere is also a
//! bound on the ellipsoid.

use geo::{Distance, Geodesic, Point};
use serde::{Deserialize, Serialize};

/// A position in WGS84 degrees. Latitude first, as people say it; GeoJSON stores `[lon, lat]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LatLon {
    pub lat: f64,
    pub lon: f64,
}

impl LatLon {
    pub const fn new(lat: f64, lon: f64) -> Self {
        LatLon { lat, lon }
    }

    /// Finite and within ±90 / ±180.
    pub fn is_valid(self) -> bool {
        self.lat.is_finite()
            && self.lon.is_finite()
            && (-90.0..=90.0).contains(&self.lat)
            && (-180.0..=180.0).contains(&self.lon)
    }
}

/// Mean Earth radius (IUGG R1), metres: the sphere used for pruning bounds.
pub const MEAN_EARTH_RADIUS_M: f64 = 6_371_008.8;

/// WGS84 semi-major axis and flattening.
const WGS84_A: f64 = 6_378_137.0;
const WGS84_F: f64 = 1.0 / 298.257_223_563;

/// Geodesic distance / spherical distance (radius [`MEAN_EARTH_RADIUS_M`], geodetic latitude used
/// as spherical latitude) lies within about [0.9944, 1.0045] anywhere on Earth (the ratio of the
/// meridional radius at the equator, 6,335,439 m, and at the poles, 6,399,594 m, to the mean
/// radius). Bounds computed on the sphere are multiplied by this factor before they are compared
/// with geodesic distances, which keeps them lower bounds with a margin.
pub const ELLIPSOID_SLACK: f64 = 0.99;

/// Geodesic distance in metres between two positions on the WGS84 ellipsoid (Karney's method,
/// accurate to nanometres). Exactly symmetric: the arguments are put in a canonical order first.
pub fn distance_m(a: LatLon, b: LatLon) -> f64 {
    let (p, q) = if (a.lat, a.lon) <= (b.lat, b.lon) { (a, b) } else { (b, a) };
    Geodesic.distance(Point::new(p.lon, p.lat), Point::new(q.lon, q.lat))
}

/// Great-circle distance on the mean-radius sphere (haversine), metres. Within about 0.5% of the
/// geodesic; used for pruning and in tests, never reported.
pub fn spherical_distance_m(a: LatLon, b: LatLon) -> f64 {
    let (p1, p2) = (a.lat.to_radians(), b.lat.to_radians());
    let dphi = p2 - p1;
    let dl = (b.lon - a.lon).to_radians();
    let h = (dphi / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * MEAN_EARTH_RADIUS_M * h.sqrt().min(1.0).asin()
}

/// The position as a unit vector (Earth-centred, Earth-fixed, on the unit sphere).
pub(crate) fn unit_vector(p: LatLon) -> [f64; 3] {
    let (phi, lam) = (p.lat.to_radians(), p.lon.to_radians());
    let c = phi.cos();
    [c * lam.cos(), c * lam.sin(), phi.sin()]
}

/// Arc length on the mean-radius sphere for a chord between unit vectors.
pub(crate) fn arc_from_chord_m(chord: f64) -> f64 {
    2.0 * MEAN_EARTH_RADIUS_M * (chord / 2.0).clamp(0.0, 1.0).asin()
}

/// The chord between unit vectors whose arc on the mean-radius sphere is `arc_m`.
pub(crate) fn chord_from_arc(arc_m: f64) -> f64 {
    let theta = (arc_m / MEAN_EARTH_RADIUS_M).clamp(0.0, std::f64::consts::PI);
    2.0 * (theta / 2.0).sin()
}

/// A lower bound in metres on the geodesic distance between positions whose unit vectors are
/// `chord` apart.
pub(crate) fn geodesic_lower_bound_m(chord: f64) -> f64 {
    ELLIPSOID_SLACK * arc_from_chord_m(chord)
}

/// A tight axis-aligned box, in unit-vector space, around every point of the lon/lat box
/// `[lon0, lon1] x [lat0, lat1]` (degrees; lon0 <= lon1, no antimeridian crossing).
pub(crate) fn unit_box(lon0: f64, lat0: f64, lon1: f64, lat1: f64) -> ([f64; 3], [f64; 3]) {
    let (a, b) = (lat0.to_radians(), lat1.to_radians());
    let (c, d) = (lon0.to_radians(), lon1.to_radians());
    // cos(latitude): decreasing away from the equator, so the extremes are at the ends, or 1 at 0.
    let cos_lo = a.cos().min(b.cos()).max(0.0);
    let cos_hi = if a <= 0.0 && b >= 0.0 { 1.0 } else { a.cos().max(b.cos()) };
    let range = |f: fn(f64) -> f64, crit: &[(f64, f64)]| {
        let (mut lo, mut hi) = (f(c).min(f(d)), f(c).max(f(d)));
        for &(at, v) in crit {
            if c <= at && at <= d {
                lo = lo.min(v);
                hi = hi.max(v);
            }
        }
        (lo, hi)
    };
    use std::f64::consts::{FRAC_PI_2, PI};
    let (cl_lo, cl_hi) = range(f64::cos, &[(0.0, 1.0), (PI, -1.0), (-PI, -1.0)]);
    let (sl_lo, sl_hi) = range(f64::sin, &[(FRAC_PI_2, 1.0), (-FRAC_PI_2, -1.0)]);
    let prod = |lo: f64, hi: f64| {
        let c = [cos_lo * lo, cos_lo * hi, cos_hi * lo, cos_hi * hi];
        (
            c.iter().copied().fold(f64::INFINITY, f64::min),
            c.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        )
    };
    let (x0, x1) = prod(cl_lo, cl_hi);
    let (y0, y1) = prod(sl_lo, sl_hi);
    let (z0, z1) = (a.sin(), b.sin());
    const PAD: f64 = 1e-12;
    ([x0 - PAD, y0 - PAD, z0 - PAD], [x1 + PAD, y1 + PAD, z1 + PAD])
}

/// A local plane around a position: metres per degree of longitude and latitude from the WGS84
/// radii of curvature there. Good to better than 0.1% over a few tens of kilometres.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LocalPlane {
    /// Metres per degree of longitude.
    pub kx: f64,
    /// Metres per degree of latitude.
    pub ky: f64,
}

impl LocalPlane {
    pub fn at(lat: f64) -> Self {
        let phi = lat.to_radians();
        let e2 = WGS84_F * (2.0 - WGS84_F);
        let w = (1.0 - e2 * phi.sin().powi(2)).sqrt();
        let n = WGS84_A / w; // prime vertical radius
        let m = WGS84_A * (1.0 - e2) / (w * w * w); // meridional radius
        let deg = std::f64::consts::PI / 180.0;
        LocalPlane { kx: n * phi.cos() * deg, ky: m * deg }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn unit_box_contains_sampled_points() {
        let boxes =
            [(102.0, 20.0, 106.0, 23.0), (-10.0, -5.0, 10.0, 5.0), (170.0, 60.0, 180.0, 89.0)];
        for (lon0, lat0, lon1, lat1) in boxes {
            let (lo, hi) = unit_box(lon0, lat0, lon1, lat1);
            for i in 0..=20 {
                for j in 0..=20 {
                    let p = LatLon::new(
                        lat0 + (lat1 - lat0) * f64::from(j) / 20.0,
                        lon0 + (lon1 - lon0) * f64::from(i) / 20.0,
                    );
                    let u = unit_vector(p);
                    for k in 0..3 {
                        assert!(lo[k] <= u[k] && u[k] <= hi[k], "{p:?} axis {k}");
                    }
                }
            }
        }
    }

    #[test]
    fn chord_and_arc_are_inverse() {
        for m in [0.0, 1.0, 1234.5, 1.0e6, 1.5e7] {
            let back = arc_from_chord_m(chord_from_arc(m));
            assert!((back - m).abs() < 1e-6 * m.max(1.0), "{m} -> {back}");
        }
    }

    #[test]
    fn local_plane_matches_geodesic_over_short_distances() {
        let p = LatLon::new(21.59, 105.85);
        let plane = LocalPlane::at(p.lat);
        let q = LatLon::new(p.lat + 0.01, p.lon + 0.01);
        let dx = (q.lon - p.lon) * plane.kx;
        let dy = (q.lat - p.lat) * plane.ky;
        let planar = dx.hypot(dy);
        let g = distance_m(p, q);
        assert!((planar - g).abs() / g < 1e-3, "{planar} vs {g}");
    }
}
