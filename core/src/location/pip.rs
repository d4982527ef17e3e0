//! Point in polygon for one area: an even-odd crossing test over the area's rings, with the edges
//! bucketed into horizontal bands so that a lookup only looks at the few edges whose latitude
//! range covers the point. Edges are straight lines in lon/lat, as RFC 7946 defines them.
//!
//! A point within [`BOUNDARY_EPSILON_DEG`] of an edge is on the boundary; everything else is
//! decided by the crossing count with the half-open rule (an edge counts when exactly one end is
//! strictly above the point), which gives each point one answer however the rings are oriented.

/// Points this close (in degrees, about 0.1 mm) to an edge are on the boundary.
pub const BOUNDARY_EPSILON_DEG: f64 = 1e-9;

/// Where a point is relative to one area.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pip {
    Outside,
    Boundary,
    Inside,
}

/// The rings of one area (every polygon's shell and holes), closed, with a band index.
#[derive(Debug, Clone)]
pub(crate) struct RingIndex {
    /// All rings one after another, each closed (last position == first).
    pts: Vec<[f64; 2]>,
    /// End (exclusive) of each ring in `pts`.
    ring_ends: Vec<u32>,
    /// Edge start indices (edge `e` runs from `pts[e]` to `pts[e + 1]`), grouped by band.
    band_edges: Vec<u32>,
    /// `band_edges[band_start[b]..band_start[b + 1]]` are the edges of band `b`.
    band_start: Vec<u32>,
    y0: f64,
    inv_h: f64,
    nbands: usize,
    /// Bounding box, `[xmin, ymin, xmax, ymax]`.
    pub bbox: [f64; 4],
}

impl RingIndex {
    /// Build from closed rings of `[lon, lat]` positions (each at least 4 positions).
    pub fn new(rings: &[&[[f64; 2]]]) -> Self {
        let total: usize = rings.iter().map(|r| r.len()).sum();
        let mut pts = Vec::with_capacity(total);
        let mut edges: Vec<u32> = Vec::with_capacity(total);
        let mut ring_ends = Vec::with_capacity(rings.len());
        let mut bbox = [f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY];
        for ring in rings {
            let start = pts.len();
            pts.extend_from_slice(ring);
            for (i, w) in ring.windows(2).enumerate() {
                if w[0] != w[1] {
                    edges.push(u32::try_from(start + i).unwrap_or(u32::MAX));
                }
            }
            ring_ends.push(u32::try_from(pts.len()).unwrap_or(u32::MAX));
            for p in *ring {
                bbox[0] = bbox[0].min(p[0]);
                bbox[1] = bbox[1].min(p[1]);
                bbox[2] = bbox[2].max(p[0]);
                bbox[3] = bbox[3].max(p[1]);
            }
        }
        // About four edges per band on average; a power of two keeps the count predictable.
        let nbands = (edges.len() / 4).clamp(1, 1 << 16);
        let height = (bbox[3] - bbox[1]).max(f64::MIN_POSITIVE);
        let y0 = bbox[1];
        let inv_h = nbands as f64 / height;
        let band = |y: f64| -> usize {
            let b = ((y - y0) * inv_h).floor();
            if b <= 0.0 { 0 } else { (b as usize).min(nbands - 1) }
        };
        let span = |e: u32| {
            let (a, c) = (pts[e as usize], pts[e as usize + 1]);
            let lo = a[1].min(c[1]) - BOUNDARY_EPSILON_DEG;
            let hi = a[1].max(c[1]) + BOUNDARY_EPSILON_DEG;
            (band(lo), band(hi))
        };
        let mut counts = vec![0u32; nbands + 1];
        for &e in &edges {
            let (lo, hi) = span(e);
            for c in &mut counts[lo..=hi] {
                *c += 1;
            }
        }
        let mut band_start = Vec::with_capacity(nbands + 1);
        let mut acc = 0u32;
        for c in &counts[..nbands] {
            band_start.push(acc);
            acc += c;
        }
        band_start.push(acc);
        let mut fill: Vec<u32> = band_start[..nbands].to_vec();
        let mut band_edges = vec![0u32; acc as usize];
        for &e in &edges {
            let (lo, hi) = span(e);
            for f in &mut fill[lo..=hi] {
                band_edges[*f as usize] = e;
                *f += 1;
            }
        }
        RingIndex { pts, ring_ends, band_edges, band_start, y0, inv_h, nbands, bbox }
    }

    fn band_of(&self, y: f64) -> usize {
        let b = ((y - self.y0) * self.inv_h).floor();
        if b <= 0.0 { 0 } else { (b as usize).min(self.nbands - 1) }
    }

    fn band(&self, y: f64) -> &[u32] {
        let b = self.band_of(y);
        let (s, e) = (self.band_start[b] as usize, self.band_start[b + 1] as usize);
        &self.band_edges[s..e]
    }

