//! Location quality flags for supervisors. Each flag has a stable code, a reason in Vietnamese and
//! English, and the numbers behind it, so that a supervisor can judge it rather than trust it.
//!
//! Flags are warnings, not refusals: a visit with flags is still recorded. Thresholds are in
//! [`QualityConfig`]; every rule gives the volunteer the benefit of the reported accuracy (a fix is
//! only "outside" or "far" when it is so by more than its accuracy).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::areas::AreaSet;
use super::fix::AcceptedFix;
use super::geodesic::{LatLon, distance_m};
use super::households::revisit_check;

/// What a flag is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
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

impl FlagCode {
    pub const ALL: [FlagCode; 9] = [
        FlagCode::LowAccuracy,
        FlagCode::AcceptedOverWarning,
        FlagCode::MockProvider,
        FlagCode::StaleFix,
        FlagCode::OutsideArea,
        FlagCode::FarFromHousehold,
        FlagCode::ImpossibleTravel,
        FlagCode::PhotoFarFromFix,
        FlagCode::PhotoTimeFar,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FlagCode::LowAccuracy => "low_accuracy",
            FlagCode::AcceptedOverWarning => "accepted_over_warning",
            FlagCode::MockProvider => "mock_provider",
            FlagCode::StaleFix => "stale_fix",
            FlagCode::OutsideArea => "outside_area",
            FlagCode::FarFromHousehold => "far_from_household",
            FlagCode::ImpossibleTravel => "impossible_travel",
            FlagCode::PhotoFarFromFix => "photo_far_from_fix",
            FlagCode::PhotoTimeFar => "photo_time_far",
        }
    }
}

/// One quality flag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QualityFlag {
    pub code: FlagCode,
    pub reason_vi: String,
    pub reason_en: String,
    /// The measured values and the thresholds they were compared with.
    pub numbers: BTreeMap<String, f64>,
    /// What the flag is about when it is not the visit itself (a photo's id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
}

/// A check that was not run for a visit, and why. With the flags, it tells "checked, nothing to
/// flag" from "not checked": a visit with no `outside_area` flag was inside its area only if
/// `outside_area` is not among its skipped checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedCheck {
    /// The check, named by the flag it would have raised.
    pub check: FlagCode,
    pub reason: SkipReason,
    /// What the check is about when it is not the visit itself (a photo's id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
}

impl SkippedCheck {
    pub fn new(check: FlagCode, reason: SkipReason) -> SkippedCheck {
        SkippedCheck { check, reason, subject: None }
    }
}

/// Why a check was not run. Stable snake_case codes (in `docs/location.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// The device has no assigned areas.
    NoAssignedAreas,
    /// The device's stored assigned areas could not be read (damaged or altered).
    AreasUnreadable,
    /// The household's commune is not one of the assigned areas.
    CommuneNotInAreas,
    /// The record is not about a registered household (an incident).
    NoHousehold,
    /// The household has no registered location.
    HouseholdHasNoLocation,
    /// The volunteer has no earlier finalized record with a fix.
    NoPreviousFix,
    /// The previous record's fix could not be read (damaged or altered).
    PreviousFixUnreadable,
    /// The photo's EXIF gave no usable position.
    PhotoHasNoPosition,
    /// The photo's EXIF gave no time.
    PhotoHasNoTime,
    /// The photos' stored EXIF positions and times could not be read (damaged or altered).
    PhotoLocationsUnreadable,
}

impl SkipReason {
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::NoAssignedAreas => "no_assigned_areas",
            SkipReason::AreasUnreadable => "areas_unreadable",
            SkipReason::CommuneNotInAreas => "commune_not_in_areas",
            SkipReason::NoHousehold => "no_household",
            SkipReason::HouseholdHasNoLocation => "household_has_no_location",
            SkipReason::NoPreviousFix => "no_previous_fix",
            SkipReason::PreviousFixUnreadable => "previous_fix_unreadable",
            SkipReason::PhotoHasNoPosition => "photo_has_no_position",
            SkipReason::PhotoHasNoTime => "photo_has_no_time",
            SkipReason::PhotoLocationsUnreadable => "photo_locations_unreadable",
        }
    }
}

/// The photo checks [`quality_flags`] cannot run: a photo without a usable EXIF position is not
/// compared with the fix, one without an EXIF time not with the visit's time.
pub fn skipped_photo_checks(photos: &[PhotoLocation]) -> Vec<SkippedCheck> {
    let skip = |check, reason, photo: &PhotoLocation| SkippedCheck {
        check,
        reason,
        subject: Some(photo.id.clone()),
    };
    let mut out = Vec::new();
    for photo in photos {
        // The same test as the flag's: a position out of range says nothing.
        if !photo.location.is_some_and(|l| l.is_valid()) {
            out.push(skip(FlagCode::PhotoFarFromFix, SkipReason::PhotoHasNoPosition, photo));
        }
    }
    for photo in photos {
        if photo.time_ms.is_none() {
            out.push(skip(FlagCode::PhotoTimeFar, SkipReason::PhotoHasNoTime, photo));
        }
    }
    out
}

