//! GPS fixes as the platform hands them over: validation, the XLSForm accuracy thresholds of a
//! geopoint question, and best-fix selection over a capture window.

use serde::{Deserialize, Serialize};

use super::geodesic::{LatLon, distance_m};
use crate::clock::Clock;

/// Where the platform says a fix came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// Satellite receiver (Android `gps`).
    Gps,
    /// Cell towers and Wi-Fi (Android `network`).
    Network,
    /// Google Play services' fused provider.
    Fused,
    /// Another app's request, passed on (Android `passive`).
    Passive,
    /// Not reported (iOS does not name providers).
    #[default]
    Unknown,
}

/// One fix, as the platform reports it. Times are milliseconds since the epoch (UTC).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fix {
    /// WGS84 latitude, degrees.
    pub lat: f64,
    /// WGS84 longitude, degrees.
    pub lon: f64,
    /// Altitude above the WGS84 ellipsoid, metres.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub altitude_m: Option<f64>,
    /// Horizontal accuracy, metres (68% radius, as Android and iOS report it).
    pub accuracy_m: f64,
    /// Vertical accuracy, metres.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vertical_accuracy_m: Option<f64>,
    /// Direction of travel, degrees clockwise from true north, [0, 360).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearing_deg: Option<f64>,
    /// Ground speed, metres per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speed_mps: Option<f64>,
    #[serde(default)]
    pub provider: Provider,
    /// The platform's time of the fix (Android `Location.getTime()`), ms since the epoch.
    pub time_ms: i64,
    /// Age of the fix when the platform handed it over, from the monotonic elapsed-realtime clock
    /// (Android: `elapsedRealtimeNanos()` now minus the fix's, in ms). Immune to wall-clock changes,
    /// so it is preferred to `now - time_ms` when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age_ms: Option<i64>,
    /// The platform says a mock-location provider produced this fix (Android
    /// `Location.isMock()`; iOS `sourceInformation.isSimulatedBySoftware`).
    #[serde(default)]
    pub mock: bool,
}

impl Fix {
    /// A fix with only the required fields set (provider unknown, no mock flag).
    pub fn new(lat: f64, lon: f64, accuracy_m: f64, time_ms: i64) -> Self {
        Fix {
            lat,
            lon,
            altitude_m: None,
            accuracy_m,
            vertical_accuracy_m: None,
            bearing_deg: None,
            speed_mps: None,
            provider: Provider::Unknown,
            time_ms,
            age_ms: None,
            mock: false,
        }
    }

    pub fn position(&self) -> LatLon {
        LatLon::new(self.lat, self.lon)
    }
}

/// Limits that make a fix unusable.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FixLimits {
    /// Horizontal or vertical accuracy above this is absurd (metres).
    pub max_accuracy_m: f64,
    /// A fix older than this when handed over is refused (ms).
    pub max_age_ms: i64,
    /// A fix time this far ahead of the clock is refused (ms): the phone's clock or the fix is wrong.
    pub max_future_ms: i64,
    /// Ground speed above this is absurd (m/s).
    pub max_speed_mps: f64,
}

impl Default for FixLimits {
    fn default() -> Self {
        FixLimits {
            max_accuracy_m: 10_000.0,
            max_age_ms: 5 * 60_000,
            max_future_ms: 60_000,
            max_speed_mps: 150.0,
        }
    }
}