    /// Classify `(x, y)` = (lon, lat).
    pub fn classify(&self, x: f64, y: f64) -> Pip {
        const E: f64 = BOUNDARY_EPSILON_DEG;
        let b = &self.bbox;
        if !(x >= b[0] - E && x <= b[2] + E && y >= b[1] - E && y <= b[3] + E) {
            return Pip::Outside;
        }
        let mut inside = false;
        for &e in self.band(y) {
            let a = self.pts[e as usize];
            let c = self.pts[e as usize + 1];
            let (ylo, yhi) = if a[1] < c[1] { (a[1], c[1]) } else { (c[1], a[1]) };
            if y < ylo - E || y > yhi + E {
                continue;
            }
            let (xlo, xhi) = if a[0] < c[0] { (a[0], c[0]) } else { (c[0], a[0]) };
            if x >= xlo - E && x <= xhi + E && seg_dist2(x, y, a, c, 1.0, 1.0).0 <= E * E {
                return Pip::Boundary;
            }
            if (a[1] > y) != (c[1] > y) {
                let xi = a[0] + (y - a[1]) * (c[0] - a[0]) / (c[1] - a[1]);
                if x < xi {
                    inside = !inside;
                }
            }
        }
        if inside { Pip::Inside } else { Pip::Outside }
    }

    /// The closest boundary position to `(x, y)`, measuring in a plane where a degree of longitude
    /// is `kx` and a degree of latitude `ky` units long. Returns the position `[lon, lat]`.
    pub fn nearest_boundary(&self, x: f64, y: f64, kx: f64, ky: f64) -> [f64; 2] {
        let mut best = (f64::INFINITY, [x, y]);
        let mut start = 0;
        for &end in &self.ring_ends {
            let end = end as usize;
            for w in self.pts[start..end].windows(2) {
                let (d, p) = seg_dist2(x, y, w[0], w[1], kx, ky);
                if d < best.0 {
                    best = (d, p);
                }
            }
            start = end;
        }
        best.1
    }

    pub fn ring_count(&self) -> usize {
        self.ring_ends.len()
    }

    /// Ring `r`'s positions (closed).
    pub fn ring(&self, r: usize) -> &[[f64; 2]] {
        let start = if r == 0 { 0 } else { self.ring_ends[r - 1] as usize };
        &self.pts[start..self.ring_ends[r] as usize]
    }

    /// Number of positions (all rings, closing positions included).
    pub fn len(&self) -> usize {
        self.pts.len()
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.pts.capacity() * std::mem::size_of::<[f64; 2]>()
            + (self.band_edges.capacity() + self.band_start.capacity() + self.ring_ends.capacity())
                * 4
    }
}

/// Squared distance from `(x, y)` to segment `a`-`c` in a plane scaled by `kx`, `ky`, and the
/// closest point (unscaled).
fn seg_dist2(x: f64, y: f64, a: [f64; 2], c: [f64; 2], kx: f64, ky: f64) -> (f64, [f64; 2]) {
    let (ax, ay) = ((a[0] - x) * kx, (a[1] - y) * ky);
    let (dx, dy) = ((c[0] - a[0]) * kx, (c[1] - a[1]) * ky);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 { (-(ax * dx + ay * dy) / len2).clamp(0.0, 1.0) } else { 0.0 };
    let (px, py) = (ax + t * dx, ay + t * dy);
    (px * px + py * py, [a[0] + t * (c[0] - a[0]), a[1] + t * (c[1] - a[1])])
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn square(x0: f64, y0: f64, s: f64) -> Vec<[f64; 2]> {
        vec![[x0, y0], [x0 + s, y0], [x0 + s, y0 + s], [x0, y0 + s], [x0, y0]]
    }

    #[test]
    fn square_with_hole() {
        let shell = square(0.0, 0.0, 10.0);
        let hole = square(4.0, 4.0, 2.0);
        let idx = RingIndex::new(&[&shell, &hole]);
        assert_eq!(idx.classify(1.0, 1.0), Pip::Inside);
        assert_eq!(idx.classify(5.0, 5.0), Pip::Outside);
        assert_eq!(idx.classify(4.0, 5.0), Pip::Boundary);
        assert_eq!(idx.classify(10.0, 3.0), Pip::Boundary);
        assert_eq!(idx.classify(0.0, 0.0), Pip::Boundary);
        assert_eq!(idx.classify(11.0, 3.0), Pip::Outside);
        assert_eq!(idx.classify(3.0, 4.0), Pip::Inside); // level with the hole's bottom edge
    }

    #[test]
    fn nearest_boundary_skips_ring_joins() {
        let shell = square(0.0, 0.0, 10.0);
        let hole = square(4.0, 4.0, 2.0);
        let idx = RingIndex::new(&[&shell, &hole]);
        // The join runs from (0, 0) (shell's closing position) to (4, 4) (hole's first).
        let p = idx.nearest_boundary(2.5, 2.0, 1.0, 1.0);
        assert!(p != [2.25, 2.25], "{p:?}");
        assert!((p[0] - 2.5).abs() < 1e-12 && p[1] == 0.0 || p[0] == 4.0, "{p:?}");
    }
}