/// Thresholds for the flags.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QualityConfig {
    /// Accuracy worse than this (m) is low.
    pub low_accuracy_m: f64,
    /// A fix older than this (ms) when received is stale.
    pub stale_after_ms: i64,
    /// A fix is outside its assigned area when the distance to it exceeds its accuracy plus this (m).
    pub outside_area_margin_m: f64,
    /// A revisit is far from the household beyond this (m) plus both accuracies.
    pub far_from_household_m: f64,
    /// Travel between consecutive visits faster than this (km/h) is impossible (motorbike on
    /// rural roads, with a margin).
    pub max_travel_speed_kmh: f64,
    /// A photo's EXIF position farther than this (m) plus the fix's accuracy is far.
    pub photo_max_distance_m: f64,
    /// A photo taken more than this (ms) before the visit started or after it ended is far in time.
    pub photo_max_time_gap_ms: i64,
}

impl Default for QualityConfig {
    fn default() -> Self {
        QualityConfig {
            low_accuracy_m: 30.0,
            stale_after_ms: 60_000,
            outside_area_margin_m: 0.0,
            far_from_household_m: 100.0,
            max_travel_speed_kmh: 100.0,
            photo_max_distance_m: 200.0,
            photo_max_time_gap_ms: 30 * 60_000,
        }
    }
}

/// The volunteer's previous visit (to any household), for the travel-speed check.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PreviousVisit {
    pub location: LatLon,
    pub accuracy_m: f64,
    /// Time of that visit's fix, ms.
    pub time_ms: i64,
}

/// A household's registered location, for the revisit check.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RegisteredLocation {
    pub location: LatLon,
    pub accuracy_m: Option<f64>,
}

/// What the evidence pipeline read from a photo's EXIF. `time_ms` must already be UTC (EXIF
/// DateTimeOriginal has no zone; the evidence module applies the device's offset).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhotoLocation {
    pub id: String,
    pub location: Option<LatLon>,
    pub time_ms: Option<i64>,
}

/// Everything the flags look at for one visit.
#[derive(Debug, Clone)]
pub struct VisitContext<'a> {
    pub fix: &'a AcceptedFix,
    pub visit_start_ms: i64,
    pub visit_end_ms: i64,
    /// The volunteer's assigned areas and the code of the one this visit should be in.
    pub assigned: Option<(&'a AreaSet, &'a str)>,
    pub household: Option<RegisteredLocation>,
    pub previous_visit: Option<PreviousVisit>,
    pub photos: &'a [PhotoLocation],
}

/// The flags cannot be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QualityError {
    #[error("assigned area `{0}` is not in the area set")]
    UnknownArea(String),
}

/// A distance for a reason: metres up to 10 km, then kilometres (the numbers keep metres).
fn metres(d: f64) -> String {
    if d < 10_000.0 { format!("{d:.0} m") } else { format!("{:.0} km", d / 1000.0) }
}

/// A time gap in minutes for a reason, in minutes, hours or days as it grows: (vi, en).
fn gap_text(minutes: f64) -> (String, String) {
    if minutes < 120.0 {
        (format!("{minutes:.0} phút"), format!("{minutes:.0} min"))
    } else if minutes < 2_880.0 {
        let h = minutes / 60.0;
        (format!("{h:.0} giờ"), format!("{h:.0} h"))
    } else {
        let d = minutes / 1_440.0;
        (format!("{d:.0} ngày"), format!("{d:.0} days"))
    }
}

