//! Likely duplicate households: at registration, among the households on the phone
//! ([`Store::likely_duplicates`]); on a supervisor's device, across the team's received records
//! ([`Store::team_duplicates`]: two volunteers, one household).
//!
//! Two households are likely one when their heads' names fold to nearly the same text
//! (`location::names`: "Ma Văn Hùng" and "Ma Van Hung" are equal) and either both are located
//! within [`DuplicateConfig::radius_m`] of each other, or one of them has no location and they
//! are in the same village of the same commune (a name alone, across a commune, says too
//! little). Located households are found through the R-tree of [`HouseholdIndex`]; households
//! without a location are compared only within their village, so neither side is quadratic in
//! the team's size.
//!
//! Nothing here is decided: the volunteer chooses at registration, the supervisor merges
//! (`sync::review::merge_households`). Names are compared, returned to the actor who may see
//! them, and never logged.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::households::NewHousehold;
use super::json;
use super::profiles::{Actor, Permission};
use super::{Store, StoreError};
use crate::location::{DuplicateConfig, Household as Located, HouseholdIndex, LatLon, names};

/// On what grounds two households look like one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DuplicateBasis {
    /// Both located, within the radius of each other, names alike.
    Nearby,
    /// At least one has no location: the same village of the same commune, names alike.
    SameVillageNoLocation,
}

/// Why two households are likely one: what a person needs to confirm or dismiss it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DuplicateReasons {
    pub basis: DuplicateBasis,
    /// Metres between the registered locations (`None` when one has none).
    pub distance_m: Option<f64>,
    /// Folded name similarity in [0, 1] (1: the same name once diacritics are folded).
    pub name_similarity: f64,
    /// The same village (folded) and the same commune code.
    pub same_village: bool,
    pub same_commune: bool,
}

impl DuplicateReasons {
    /// The reasons in words, Vietnamese first ("cách 2 m / 2 m apart").
    pub fn describe(&self) -> Vec<String> {
        let mut out = Vec::new();
        match self.distance_m {
            Some(d) => out.push(format!("cách {d:.0} m / {d:.0} m apart")),
            None => out.push(
                "chưa có vị trí, so theo tên trong thôn / no location: compared by name within the village"
                    .into(),
            ),
        }
        let pct = (self.name_similarity * 100.0).round();
        out.push(format!("tên giống {pct}% / name {pct}% alike"));
        if self.same_village && self.same_commune {
            out.push("cùng thôn / same village".into());
        } else if self.same_commune {
            out.push("cùng xã / same commune".into());
        }
        out
    }
}

/// A household on this phone that a new registration may repeat.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LikelyDuplicate {
    pub household_id: String,
    pub code: String,
    pub head_name: String,
    pub village: String,
    pub reasons: DuplicateReasons,
}

/// One household as the team's received records describe it (the latest of its records).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TeamHousehold {
    pub code: String,
    /// The volunteer's device that registered it (codes are per device).
    pub device_id: String,
    pub commune: Option<String>,
    pub village: String,
    pub head_name: String,
    pub location: Option<LatLon>,
    /// Its valid received records, oldest first; those of households merged into it included.
    pub record_ids: Vec<String>,
}

/// Two households of the team that are likely one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DuplicatePair {
    /// The one registered first (its first record finalized first): the natural one to keep.
    pub first: TeamHousehold,
    pub second: TeamHousehold,
    pub reasons: DuplicateReasons,
    /// Both registered on the same device (one volunteer who registered it twice).
    pub same_device: bool,
}

/// What matching needs of a household.
#[derive(Debug, Clone)]
pub(crate) struct Probe {
    pub commune: String,
    pub village: String,
    pub head_name: String,
    pub location: Option<LatLon>,
}

/// Households prepared for matching: the located ones in an R-tree, the others by village.
struct Matcher<'a> {
    probes: &'a [Probe],
    /// `None` only if the index refused a location, which the filter below rules out.
    located: Option<HouseholdIndex>,
    /// Index in `located` -> index in `probes`.
    located_at: Vec<usize>,
    /// (commune, folded village) -> indexes in `probes`.
    villages: HashMap<(String, String), Vec<usize>>,
    cfg: DuplicateConfig,
}

