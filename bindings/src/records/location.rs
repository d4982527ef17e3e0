//! Records and enums of `safehome_core::location` (GPS fixes, quality flags, areas). The enums
//! that are the core's as they are cross as the core's own (`#[uniffi::remote(Enum)]`); records
//! whose shape changes are mirrored here with their conversions.

use std::collections::HashMap;

use safehome_core::location as loc;
use safehome_core::location::{FlagCode, LatLon, Placement, Provider};

/// The core's types under the names Kotlin and Swift know them by.
pub use safehome_core::location::{FlagCode as QualityFlagCode, Provider as FixProvider};

use super::count;

/// Where the platform says a fix came from.
#[uniffi::remote(Enum)]
#[uniffi(name = "FixProvider")]
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
    Unknown,
}

/// One GPS fix as the platform reports it (Android `Location`, iOS `CLLocation`).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct GpsFix {
    /// WGS84 degrees.
    pub lat: f64,
    pub lon: f64,
    /// Horizontal accuracy, metres (68% radius).
    pub accuracy_m: f64,
    /// The platform's time of the fix, ms since the epoch.
    pub time_ms: i64,
    pub provider: FixProvider,
    /// Metres above the WGS84 ellipsoid.
    #[uniffi(default)]
    pub altitude_m: Option<f64>,
    #[uniffi(default)]
    pub vertical_accuracy_m: Option<f64>,
    /// Degrees clockwise from true north, [0, 360).
    #[uniffi(default)]
    pub bearing_deg: Option<f64>,
    #[uniffi(default)]
    pub speed_mps: Option<f64>,
    /// Age when handed over, from the monotonic clock (Android: `elapsedRealtimeNanos`); better
    /// than `now - timeMs` when the wall clock is wrong.
    #[uniffi(default)]
    pub age_ms: Option<i64>,
    /// The platform reports a mock-location provider (Android `isMock`, iOS
    /// `isSimulatedBySoftware`).
    #[uniffi(default = false)]
    pub mock: bool,
}

impl From<GpsFix> for loc::Fix {
    fn from(f: GpsFix) -> Self {
        loc::Fix {
            lat: f.lat,
            lon: f.lon,
            altitude_m: f.altitude_m,
            accuracy_m: f.accuracy_m,
            vertical_accuracy_m: f.vertical_accuracy_m,
            bearing_deg: f.bearing_deg,
            speed_mps: f.speed_mps,
            provider: f.provider,
            time_ms: f.time_ms,
            age_ms: f.age_ms,
            mock: f.mock,
        }
    }
}

impl From<loc::Fix> for GpsFix {
    fn from(f: loc::Fix) -> Self {
        GpsFix {
            lat: f.lat,
            lon: f.lon,
            altitude_m: f.altitude_m,
            accuracy_m: f.accuracy_m,
            vertical_accuracy_m: f.vertical_accuracy_m,
            bearing_deg: f.bearing_deg,
            speed_mps: f.speed_mps,
            provider: f.provider,
            time_ms: f.time_ms,
            age_ms: f.age_ms,
            mock: f.mock,
        }
    }
}

/// A fix that passed validation.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ValidatedFix {
    pub fix: GpsFix,
    /// When the core received it (ms since the epoch).
    pub received_at_ms: i64,
    /// Its age then (ms).
    pub age_ms: i64,
}

impl From<loc::ValidFix> for ValidatedFix {
    fn from(v: loc::ValidFix) -> Self {
        ValidatedFix { fix: v.fix.into(), received_at_ms: v.received_ms, age_ms: v.age_ms }
    }
}

/// A fix accepted as a geopoint answer (`DraftSession.answerFix`).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct AcceptedFix {
    pub fix: GpsFix,
    pub received_at_ms: i64,
    pub age_ms: i64,
    /// Accepted over the question's warning accuracy with the volunteer's confirmation.
    pub over_warning: bool,
    /// The question's warning accuracy (m), if it has one.
    pub warning_m: Option<f64>,
}

impl From<loc::AcceptedFix> for AcceptedFix {
    fn from(a: loc::AcceptedFix) -> Self {
        AcceptedFix {
            fix: a.fix.fix.into(),
            received_at_ms: a.fix.received_ms,
            age_ms: a.fix.age_ms,
            over_warning: a.over_warning,
            warning_m: a.warning_m,
        }
    }
}

impl From<AcceptedFix> for loc::AcceptedFix {
    fn from(a: AcceptedFix) -> Self {
        loc::AcceptedFix {
            fix: loc::ValidFix {
                fix: a.fix.into(),
                received_ms: a.received_at_ms,
                age_ms: a.age_ms,
            },
            over_warning: a.over_warning,
            warning_m: a.warning_m,
        }
    }
}

/// What a location quality flag is about.
#[uniffi::remote(Enum)]
#[uniffi(name = "QualityFlagCode")]
pub enum FlagCode {
    LowAccuracy,
    AcceptedOverWarning,
    MockProvider,
    StaleFix,
    OutsideArea,
    FarFromHousehold,
    ImpossibleTravel,
    PhotoFarFromFix,
    PhotoTimeFar,
}