fn flag(code: FlagCode, vi: String, en: String, numbers: &[(&'static str, f64)]) -> QualityFlag {
    QualityFlag {
        code,
        reason_vi: vi,
        reason_en: en,
        numbers: numbers.iter().map(|(k, v)| ((*k).to_string(), *v)).collect(),
        subject: None,
    }
}

/// Compute every flag that applies to a visit, in the order of [`FlagCode::ALL`].
pub fn quality_flags(
    ctx: &VisitContext<'_>,
    cfg: &QualityConfig,
) -> Result<Vec<QualityFlag>, QualityError> {
    let mut out = Vec::new();
    let v = &ctx.fix.fix;
    let f = &v.fix;
    let acc = f.accuracy_m;
    let here = v.position();

    if acc > cfg.low_accuracy_m {
        out.push(flag(
            FlagCode::LowAccuracy,
            format!("Độ chính xác GPS {acc:.0} m kém hơn ngưỡng {:.0} m.", cfg.low_accuracy_m),
            format!("GPS accuracy {acc:.0} m is worse than {:.0} m.", cfg.low_accuracy_m),
            &[("accuracy_m", acc), ("threshold_m", cfg.low_accuracy_m)],
        ));
    }
    if ctx.fix.over_warning {
        let w = ctx.fix.warning_m.unwrap_or(0.0);
        out.push(flag(
            FlagCode::AcceptedOverWarning,
            format!(
                "Cộng tác viên đã xác nhận vị trí có độ chính xác {acc:.0} m, kém hơn ngưỡng cảnh báo {w:.0} m."
            ),
            format!("The volunteer confirmed a position with accuracy {acc:.0} m, worse than the warning threshold {w:.0} m."),
            &[("accuracy_m", acc), ("warning_m", w)],
        ));
    }
    if f.mock {
        out.push(flag(
            FlagCode::MockProvider,
            "Điện thoại báo vị trí này đến từ ứng dụng giả lập vị trí (GPS giả).".into(),
            "The phone reported this position as coming from a mock-location (fake GPS) provider."
                .into(),
            &[("mock", 1.0)],
        ));
    }
    if v.age_ms > cfg.stale_after_ms {
        let (age, lim) = (v.age_ms as f64 / 1000.0, cfg.stale_after_ms as f64 / 1000.0);
        out.push(flag(
            FlagCode::StaleFix,
            format!("Vị trí GPS đã cũ {age:.0} giây khi được ghi nhận (giới hạn {lim:.0} giây)."),
            format!("The GPS fix was {age:.0} s old when recorded (limit {lim:.0} s)."),
            &[("age_s", age), ("limit_s", lim)],
        ));
    }
    if let Some((areas, code)) = ctx.assigned {
        let i = areas.find(code).ok_or_else(|| QualityError::UnknownArea(code.to_string()))?;
        let d = areas.distance_to(here, i).unwrap_or(0.0);
        let allowed = acc + cfg.outside_area_margin_m;
        if d > allowed {
            out.push(flag(
                FlagCode::OutsideArea,
                format!("Vị trí nằm ngoài địa bàn được phân công {code}, cách {} (độ chính xác {acc:.0} m).", metres(d)),
                format!("The position is outside the assigned area {code}, {} away (accuracy {acc:.0} m).", metres(d)),
                &[("distance_m", d), ("accuracy_m", acc), ("margin_m", cfg.outside_area_margin_m)],
            ));
        }
    }
    if let Some(h) = ctx.household {
        let r = revisit_check(here, acc, h.location, h.accuracy_m, cfg.far_from_household_m);
        if r.far {
            out.push(flag(
                FlagCode::FarFromHousehold,
                format!(
                    "Vị trí cách vị trí đã đăng ký của hộ gia đình {} (cho phép {:.0} m).",
                    metres(r.distance_m),
                    r.allowed_m
                ),
                format!(
                    "The position is {} from the household's registered location ({:.0} m allowed).",
                    metres(r.distance_m),
                    r.allowed_m
                ),
                &[
                    ("distance_m", r.distance_m),
                    ("allowed_m", r.allowed_m),
                    ("threshold_m", cfg.far_from_household_m),
                ],
            ));
        }
    }
    if let Some(prev) = ctx.previous_visit {
        let d = distance_m(prev.location, here);
        let effective = (d - prev.accuracy_m.max(0.0) - acc).max(0.0);
        // Out-of-order or simultaneous times count as one second, so a jump still shows.
        let secs = ((f.time_ms - prev.time_ms).abs() as f64 / 1000.0).max(1.0);
        let kmh = effective / secs * 3.6;
        if kmh > cfg.max_travel_speed_kmh {
            let minutes = secs / 60.0;
            out.push(flag(
                FlagCode::ImpossibleTravel,
                format!(
                    "Từ lần thăm trước đã di chuyển {} trong {minutes:.1} phút ({kmh:.0} km/h), vượt quá {:.0} km/h.",
                    metres(d),
                    cfg.max_travel_speed_kmh
                ),
                format!(
                    "Moved {} in {minutes:.1} min since the previous visit ({kmh:.0} km/h), faster than {:.0} km/h.",
                    metres(d),
                    cfg.max_travel_speed_kmh
                ),
                &[
                    ("distance_m", d),
                    ("seconds", secs),
                    ("speed_kmh", kmh),
                    ("limit_kmh", cfg.max_travel_speed_kmh),
                ],
            ));
        }
    }
    for photo in ctx.photos {
        // A position out of range (broken EXIF) says nothing about where the photo was taken.
        if let Some(loc) = photo.location.filter(|l| l.is_valid()) {
            let d = distance_m(loc, here);
            let allowed = cfg.photo_max_distance_m + acc;
            if d > allowed {
                let mut fl = flag(
                    FlagCode::PhotoFarFromFix,
                    format!(
                        "Vị trí GPS trong ảnh cách vị trí lần thăm {} (cho phép {allowed:.0} m).",
                        metres(d)
                    ),
                    format!(
                        "The photo's GPS position is {} from the visit's position ({allowed:.0} m allowed).",
                        metres(d)
                    ),
                    &[
                        ("distance_m", d),
                        ("allowed_m", allowed),
                        ("threshold_m", cfg.photo_max_distance_m),
                    ],
                );
                fl.subject = Some(photo.id.clone());
                out.push(fl);
            }
        }
    }
    for photo in ctx.photos {
        if let Some(t) = photo.time_ms {
            let gap_ms = if t < ctx.visit_start_ms {
                ctx.visit_start_ms - t
            } else if t > ctx.visit_end_ms {
                t - ctx.visit_end_ms
            } else {
                0
            };
            if gap_ms > cfg.photo_max_time_gap_ms {
                let (gap, lim) =
                    (gap_ms as f64 / 60_000.0, cfg.photo_max_time_gap_ms as f64 / 60_000.0);
                let (gap_vi, gap_en) = gap_text(gap);
                let mut fl = flag(
                    FlagCode::PhotoTimeFar,
                    format!(
                        "Ảnh được chụp cách thời gian lần thăm {gap_vi} (cho phép {lim:.0} phút)."
                    ),
                    format!(
                        "The photo was taken {gap_en} outside the visit's time ({lim:.0} min allowed)."
                    ),
                    &[("gap_min", gap), ("limit_min", lim)],
                );
                fl.subject = Some(photo.id.clone());
                out.push(fl);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_use_units_a_reader_can_take_in() {
        assert_eq!(metres(9_999.4), "9999 m");
        assert_eq!(metres(8_695_024.0), "8695 km");
        assert_eq!(gap_text(45.0), ("45 phút".to_string(), "45 min".to_string()));
        assert_eq!(gap_text(180.0).1, "3 h");
        assert_eq!(gap_text(9_519_498.0), ("6611 ngày".to_string(), "6611 days".to_string()));
    }

    #[test]
    fn photo_checks_without_exif_data_are_skipped_by_photo() {
        let photo = |id: &str, location: Option<LatLon>, time_ms: Option<i64>| PhotoLocation {
            id: id.into(),
            location,
            time_ms,
        };
        let photos = [
            photo("whole", Some(LatLon::new(21.9, 105.6)), Some(1)),
            photo("bare", None, None),
            photo("broken", Some(LatLon::new(210.0, 105.6)), Some(1)),
        ];
        let skipped = skipped_photo_checks(&photos);
        let subjects: Vec<(&str, &str)> = skipped
            .iter()
            .map(|s| (s.check.as_str(), s.subject.as_deref().unwrap_or("")))
            .collect();
        assert_eq!(
            subjects,
            [
                ("photo_far_from_fix", "bare"),
                ("photo_far_from_fix", "broken"),
                ("photo_time_far", "bare")
            ]
        );
        assert!(skipped[..2].iter().all(|s| s.reason == SkipReason::PhotoHasNoPosition));
        assert_eq!(skipped[2].reason, SkipReason::PhotoHasNoTime);
    }

    #[test]
    fn skipped_checks_serialise_as_stable_codes() {
        let reasons = [
            SkipReason::NoAssignedAreas,
            SkipReason::AreasUnreadable,
            SkipReason::CommuneNotInAreas,
            SkipReason::NoHousehold,
            SkipReason::HouseholdHasNoLocation,
            SkipReason::NoPreviousFix,
            SkipReason::PreviousFixUnreadable,
            SkipReason::PhotoHasNoPosition,
            SkipReason::PhotoHasNoTime,
            SkipReason::PhotoLocationsUnreadable,
        ];
        for r in reasons {
            assert_eq!(serde_json::to_value(r).ok(), Some(serde_json::json!(r.as_str())));
        }
        let s = SkippedCheck::new(FlagCode::OutsideArea, SkipReason::NoAssignedAreas);
        assert_eq!(
            serde_json::to_string(&s).ok().as_deref(),
            Some(r#"{"check":"outside_area","reason":"no_assigned_areas"}"#)
        );
    }
}
