//! Point in polygon for one area: an even-odd crossing test over the area's rings, made local by a
//! uniform grid over the area's bounding box. Edges are straight lines in lon/lat (RFC 7946).
//!
//! Each grid cell lists the edges that touch it. The crossing test casts a ray from the point to
//! the east; instead of testing every edge, it counts the crossings inside the point's cell and the
//! cells to its east until it reaches a cell whose east border no edge touches. The inside/outside
//! status of such a *clear* border is the same all along it, and is precomputed, so the walk stops
//! there. Most points (those in cells no edge touches) need no edge test at all.
//!
//! A point within [`BOUNDARY_EPSILON_DEG`] of an edge is on the boundary; everything else is
//! decided by the crossing count with the half-open rule (an edge counts when exactly one end is
//! strictly north of the point). A crossing is counted in exactly one cell: the one whose
//! `[west, east)` span holds its longitude, computed by the same expression everywhere.

/// Points this close (in degrees, about 0.1 mm) to an edge are on the boundary.
pub const BOUNDARY_EPSILON_DEG: f64 = 1e-9;

/// Edges are filed in every cell they come within this distance of (twice the boundary epsilon,
/// so that a point just outside the box still finds the edges near it in its clamped cell).
const CELL_PAD: f64 = 2.0 * BOUNDARY_EPSILON_DEG;

/// Cells per edge: more cells make empty cells (no edge test) more common, at 4 bytes a cell.
/// One per edge measured as fast as two or four on jagged communes, with a third less index memory.
const CELLS_PER_EDGE: f64 = 1.0;
const MAX_CELLS: f64 = (1u32 << 22) as f64;

const FLAG_CLEAR: u32 = 1;
const FLAG_INSIDE_EAST: u32 = 2;
const FLAG_SHIFT: u32 = 30;
const START_MASK: u32 = (1 << FLAG_SHIFT) - 1;

/// Where a point is relative to one area.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pip {
    Outside,
    Boundary,
    Inside,
}

/// The rings of one area (every polygon's shell and holes), closed, with a grid index.
#[derive(Debug, Clone)]
pub(crate) struct RingIndex {
    /// All rings one after another, each closed (last position == first).
    pts: Vec<[f64; 2]>,
    /// End (exclusive) of each ring in `pts`.
    ring_ends: Vec<u32>,
    /// Edge start indices (edge `e` runs from `pts[e]` to `pts[e + 1]`), grouped by cell.
    cell_edges: Vec<u32>,
    /// Per cell (row-major), plus one: the start of its edges in `cell_edges` (low 30 bits; the
    /// cell's edges end where the next cell's start), and its flags (top 2 bits):
    /// [`FLAG_CLEAR`] when no edge touches its east border, [`FLAG_INSIDE_EAST`] when that border
    /// is inside the area. One array, so a lookup touches one cache line for both.
    cells: Vec<u32>,
    nx: usize,
    ny: usize,
    /// Cell width and height, degrees, and their inverses.
    cw: f64,
    ch: f64,
    inv_cw: f64,
    inv_ch: f64,
    /// Bounding box, `[xmin, ymin, xmax, ymax]`.
    pub bbox: [f64; 4],
}