/// Why a fix is refused. Coordinates are not echoed: they locate a child's home.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FixError {
    #[error("{field} is not a finite number")]
    NotFinite { field: &'static str },
    #[error("{field} {value} is outside [{min}, {max}]")]
    OutOfRange { field: &'static str, value: f64, min: f64, max: f64 },
    #[error("latitude and longitude are both 0 (a receiver that has no fix yet)")]
    NullIsland,
    #[error("{field} {value} m must be greater than 0")]
    AccuracyNotPositive { field: &'static str, value: f64 },
    #[error("{field} {value} m is absurd (more than {max} m)")]
    AccuracyAbsurd { field: &'static str, value: f64, max: f64 },
    #[error("fix time is {ahead_ms} ms ahead of the clock (tolerance {tolerance_ms} ms)")]
    InFuture { ahead_ms: i64, tolerance_ms: i64 },
    #[error("fix is {age_ms} ms old (limit {max_age_ms} ms)")]
    Stale { age_ms: i64, max_age_ms: i64 },
}

impl FixError {
    /// A stable code for the apps and logs.
    pub fn code(&self) -> &'static str {
        match self {
            FixError::NotFinite { .. } => "not_finite",
            FixError::OutOfRange { .. } => "out_of_range",
            FixError::NullIsland => "null_island",
            FixError::AccuracyNotPositive { .. } => "accuracy_not_positive",
            FixError::AccuracyAbsurd { .. } => "accuracy_absurd",
            FixError::InFuture { .. } => "in_future",
            FixError::Stale { .. } => "stale",
        }
    }
}

/// A fix that passed validation, with when the core received it and its age then.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidFix {
    pub fix: Fix,
    /// The injected clock's time at validation, ms.
    pub received_ms: i64,
    /// Age of the fix at validation, ms (from `age_ms` when the platform gave it).
    pub age_ms: i64,
}

impl ValidFix {
    pub fn position(&self) -> LatLon {
        self.fix.position()
    }
}

fn finite(field: &'static str, v: f64) -> Result<(), FixError> {
    if v.is_finite() { Ok(()) } else { Err(FixError::NotFinite { field }) }
}

fn in_range(field: &'static str, value: f64, min: f64, max: f64) -> Result<(), FixError> {
    finite(field, value)?;
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(FixError::OutOfRange { field, value, min, max })
    }
}

fn accuracy(field: &'static str, value: f64, max: f64) -> Result<(), FixError> {
    finite(field, value)?;
    if value <= 0.0 {
        Err(FixError::AccuracyNotPositive { field, value })
    } else if value > max {
        Err(FixError::AccuracyAbsurd { field, value, max })
    } else {
        Ok(())
    }
}

/// Check a fix against `limits` and the injected clock.
pub fn validate_fix(
    fix: &Fix,
    limits: &FixLimits,
    clock: &dyn Clock,
) -> Result<ValidFix, FixError> {
    in_range("latitude", fix.lat, -90.0, 90.0)?;
    in_range("longitude", fix.lon, -180.0, 180.0)?;
    if fix.lat == 0.0 && fix.lon == 0.0 {
        return Err(FixError::NullIsland);
    }
    accuracy("accuracy", fix.accuracy_m, limits.max_accuracy_m)?;
    if let Some(v) = fix.vertical_accuracy_m {
        accuracy("vertical accuracy", v, limits.max_accuracy_m)?;
    }
    if let Some(a) = fix.altitude_m {
        // Dead Sea shore to well above Everest: anything outside is a broken receiver.
        in_range("altitude", a, -1_000.0, 10_000.0)?;
    }
    if let Some(b) = fix.bearing_deg {
        in_range("bearing", b, 0.0, 360.0)?;
    }
    if let Some(s) = fix.speed_mps {
        in_range("speed", s, 0.0, limits.max_speed_mps)?;
    }
    let now = clock.now_ms();
    let ahead = fix.time_ms.saturating_sub(now);
    if ahead > limits.max_future_ms {
        return Err(FixError::InFuture { ahead_ms: ahead, tolerance_ms: limits.max_future_ms });
    }
    let age = match fix.age_ms {
        Some(a) if a < 0 => {
            return Err(FixError::OutOfRange {
                field: "age",
                value: a as f64,
                min: 0.0,
                max: limits.max_age_ms as f64,
            });
        }
        Some(a) => a,
        None => now.saturating_sub(fix.time_ms).max(0),
    };
    if age > limits.max_age_ms {
        return Err(FixError::Stale { age_ms: age, max_age_ms: limits.max_age_ms });
    }
    Ok(ValidFix { fix: fix.clone(), received_ms: now, age_ms: age })
}

// ----- accuracy thresholds ------------------------------------------------------------------------

/// A geopoint question's thresholds, as XLSForm's `capture-accuracy` and `warning-accuracy`
/// parameters define them.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct AccuracyThresholds {
    /// A fix at or under this accuracy (m) is accepted automatically, ending the capture.
    pub capture_m: Option<f64>,
    /// A fix over this accuracy (m) is accepted only with the volunteer's explicit confirmation.
    pub warning_m: Option<f64>,
}

