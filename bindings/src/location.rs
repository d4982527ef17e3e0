//! GPS fixes, location quality flags and assigned areas: the stable part of
//! `safehome_core::location`, delegated in one line each.

use std::sync::Arc;

use safehome_core::clock::SystemClock;
use safehome_core::location::{self as loc, AreaSet, FixLimits, ImportOptions, LatLon};

use crate::errors::ApiError;
use crate::logging::call;
use crate::records::{
    AreaInfo, AreaPlacement, GpsFix, QualityFlag, ValidatedFix, VisitLocationInput,
};

/// Check a fix from the platform against the core's limits (finite, in range, not 0/0, sane
/// accuracy, not stale, not in the future) on the system clock. `InvalidFix` names the reason
/// (`stale: fix is 420000 ms old ...`) and never repeats the coordinates.
#[uniffi::export]
pub fn validate_fix(fix: GpsFix) -> Result<ValidatedFix, ApiError> {
    call("location.validate_fix", || {
        Ok(loc::validate_fix(&fix.into(), &FixLimits::default(), &SystemClock::default())?.into())
    })
}

/// The location quality flags of a visit, for the supervisor: low accuracy, accepted over the
/// warning, mock provider, stale fix, outside the assigned area (needs `areas` and
/// `input.assignedAreaCode`), far from the household, impossible travel since the previous
/// visit, photos far from the fix in space or time. Flags are warnings, never refusals.
#[uniffi::export(default(areas = None))]
pub fn location_quality_flags(
    input: VisitLocationInput,
    areas: Option<Arc<AssignedAreas>>,
) -> Result<Vec<QualityFlag>, ApiError> {
    call("location.quality_flags", || {
        let assigned = match (&areas, &input.assigned_area_code) {
            (Some(a), Some(code)) => Some((a.set.as_ref(), code.as_str())),
            (None, Some(_)) => {
                return Err(ApiError::InvalidInput {
                    detail: "assignedAreaCode: needs the assigned areas".into(),
                });
            }
            _ => None,
        };
        let fix: loc::AcceptedFix = input.fix.into();
        let photos: Vec<loc::PhotoLocation> = input.photos.into_iter().map(Into::into).collect();
        let ctx = loc::VisitContext {
            fix: &fix,
            visit_start_ms: input.visit_start_ms,
            visit_end_ms: input.visit_end_ms,
            assigned,
            household: input.household.map(Into::into),
            previous_visit: input.previous_visit.map(Into::into),
            photos: &photos,
        };
        let flags = loc::quality_flags(&ctx, &loc::QualityConfig::default())
            .map_err(|e| ApiError::InvalidInput { detail: e.to_string() })?;
        Ok(flags.into_iter().map(Into::into).collect())
    })
}

/// The areas (communes, villages) volunteers are assigned to, indexed for point lookups.
/// Immutable; share one instance.
#[derive(Debug, uniffi::Object)]
pub struct AssignedAreas {
    pub(crate) set: Arc<AreaSet>,
}

#[uniffi::export]
impl AssignedAreas {
    /// Read a GeoJSON FeatureCollection of Polygon / MultiPolygon features with `code` and
    /// `name` properties. Every problem of every feature is reported (`InvalidAreas`), each
    /// naming the feature by position and code.
    #[uniffi::constructor]
    pub fn from_geojson(geojson: String) -> Result<Arc<Self>, ApiError> {
        call("areas.from_geojson", || {
            Ok(Arc::new(AssignedAreas {
                set: Arc::new(AreaSet::from_geojson(&geojson, &ImportOptions::default())?),
            }))
        })
    }

    /// The areas, in file order.
    pub fn areas(&self) -> Result<Vec<AreaInfo>, ApiError> {
        call("areas.areas", || Ok(self.set.areas().iter().map(AreaInfo::from).collect()))
    }

    /// Which area a position is in (edges belong to the area whose code sorts first), or the
    /// nearest one and the distance to it.
    pub fn locate(&self, lat: f64, lon: f64) -> Result<AreaPlacement, ApiError> {
        call("areas.locate", || {
            Ok(AreaPlacement::from_core(&self.set, self.set.locate(LatLon::new(lat, lon))))
        })
    }

    /// Geodesic distance (m) from a position to the area `code` (0 inside); `null` for an
    /// unknown code or an invalid position.
    pub fn distance_to(&self, lat: f64, lon: f64, code: String) -> Result<Option<f64>, ApiError> {
        call("areas.distance_to", || {
            Ok(self.set.find(&code).and_then(|i| self.set.distance_to(LatLon::new(lat, lon), i)))
        })
    }
}
