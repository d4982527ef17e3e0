//! Households in space: nearest households to a position (k-nearest, within a radius), duplicate
//! detection for a new household, and the revisit check.
//!
//! Households are indexed as unit vectors on the sphere in an R-tree, so the chord distance the
//! tree orders by is a true lower bound (after [`ELLIPSOID_SLACK`](super::geodesic::ELLIPSOID_SLACK))
//! of the geodesic distance, everywhere on Earth. Every distance reported is the WGS84 geodesic.

use rstar::RTree;
use rstar::primitives::GeomWithData;
use serde::{Deserialize, Serialize};

use super::geodesic::{LatLon, chord_from_arc, distance_m, geodesic_lower_bound_m, unit_vector};
use super::names;

/// A registered household, as far as location is concerned. The head's name is personal data:
/// it is only compared, never logged or put in an error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Household {
    pub id: String,
    pub location: LatLon,
    /// Accuracy of the registered location, metres, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy_m: Option<f64>,
    #[serde(default)]
    pub head_name: String,
}

/// A household near a position.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Neighbor {
    /// Index into the [`HouseholdIndex`].
    pub index: usize,
    pub distance_m: f64,
}

/// Why households cannot be indexed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HouseholdError {
    #[error("household {index} (id {id}) has an invalid location")]
    InvalidLocation { index: usize, id: String },
}

/// Settings for [`HouseholdIndex::find_duplicates`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DuplicateConfig {
    /// Only households within this distance (m) of the new one are compared.
    pub radius_m: f64,
    /// Folded names at least this similar (see [`names::similarity`]) are possible duplicates.
    pub min_similarity: f64,
}

impl Default for DuplicateConfig {
    fn default() -> Self {
        DuplicateConfig { radius_m: 50.0, min_similarity: 0.85 }
    }
}

/// A possible duplicate of a new household.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DuplicateCandidate {
    pub index: usize,
    pub distance_m: f64,
    /// Name similarity in [0, 1]; 1 when the folded names are equal.
    pub similarity: f64,
}

type Entry = GeomWithData<[f64; 3], u32>;

/// Households indexed for spatial queries.
#[derive(Debug, Clone)]
pub struct HouseholdIndex {
    households: Vec<Household>,
    folded: Vec<String>,
    tree: RTree<Entry>,
}

impl HouseholdIndex {
    /// Index households; every location must be valid (finite, in range).
    pub fn new(households: Vec<Household>) -> Result<Self, HouseholdError> {
        if let Some((index, h)) =
            households.iter().enumerate().find(|(_, h)| !h.location.is_valid())
        {
            return Err(HouseholdError::InvalidLocation { index, id: h.id.clone() });
        }
        let entries: Vec<Entry> = households
            .iter()
            .enumerate()
            .map(|(i, h)| GeomWithData::new(unit_vector(h.location), i as u32))
            .collect();
        let folded = households.iter().map(|h| names::fold(&h.head_name)).collect();
        Ok(HouseholdIndex { households, folded, tree: RTree::bulk_load(entries) })
    }

    pub fn len(&self) -> usize {
        self.households.len()
    }

    pub fn is_empty(&self) -> bool {
        self.households.is_empty()
    }

    pub fn get(&self, i: usize) -> Option<&Household> {
        self.households.get(i)
    }

    /// The `k` nearest households to `p`, nearest first (ties by index).
    pub fn nearest(&self, p: LatLon, k: usize) -> Vec<Neighbor> {
        let mut best: Vec<Neighbor> = Vec::with_capacity(k + 1);
        if k == 0 || !p.is_valid() {
            return best;
        }
        let u = unit_vector(p);
        for (e, d2) in self.tree.nearest_neighbor_iter_with_distance_2(&u) {
            if best.len() == k && geodesic_lower_bound_m(d2.sqrt()) > best[k - 1].distance_m {
                break;
            }
            let index = e.data as usize;
            let d = distance_m(p, self.households[index].location);
            let n = Neighbor { index, distance_m: d };
            let at = best.partition_point(|b| (b.distance_m, b.index) < (d, index));
            if at < k {
                best.insert(at, n);
                best.truncate(k);
            }
        }
        best
    }