/// What the app may do with a fix of some accuracy.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum AccuracyDecision {
    /// At or under `capture_m`: take it without asking.
    AcceptAutomatically,
    /// Between the thresholds (or no capture threshold): the volunteer may accept it.
    AcceptOnRequest,
    /// Over `warning_m`: only with an explicit confirmation.
    NeedsConfirmation { accuracy_m: f64, warning_m: f64 },
}

// `AccuracyThresholds::from_field` (the thresholds of a geopoint field of the form model) is
// defined in `store::fixes`, the layer that knows both forms and locations: `location` does not
// depend on `form`.
impl AccuracyThresholds {
    pub fn decide(&self, accuracy_m: f64) -> AccuracyDecision {
        if let Some(w) = self.warning_m {
            if accuracy_m > w {
                return AccuracyDecision::NeedsConfirmation { accuracy_m, warning_m: w };
            }
        }
        match self.capture_m {
            Some(c) if accuracy_m <= c => AccuracyDecision::AcceptAutomatically,
            _ => AccuracyDecision::AcceptOnRequest,
        }
    }

    /// Accept a valid fix, with or without the volunteer's confirmation of low accuracy.
    pub fn accept(&self, fix: ValidFix, confirmed: bool) -> Result<AcceptedFix, AcceptError> {
        match self.decide(fix.fix.accuracy_m) {
            AccuracyDecision::NeedsConfirmation { accuracy_m, warning_m } if !confirmed => {
                Err(AcceptError::ConfirmationRequired { accuracy_m, warning_m })
            }
            AccuracyDecision::NeedsConfirmation { warning_m, .. } => {
                Ok(AcceptedFix { fix, over_warning: true, warning_m: Some(warning_m) })
            }
            _ => Ok(AcceptedFix { fix, over_warning: false, warning_m: self.warning_m }),
        }
    }
}

/// Why a fix cannot be accepted as the answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AcceptError {
    #[error("accuracy {accuracy_m} m is worse than {warning_m} m; the volunteer must confirm")]
    ConfirmationRequired { accuracy_m: f64, warning_m: f64 },
}

/// A fix accepted as a geopoint answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AcceptedFix {
    pub fix: ValidFix,
    /// Accepted over the warning threshold with the volunteer's confirmation.
    pub over_warning: bool,
    /// The question's warning threshold, if it has one.
    pub warning_m: Option<f64>,
}

// ----- best-fix selection ------------------------------------------------------------------------

/// How to choose one fix from the many a capture window delivers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BestFixConfig {
    /// Only fixes at most this old (ms, at selection time) are candidates.
    pub window_ms: i64,
    /// Average when at least this many stable fixes agree (otherwise take the best one).
    pub min_stable: usize,
    /// A fix is stable when its accuracy is within this factor of the best one and it lies
    /// within the sum of both accuracies of the best fix.
    pub stable_accuracy_factor: f64,
    /// Average at most this many of the youngest stable fixes.
    pub max_averaged: usize,
}

impl Default for BestFixConfig {
    fn default() -> Self {
        BestFixConfig {
            window_ms: 30_000,
            min_stable: 3,
            stable_accuracy_factor: 1.5,
            max_averaged: 60,
        }
    }
}

/// The chosen fix and how it was chosen.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BestFix {
    /// The chosen (or averaged) fix. Its `mock` is true when any candidate was mock.
    pub fix: ValidFix,
    /// Number of fixes averaged (1 when a single fix was taken).
    pub averaged_from: usize,
    /// Valid fixes inside the window.
    pub candidates: usize,
    /// Fixes refused by validation.
    pub rejected: usize,
    /// Root-mean-square distance (m) of the averaged fixes from the result (0 for one fix).
    pub spread_m: f64,
}

/// No fix in the window is usable.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BestFixError {
    #[error("no fixes were delivered")]
    NoFixes,
    #[error("none of {delivered} fixes is usable ({rejected} refused, the rest too old)")]
    NoUsableFix { delivered: usize, rejected: usize, first_error: Option<FixError> },
}