impl<'a> Matcher<'a> {
    fn new(probes: &'a [Probe], cfg: DuplicateConfig) -> Matcher<'a> {
        let mut located = Vec::new();
        let mut located_at = Vec::new();
        let mut villages: HashMap<(String, String), Vec<usize>> = HashMap::new();
        for (i, p) in probes.iter().enumerate() {
            if let Some(l) = p.location.filter(|l| l.is_valid()) {
                located.push(Located {
                    id: i.to_string(),
                    location: l,
                    accuracy_m: None,
                    head_name: p.head_name.clone(),
                });
                located_at.push(i);
            }
            villages.entry((p.commune.clone(), names::fold(&p.village))).or_default().push(i);
        }
        // Every location was checked valid just above, so the index does not refuse one.
        let located = HouseholdIndex::new(located).ok();
        Matcher { probes, located, located_at, villages, cfg }
    }

    /// The households `probe` is likely a duplicate of, with why: most alike first, then
    /// nearest.
    fn matches(&self, probe: &Probe) -> Vec<(usize, DuplicateReasons)> {
        let folded_name = names::fold(&probe.head_name);
        let folded_village = names::fold(&probe.village);
        let reasons = |i: usize, distance_m: Option<f64>, similarity: f64| {
            let other = &self.probes[i];
            let same_commune = other.commune == probe.commune;
            DuplicateReasons {
                basis: if distance_m.is_some() {
                    DuplicateBasis::Nearby
                } else {
                    DuplicateBasis::SameVillageNoLocation
                },
                distance_m,
                name_similarity: similarity,
                same_village: same_commune && names::fold(&other.village) == folded_village,
                same_commune,
            }
        };
        let mut out = Vec::new();
        let here = probe.location.filter(|l| l.is_valid());
        if let (Some(p), Some(index)) = (here, &self.located) {
            for c in index.find_duplicates(p, &probe.head_name, &self.cfg) {
                out.push((
                    self.located_at[c.index],
                    reasons(self.located_at[c.index], Some(c.distance_m), c.similarity),
                ));
            }
        }
        // Without a location on either side, only the same village counts.
        let key = (probe.commune.clone(), folded_village.clone());
        for &i in self.villages.get(&key).map(Vec::as_slice).unwrap_or(&[]) {
            let other = &self.probes[i];
            let other_located = other.location.is_some_and(|l| l.is_valid());
            if here.is_some() && other_located {
                continue; // already judged by distance
            }
            let similarity = names::similarity_folded(&folded_name, &names::fold(&other.head_name));
            if similarity >= self.cfg.min_similarity {
                out.push((i, reasons(i, None, similarity)));
            }
        }
        out.sort_by(|a, b| {
            b.1.name_similarity
                .total_cmp(&a.1.name_similarity)
                .then(
                    a.1.distance_m
                        .unwrap_or(f64::INFINITY)
                        .total_cmp(&b.1.distance_m.unwrap_or(f64::INFINITY)),
                )
                .then(a.0.cmp(&b.0))
        });
        out
    }
}

/// The parts of a household screening submission that identify the household.
#[derive(Deserialize, Default)]
struct SubmissionHousehold {
    #[serde(default)]
    household_code: Option<String>,
    #[serde(default)]
    data: Json,
}

impl Store {
    /// Households on this phone (those the actor may see) that `new` likely repeats, most alike
    /// first. The volunteer decides: register anyway, or visit the existing one.
    pub fn likely_duplicates(
        &self,
        by: &Actor,
        new: &NewHousehold,
    ) -> Result<Vec<LikelyDuplicate>, StoreError> {
        self.likely_duplicates_with(by, new, &DuplicateConfig::default())
    }

    /// [`Store::likely_duplicates`] with other thresholds.
    pub fn likely_duplicates_with(
        &self,
        by: &Actor,
        new: &NewHousehold,
        cfg: &DuplicateConfig,
    ) -> Result<Vec<LikelyDuplicate>, StoreError> {
        by.require(Permission::CreateHousehold)?;
        let existing = self.households(by)?;
        let probes: Vec<Probe> = existing
            .iter()
            .map(|h| Probe {
                commune: h.commune_code.clone(),
                village: h.village.clone(),
                head_name: h.head_name.clone(),
                location: h.location.map(|l| LatLon::new(l.lat, l.lon)),
            })
            .collect();
        let matcher = Matcher::new(&probes, *cfg);
        let probe = Probe {
            commune: new.commune_code.trim().to_string(),
            village: new.village.clone(),
            head_name: new.head_name.clone(),
            location: new.location.map(|l| LatLon::new(l.lat, l.lon)),
        };
        Ok(matcher
            .matches(&probe)
            .into_iter()
            .map(|(i, reasons)| {
                let h = &existing[i];
                LikelyDuplicate {
                    household_id: h.id.clone(),
                    code: h.code.clone(),
                    head_name: h.head_name.clone(),
                    village: h.village.clone(),
                    reasons,
                }
            })
            .collect())
    }