impl RingIndex {
    /// Build from closed rings of `[lon, lat]` positions.
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
        if edges.is_empty() {
            bbox = [0.0; 4];
        }
        let mut idx = RingIndex {
            pts,
            ring_ends,
            cell_edges: Vec::new(),
            cells: Vec::new(),
            nx: 1,
            ny: 1,
            cw: 1.0,
            ch: 1.0,
            inv_cw: 1.0,
            inv_ch: 1.0,
            bbox,
        };
        // Roughly square cells, about CELLS_PER_EDGE per edge; coarser if long edges crossing
        // many cells would overflow the 30-bit edge offsets.
        let mut target = (edges.len() as f64 * CELLS_PER_EDGE).clamp(1.0, MAX_CELLS);
        loop {
            idx.set_grid(target);
            if idx.file_edges(&edges) || target <= 1.0 {
                break;
            }
            target = (target / 4.0).max(1.0);
        }
        idx.compute_flags();
        idx
    }

    fn set_grid(&mut self, target: f64) {
        let w = (self.bbox[2] - self.bbox[0]).max(1e-12);
        let h = (self.bbox[3] - self.bbox[1]).max(1e-12);
        self.nx = (target * w / h).sqrt().round().clamp(1.0, target) as usize;
        self.ny = (target / self.nx as f64).round().clamp(1.0, target) as usize;
        self.cw = w / self.nx as f64;
        self.ch = h / self.ny as f64;
        self.inv_cw = 1.0 / self.cw;
        self.inv_ch = 1.0 / self.ch;
    }

    fn col(&self, x: f64) -> usize {
        let c = ((x - self.bbox[0]) * self.inv_cw).floor();
        if c <= 0.0 { 0 } else { (c as usize).min(self.nx - 1) }
    }

    fn row(&self, y: f64) -> usize {
        let r = ((y - self.bbox[1]) * self.inv_ch).floor();
        if r <= 0.0 { 0 } else { (r as usize).min(self.ny - 1) }
    }

    /// West border of column `c` (the same expression for every use, so borders agree).
    fn x_at(&self, c: usize) -> f64 {
        self.bbox[0] + c as f64 * self.cw
    }

    fn y_at(&self, r: usize) -> f64 {
        self.bbox[1] + r as f64 * self.ch
    }

    fn edge(&self, e: u32) -> ([f64; 2], [f64; 2]) {
        (self.pts[e as usize], self.pts[e as usize + 1])
    }

    fn cell(&self, c: usize, r: usize) -> &[u32] {
        let i = r * self.nx + c;
        let (s, e) = (self.cells[i] & START_MASK, self.cells[i + 1] & START_MASK);
        &self.cell_edges[s as usize..e as usize]
    }

    /// The cells an edge touches (within [`CELL_PAD`]), by clipping it against each cell of its box.
    fn cells_of(&self, e: u32, mut f: impl FnMut(usize)) {
        let (a, b) = self.edge(e);
        let (c0, c1) = (self.col(a[0].min(b[0]) - CELL_PAD), self.col(a[0].max(b[0]) + CELL_PAD));
        let (r0, r1) = (self.row(a[1].min(b[1]) - CELL_PAD), self.row(a[1].max(b[1]) + CELL_PAD));
        let single = c0 == c1 || r0 == r1;
        for r in r0..=r1 {
            for c in c0..=c1 {
                let rect = [
                    self.x_at(c) - CELL_PAD,
                    self.y_at(r) - CELL_PAD,
                    self.x_at(c + 1) + CELL_PAD,
                    self.y_at(r + 1) + CELL_PAD,
                ];
                // A box one cell wide or tall lies wholly in the cells it spans; otherwise clip.
                if single || segment_touches_rect(a, b, rect) {
                    f(r * self.nx + c);
                }
            }
        }
    }

    /// File every edge in its cells; false (nothing filed) if the entries would not fit in 30 bits.
    fn file_edges(&mut self, edges: &[u32]) -> bool {
        let cells = self.nx * self.ny;
        let mut counts = vec![0u32; cells];
        let mut total = 0u64;
        for &e in edges {
            self.cells_of(e, |i| {
                counts[i] = counts[i].saturating_add(1);
                total += 1;
            });
        }
        if total > u64::from(START_MASK) {
            return false;
        }
        let mut start = Vec::with_capacity(cells + 1);
        let mut acc = 0u32;
        for c in &counts {
            start.push(acc);
            acc += c;
        }
        start.push(acc);
        let mut fill: Vec<u32> = start[..cells].to_vec();
        let mut out = vec![0u32; acc as usize];
        for &e in edges {
            self.cells_of(e, |i| {
                out[fill[i] as usize] = e;
                fill[i] += 1;
            });
        }
        self.cells = start;
        self.cell_edges = out;
        true
    }

    /// Clear east borders and their status, one row at a time: the status of a clear border is
    /// the parity of the crossings east of it along the row's middle line.
    fn compute_flags(&mut self) {
        let mut flags = vec![0u32; self.nx * self.ny];
        let mut per_cell = vec![0u32; self.nx];
        for r in 0..self.ny {
            let (ylo, yhi) = (self.y_at(r), self.y_at(r + 1));
            let ymid = 0.5 * (ylo + yhi);
            per_cell.iter_mut().for_each(|n| *n = 0);
            for (c, n) in per_cell.iter_mut().enumerate() {
                for &e in self.cell(c, r) {
                    let (a, b) = self.edge(e);
                    if let Some(xi) = crossing(a, b, ymid) {
                        if self.col_of_crossing(xi) == c {
                            *n += 1;
                        }
                    }
                }
            }
            let mut east = 0u32; // crossings strictly east of column c's east border
            for c in (0..self.nx).rev() {
                let xr = self.x_at(c + 1);
                let border = [
                    xr - BOUNDARY_EPSILON_DEG,
                    ylo - CELL_PAD,
                    xr + BOUNDARY_EPSILON_DEG,
                    yhi + CELL_PAD,
                ];
                let touched = c + 1 == self.nx
                    || self.cell(c, r).iter().any(|&e| {
                        let (a, b) = self.edge(e);
                        segment_touches_rect(a, b, border)
                    });
                let mut f = 0u32;
                if !touched {
                    f |= FLAG_CLEAR;
                    if east % 2 == 1 {
                        f |= FLAG_INSIDE_EAST;
                    }
                }
                flags[r * self.nx + c] = f;
                east += per_cell[c];
            }
        }
        for (cell, f) in self.cells.iter_mut().zip(flags) {
            *cell |= f << FLAG_SHIFT;
        }
    }

    /// The column whose `[west, east)` span holds longitude `xi` (the last column is open to the
    /// east, the first to the west).
    fn col_of_crossing(&self, xi: f64) -> usize {
        let mut c = self.col(xi);
        // Guard against rounding in `col`: the borders computed by `x_at` decide.
        while c > 0 && xi < self.x_at(c) {
            c -= 1;
        }
        while c + 1 < self.nx && xi >= self.x_at(c + 1) {
            c += 1;
        }
        c
    }

    /// Classify `(x, y)` = (lon, lat).
    pub fn classify(&self, x: f64, y: f64) -> Pip {
        const E: f64 = BOUNDARY_EPSILON_DEG;
        let b = &self.bbox;
        if !(x >= b[0] - E && x <= b[2] + E && y >= b[1] - E && y <= b[3] + E) {
            return Pip::Outside;
        }
        let (c0, r) = (self.col(x), self.row(y));
        let mut inside = false;
        // The point's own cell: boundary test, then crossings east of the point.
        let hi0 = if c0 + 1 == self.nx { f64::INFINITY } else { self.x_at(c0 + 1) };
        for &e in self.cell(c0, r) {
            let (a, c) = self.edge(e);
            let (ylo, yhi) = if a[1] < c[1] { (a[1], c[1]) } else { (c[1], a[1]) };
            if y < ylo - E || y > yhi + E {
                continue;
            }
            let (xlo, xhi) = if a[0] < c[0] { (a[0], c[0]) } else { (c[0], a[0]) };
            if x >= xlo - E && x <= xhi + E && seg_dist2(x, y, a, c, 1.0, 1.0).0 <= E * E {
                return Pip::Boundary;
            }
            if let Some(xi) = crossing(a, c, y) {
                if x < xi && xi < hi0 {
                    inside = !inside;
                }
            }
        }
        // Walk east to the first clear border.
        let mut col = c0;
        loop {
            let f = self.cells[r * self.nx + col] >> FLAG_SHIFT;
            if f & FLAG_CLEAR != 0 {
                return if inside != (f & FLAG_INSIDE_EAST != 0) {
                    Pip::Inside
                } else {
                    Pip::Outside
                };
            }
            col += 1;
            if col == self.nx {
                return if inside { Pip::Inside } else { Pip::Outside };
            }
            let lo = self.x_at(col);
            let hi = if col + 1 == self.nx { f64::INFINITY } else { self.x_at(col + 1) };
            for &e in self.cell(col, r) {
                let (a, c) = self.edge(e);
                if let Some(xi) = crossing(a, c, y) {
                    if lo <= xi && xi < hi && x < xi {
                        inside = !inside;
                    }
                }
            }
        }
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
            + (self.cell_edges.capacity() + self.cells.capacity() + self.ring_ends.capacity()) * 4
    }
}