/// Choose the best fix among those delivered during a capture: the most accurate recent fix, or,
/// when at least `min_stable` recent fixes agree with it, their inverse-variance weighted mean.
///
/// Stable means: accuracy within `stable_accuracy_factor` of the best, and position within the sum
/// of both accuracies of the best fix. The averaged fix keeps the best fix's accuracy (GPS errors
/// are strongly correlated over a few seconds, so averaging smooths jitter but does not earn a
/// smaller error claim), the newest time, the smallest age. Mock taints: if any valid candidate was
/// mock, the result is mock.
pub fn select_best_fix(
    fixes: &[Fix],
    limits: &FixLimits,
    cfg: &BestFixConfig,
    clock: &dyn Clock,
) -> Result<BestFix, BestFixError> {
    if fixes.is_empty() {
        return Err(BestFixError::NoFixes);
    }
    let mut rejected = 0;
    let mut first_error = None;
    let mut cands: Vec<ValidFix> = Vec::new();
    for f in fixes {
        match validate_fix(f, limits, clock) {
            Ok(v) if v.age_ms <= cfg.window_ms => cands.push(v),
            Ok(_) => {}
            Err(e) => {
                rejected += 1;
                first_error.get_or_insert(e);
            }
        }
    }
    let any_mock = cands.iter().any(|c| c.fix.mock);
    // Most accurate; ties to the youngest, then to the later in delivery order.
    let best_i = (0..cands.len()).min_by(|&i, &j| {
        let (a, b) = (&cands[i], &cands[j]);
        a.fix.accuracy_m.total_cmp(&b.fix.accuracy_m).then(a.age_ms.cmp(&b.age_ms)).then(j.cmp(&i))
    });
    let Some(best_i) = best_i else {
        return Err(BestFixError::NoUsableFix { delivered: fixes.len(), rejected, first_error });
    };
    let best = cands[best_i].clone();
    let bp = best.position();
    let mut stable: Vec<&ValidFix> = cands
        .iter()
        .filter(|c| {
            c.fix.accuracy_m <= best.fix.accuracy_m * cfg.stable_accuracy_factor
                && distance_m(bp, c.position()) <= best.fix.accuracy_m + c.fix.accuracy_m
        })
        .collect();
    let candidates = cands.len();
    if stable.len() < cfg.min_stable.max(2) {
        let mut fix = best;
        fix.fix.mock = any_mock;
        return Ok(BestFix { fix, averaged_from: 1, candidates, rejected, spread_m: 0.0 });
    }
    // Keep the youngest `max_averaged`.
    stable.sort_by_key(|c| c.age_ms);
    stable.truncate(cfg.max_averaged.max(2));
    let (mut sw, mut slat, mut slon) = (0.0, 0.0, 0.0);
    let (mut aw, mut salt) = (0.0, 0.0);
    for c in &stable {
        let w = 1.0 / (c.fix.accuracy_m * c.fix.accuracy_m);
        sw += w;
        slat += w * c.fix.lat;
        slon += w * c.fix.lon;
        if let Some(a) = c.fix.altitude_m {
            let va = c.fix.vertical_accuracy_m.unwrap_or(c.fix.accuracy_m);
            let wa = 1.0 / (va * va);
            aw += wa;
            salt += wa * a;
        }
    }
    let mean = LatLon::new(slat / sw, slon / sw);
    let spread = (stable.iter().map(|c| distance_m(mean, c.position()).powi(2)).sum::<f64>()
        / stable.len() as f64)
        .sqrt();
    let newest = stable.iter().map(|c| c.fix.time_ms).max().unwrap_or(best.fix.time_ms);
    let youngest = stable.iter().map(|c| c.age_ms).min().unwrap_or(best.age_ms);
    let mut fix = best.fix.clone();
    fix.lat = mean.lat;
    fix.lon = mean.lon;
    fix.altitude_m = if aw > 0.0 { Some(salt / aw) } else { None };
    fix.time_ms = newest;
    fix.age_ms = Some(youngest);
    fix.mock = any_mock;
    // Bearing and speed describe motion of one instant; an average of a standing capture has none.
    fix.bearing_deg = None;
    fix.speed_mps = None;
    Ok(BestFix {
        fix: ValidFix { fix, received_ms: best.received_ms, age_ms: youngest },
        averaged_from: stable.len(),
        candidates,
        rejected,
        spread_m: spread,
    })
}