/// A warning for the supervisor about where or when a visit was recorded. Not a refusal.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct QualityFlag {
    pub code: QualityFlagCode,
    pub reason_vi: String,
    pub reason_en: String,
    /// The measured values and the thresholds they were compared with, by name.
    pub numbers: HashMap<String, f64>,
    /// What the flag is about when not the visit itself (a photo's id).
    pub subject: Option<String>,
}

impl From<loc::QualityFlag> for QualityFlag {
    fn from(f: loc::QualityFlag) -> Self {
        QualityFlag {
            code: f.code,
            reason_vi: f.reason_vi,
            reason_en: f.reason_en,
            numbers: f.numbers.into_iter().collect(),
            subject: f.subject,
        }
    }
}

/// A household's registered location, for the far-from-household check.
#[derive(Debug, Clone, Copy, PartialEq, uniffi::Record)]
pub struct RegisteredLocation {
    pub lat: f64,
    pub lon: f64,
    #[uniffi(default)]
    pub accuracy_m: Option<f64>,
}

impl From<RegisteredLocation> for loc::RegisteredLocation {
    fn from(r: RegisteredLocation) -> Self {
        loc::RegisteredLocation { location: LatLon::new(r.lat, r.lon), accuracy_m: r.accuracy_m }
    }
}

/// The volunteer's previous visit (to any household), for the travel-speed check.
#[derive(Debug, Clone, Copy, PartialEq, uniffi::Record)]
pub struct PreviousVisit {
    pub lat: f64,
    pub lon: f64,
    pub accuracy_m: f64,
    pub time_ms: i64,
}

impl From<PreviousVisit> for loc::PreviousVisit {
    fn from(p: PreviousVisit) -> Self {
        loc::PreviousVisit {
            location: LatLon::new(p.lat, p.lon),
            accuracy_m: p.accuracy_m,
            time_ms: p.time_ms,
        }
    }
}

/// Where and when a photo says it was taken (UTC), for the photo checks.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct PhotoLocation {
    pub id: String,
    #[uniffi(default)]
    pub lat: Option<f64>,
    #[uniffi(default)]
    pub lon: Option<f64>,
    #[uniffi(default)]
    pub time_ms: Option<i64>,
}

impl From<PhotoLocation> for loc::PhotoLocation {
    fn from(p: PhotoLocation) -> Self {
        loc::PhotoLocation {
            id: p.id,
            location: p.lat.zip(p.lon).map(|(lat, lon)| LatLon::new(lat, lon)),
            time_ms: p.time_ms,
        }
    }
}

/// Everything the location quality flags look at for one visit (`locationQualityFlags`).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct VisitLocationInput {
    pub fix: AcceptedFix,
    pub visit_start_ms: i64,
    pub visit_end_ms: i64,
    /// The code of the assigned area the visit should be in (needs the areas argument).
    #[uniffi(default)]
    pub assigned_area_code: Option<String>,
    #[uniffi(default)]
    pub household: Option<RegisteredLocation>,
    #[uniffi(default)]
    pub previous_visit: Option<PreviousVisit>,
    #[uniffi(default)]
    pub photos: Vec<PhotoLocation>,
}

/// One assigned area.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct AreaInfo {
    pub code: String,
    pub name: String,
    pub polygons: i32,
    pub positions: i64,
    pub min_lon: f64,
    pub min_lat: f64,
    pub max_lon: f64,
    pub max_lat: f64,
}

impl From<&loc::Area> for AreaInfo {
    fn from(a: &loc::Area) -> Self {
        let [min_lon, min_lat, max_lon, max_lat] = a.bbox();
        AreaInfo {
            code: a.code.clone(),
            name: a.name.clone(),
            polygons: count(a.polygon_count()),
            positions: i64::try_from(a.positions()).unwrap_or(i64::MAX),
            min_lon,
            min_lat,
            max_lon,
            max_lat,
        }
    }
}

/// Where a position is relative to the assigned areas.
#[derive(Debug, Clone, PartialEq, uniffi::Enum)]
pub enum AreaPlacement {
    /// In the area `code`; `onBoundary` when on its edge and strictly inside no area.
    Inside {
        code: String,
        name: String,
        on_boundary: bool,
    },
    /// In no area; the nearest one and the geodesic distance to it (m).
    Outside {
        nearest_code: String,
        nearest_name: String,
        distance_m: f64,
    },
    NoAreas,
    /// The position is not finite or out of range.
    InvalidPosition,
}

impl AreaPlacement {
    pub(crate) fn from_core(set: &loc::AreaSet, p: Placement) -> Self {
        let named =
            |i: usize| set.area(i).map(|a| (a.code.clone(), a.name.clone())).unwrap_or_default();
        match p {
            Placement::Inside { area, on_boundary } => {
                let (code, name) = named(area);
                AreaPlacement::Inside { code, name, on_boundary }
            }
            Placement::Outside { nearest, distance_m } => {
                let (nearest_code, nearest_name) = named(nearest);
                AreaPlacement::Outside { nearest_code, nearest_name, distance_m }
            }
            Placement::NoAreas => AreaPlacement::NoAreas,
            Placement::InvalidPosition => AreaPlacement::InvalidPosition,
        }
    }
}