    /// Likely duplicate households across the team's valid received records (a supervisor's
    /// device after a pull): pairs of household codes whose latest records name heads alike,
    /// near each other or in the same village. Households already merged show as one (their
    /// records under the kept household) and are not paired again.
    pub fn team_duplicates(&self, by: &Actor) -> Result<Vec<DuplicatePair>, StoreError> {
        self.team_duplicates_with(by, &DuplicateConfig::default())
    }

    /// [`Store::team_duplicates`] with other thresholds.
    pub fn team_duplicates_with(
        &self,
        by: &Actor,
        cfg: &DuplicateConfig,
    ) -> Result<Vec<DuplicatePair>, StoreError> {
        let households = self.team_households(by)?;
        let probes: Vec<Probe> = households
            .iter()
            .map(|h| Probe {
                commune: h.commune.clone().unwrap_or_default(),
                village: h.village.clone(),
                head_name: h.head_name.clone(),
                location: h.location,
            })
            .collect();
        let matcher = Matcher::new(&probes, *cfg);
        let mut out = Vec::new();
        for (i, probe) in probes.iter().enumerate() {
            for (j, reasons) in matcher.matches(probe) {
                // Each pair once, and never a household with itself.
                if j <= i {
                    continue;
                }
                let (a, b) = (&households[i], &households[j]);
                out.push(DuplicatePair {
                    same_device: a.device_id == b.device_id,
                    first: a.clone(),
                    second: b.clone(),
                    reasons,
                });
            }
        }
        out.sort_by(|a, b| {
            b.reasons
                .name_similarity
                .total_cmp(&a.reasons.name_similarity)
                .then(a.first.code.cmp(&b.first.code))
                .then(a.second.code.cmp(&b.second.code))
        });
        Ok(out)
    }

    /// The team's households as its valid received records describe them, each merged
    /// household folded into the one it was merged into, in order of their first record.
    pub fn team_households(&self, by: &Actor) -> Result<Vec<TeamHousehold>, StoreError> {
        by.require(Permission::ReviewTeam)?;
        let merged = self.household_merges()?;
        let conn = self.reader()?;
        let mut stmt = conn.prepare(
            "SELECT r.record_id, r.device_id, r.commune, r.submission_enc,
                    NOT EXISTS (SELECT 1 FROM received_v n WHERE n.revision_of = r.record_id
                                AND n.state = 'valid')
             FROM received_v r
             WHERE r.state = 'valid' AND r.household_code IS NOT NULL
             ORDER BY r.finalized_at, r.record_id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, Option<Vec<u8>>>(3)?,
                r.get::<_, bool>(4)?,
            ))
        })?;
        // Household code -> (its entry, in first-record order).
        let mut order: Vec<String> = Vec::new();
        let mut by_code: BTreeMap<String, TeamHousehold> = BTreeMap::new();
        for row in rows {
            let (record_id, device_id, commune, sub, current) = row?;
            let Some(sub) = sub else { continue };
            let bytes = self.keys().column.decrypt("received", "submission", &record_id, &sub)?;
            let parts: SubmissionHousehold = json::from_slice("received submission", &bytes)?;
            let Some(code) = parts.household_code else { continue };
            let text = |k: &str| parts.data.get(k).and_then(Json::as_str).map(str::to_string);
            let location = parts.data.get("household_gps").and_then(|g| {
                let (lat, lon) = (g.get("lat")?.as_f64()?, g.get("lon")?.as_f64()?);
                Some(LatLon::new(lat, lon)).filter(|l| l.is_valid())
            });
            let commune = text("commune_code").filter(|c| c != "other").or(commune);
            let kept = merged.get(&code).cloned().unwrap_or_else(|| code.clone());
            let entry = by_code.entry(kept.clone()).or_insert_with(|| {
                order.push(kept.clone());
                TeamHousehold {
                    code: kept.clone(),
                    device_id: device_id.clone(),
                    commune: None,
                    village: String::new(),
                    head_name: String::new(),
                    location: None,
                    record_ids: Vec::new(),
                }
            });
            entry.record_ids.push(record_id);
            // The kept household's own latest current record describes it; a merged one's
            // records only add to its list.
            if code == kept && current {
                entry.device_id = device_id;
                if let Some(name) = text("head_name") {
                    entry.head_name = name;
                }
                if let Some(village) = text("village") {
                    entry.village = village;
                }
                entry.commune = commune.or(entry.commune.take());
                entry.location = location.or(entry.location);
            }
        }
        drop(stmt);
        drop(conn);
        Ok(order
            .into_iter()
            .filter_map(|c| by_code.remove(&c))
            // A household known only through merged records (or without a name) cannot be
            // compared; it still holds its records.
            .filter(|h| !h.head_name.trim().is_empty())
            .collect())
    }
}
