//! GPS fixes, assigned areas, households in space, location quality flags and GeoJSON export.
//!
//! Pure computation: no storage, no I/O, no system clock (time comes from an injected
//! [`Clock`](crate::clock::Clock)). See `docs/location.md` for the rules and thresholds.
//!
//! - [`fix`]: the fix record, validation with typed errors, XLSForm accuracy thresholds,
//!   best-fix selection over a capture window.
//! - [`areas`]: assigned areas from GeoJSON, validation naming the feature, point-in-area with an
//!   R-tree, nearest area and distance, the boundary rule.
//! - [`households`]: k-nearest and within-radius households, duplicate detection with Vietnamese
//!   names folded, the revisit check.
//! - [`quality`]: flags for supervisors (code, reason in vi and en, the numbers).
//! - [`export`]: households and visits as GeoJSON, optionally with reduced precision.
//! - [`geodesic`]: WGS84 geodesic distances (Karney) and pruning bounds.
//! - [`names`]: folding and comparing Vietnamese names.

pub mod areas;
pub mod export;
pub mod fix;
// The fuzz targets' bodies are for fuzz/ and the proptests only: not part of an app build.
#[cfg(feature = "test-hooks")]
pub mod fuzzing;
pub mod geodesic;
pub mod households;
pub mod names;
mod pip;
pub mod points_csv;
pub mod quality;

pub use areas::{
    Area, AreaError, AreaErrorKind, AreaInput, AreaSet, AreasError, BOUNDARY_EPSILON_DEG, Bounds,
    ImportOptions, Placement, Validation,
};
pub use export::{ExportError, ExportOptions, HouseholdFeature, VisitFeature, export_geojson};
pub use fix::{
    AcceptError, AcceptedFix, AccuracyDecision, AccuracyThresholds, BestFix, BestFixConfig,
    BestFixError, Fix, FixError, FixLimits, Provider, ValidFix, select_best_fix, validate_fix,
};
pub use geodesic::{LatLon, distance_m};
pub use households::{
    DuplicateCandidate, DuplicateConfig, Household, HouseholdError, HouseholdIndex, Neighbor,
    RevisitCheck, revisit_check,
};
pub use quality::{
    FlagCode, PhotoLocation, PreviousVisit, QualityConfig, QualityError, QualityFlag,
    RegisteredLocation, SkipReason, SkippedCheck, VisitContext, quality_flags,
    skipped_photo_checks,
};