    /// Every household within `radius_m` of `p`, nearest first (ties by index).
    pub fn within(&self, p: LatLon, radius_m: f64) -> Vec<Neighbor> {
        if !p.is_valid() || radius_m.is_nan() || radius_m < 0.0 {
            return Vec::new();
        }
        let u = unit_vector(p);
        // A household at geodesic distance <= r is within sphere distance r / slack.
        let chord = chord_from_arc(radius_m / super::geodesic::ELLIPSOID_SLACK);
        let mut out: Vec<Neighbor> = self
            .tree
            .locate_within_distance(u, chord * chord)
            .filter_map(|e| {
                let index = e.data as usize;
                let d = distance_m(p, self.households[index].location);
                (d <= radius_m).then_some(Neighbor { index, distance_m: d })
            })
            .collect();
        out.sort_by(|a, b| a.distance_m.total_cmp(&b.distance_m).then(a.index.cmp(&b.index)));
        out
    }

    /// Registered households that may be the same as a new one at `p` headed by `head_name`:
    /// within `cfg.radius_m` and with a folded name similarity of at least `cfg.min_similarity`.
    /// Most similar first, then nearest.
    pub fn find_duplicates(
        &self,
        p: LatLon,
        head_name: &str,
        cfg: &DuplicateConfig,
    ) -> Vec<DuplicateCandidate> {
        let folded = names::fold(head_name);
        let mut out: Vec<DuplicateCandidate> = self
            .within(p, cfg.radius_m)
            .into_iter()
            .filter_map(|n| {
                let similarity = names::similarity_folded(&folded, &self.folded[n.index]);
                (similarity >= cfg.min_similarity).then_some(DuplicateCandidate {
                    index: n.index,
                    distance_m: n.distance_m,
                    similarity,
                })
            })
            .collect();
        out.sort_by(|a, b| {
            b.similarity
                .total_cmp(&a.similarity)
                .then(a.distance_m.total_cmp(&b.distance_m))
                .then(a.index.cmp(&b.index))
        });
        out
    }

    /// Approximate heap bytes held (households, folded names, tree).
    pub fn heap_bytes(&self) -> usize {
        let strings: usize =
            self.households.iter().map(|h| h.id.capacity() + h.head_name.capacity()).sum::<usize>()
                + self.folded.iter().map(String::capacity).sum::<usize>();
        self.households.capacity() * std::mem::size_of::<Household>()
            + self.folded.capacity() * std::mem::size_of::<String>()
            + strings
            // rstar: leaves plus about one parent node per six children.
            + self.households.len() * std::mem::size_of::<Entry>() * 7 / 6
    }
}

/// The distance between a revisit's fix and the household's registered location.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RevisitCheck {
    pub distance_m: f64,
    /// The distance allowed before the visit counts as far: the threshold plus both accuracies.
    pub allowed_m: f64,
    pub far: bool,
}

/// Compare a visit's fix with a household's registered location. The visit is *far* when the
/// distance exceeds `threshold_m` plus the fix's accuracy plus the registered accuracy (if known):
/// two honest fixes of the same house can each be off by their accuracy.
pub fn revisit_check(
    fix: LatLon,
    fix_accuracy_m: f64,
    registered: LatLon,
    registered_accuracy_m: Option<f64>,
    threshold_m: f64,
) -> RevisitCheck {
    let distance_m = distance_m(fix, registered);
    let allowed_m =
        threshold_m + fix_accuracy_m.max(0.0) + registered_accuracy_m.unwrap_or(0.0).max(0.0);
    RevisitCheck { distance_m, allowed_m, far: distance_m > allowed_m }
}