/// Where edge `a`-`b` crosses the horizontal line at `y`, by the half-open rule (exactly one end
/// strictly north of the line).
fn crossing(a: [f64; 2], b: [f64; 2], y: f64) -> Option<f64> {
    if (a[1] > y) != (b[1] > y) {
        Some(a[0] + (y - a[1]) * (b[0] - a[0]) / (b[1] - a[1]))
    } else {
        None
    }
}

/// Whether segment `a`-`b` meets the closed rectangle `[xmin, ymin, xmax, ymax]` (Liang–Barsky).
fn segment_touches_rect(a: [f64; 2], b: [f64; 2], r: [f64; 4]) -> bool {
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    for (p, q) in [(-dx, a[0] - r[0]), (dx, r[2] - a[0]), (-dy, a[1] - r[1]), (dy, r[3] - a[1])] {
        if p == 0.0 {
            if q < 0.0 {
                return false;
            }
        } else {
            let t = q / p;
            if p < 0.0 {
                t0 = t0.max(t);
            } else {
                t1 = t1.min(t);
            }
            if t0 > t1 {
                return false;
            }
        }
    }
    true
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
        assert_eq!(idx.classify(7.0, 6.0), Pip::Inside); // level with the hole's top edge
    }

    /// Compare with a plain crossing test over every edge, on a dense lattice of points including
    /// ones level with vertices and on grid borders.
    #[test]
    fn matches_the_plain_crossing_test() {
        let star: Vec<[f64; 2]> = (0..=37)
            .map(|i| {
                let t = std::f64::consts::TAU * f64::from(i % 37) / 37.0;
                let r = if i % 2 == 0 { 1.0 } else { 0.45 };
                [r * t.cos(), r * t.sin()]
            })
            .collect();
        let hole = vec![[-0.1, -0.1], [-0.1, 0.1], [0.1, 0.1], [0.1, -0.1], [-0.1, -0.1]];
        let idx = RingIndex::new(&[&star, &hole]);
        let plain = |x: f64, y: f64| {
            let mut inside = false;
            for ring in [&star, &hole] {
                for w in ring.windows(2) {
                    if let Some(xi) = crossing(w[0], w[1], y) {
                        if x < xi {
                            inside = !inside;
                        }
                    }
                }
            }
            inside
        };
        let mut checked = 0;
        for i in -60..=60 {
            for j in -60..=60 {
                let (x, y) = (f64::from(i) / 50.0, f64::from(j) / 50.0);
                match idx.classify(x, y) {
                    Pip::Boundary => {}
                    p => {
                        assert_eq!(p == Pip::Inside, plain(x, y), "({x}, {y})");
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 14_000);
        // Vertices' own latitudes.
        for v in &star {
            for dx in [-0.3, -0.01, 0.01, 0.3] {
                let (x, y) = (v[0] + dx, v[1]);
                if idx.classify(x, y) != Pip::Boundary {
                    assert_eq!(idx.classify(x, y) == Pip::Inside, plain(x, y), "({x}, {y})");
                }
            }
        }
    }

    #[test]
    fn nearest_boundary_skips_ring_joins() {
        let shell = square(0.0, 0.0, 10.0);
        let hole = square(4.0, 4.0, 2.0);
        let idx = RingIndex::new(&[&shell, &hole]);
        // A join would run from (0, 0) (shell's closing position) to (4, 4) (hole's first).
        let p = idx.nearest_boundary(2.5, 2.0, 1.0, 1.0);
        assert_eq!(p, [2.5, 0.0]);
    }
}
