//! Records and enums of the store (profiles, households, records, attachments, outbox, team),
//! mirroring `safehome_core::store` field for field, with their conversions. Counts and sizes
//! cross as `i64` or `i32`, times as `i64` milliseconds since the epoch.

use safehome_core::form::risk;
use safehome_core::store::households as h;
use safehome_core::store::outbox as o;
use safehome_core::store::profiles as p;
use safehome_core::store::records as r;
use safehome_core::store::team as t;
use safehome_core::store::{self as core, Attachment};
use serde_json::Value as Json;

use super::{Assessment, QualityFlag, QualityFlagCode, RiskLevel, count};
use crate::errors::ApiError;

/// What a profile may do on this device (`docs/storage.md` has the permission table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Role {
    Volunteer,
    Supervisor,
    HealthWorker,
}

impl From<p::Role> for Role {
    fn from(r: p::Role) -> Self {
        match r {
            p::Role::Volunteer => Role::Volunteer,
            p::Role::Supervisor => Role::Supervisor,
            p::Role::HealthWorker => Role::HealthWorker,
        }
    }
}

impl From<Role> for p::Role {
    fn from(r: Role) -> Self {
        match r {
            Role::Volunteer => p::Role::Volunteer,
            Role::Supervisor => p::Role::Supervisor,
            Role::HealthWorker => p::Role::HealthWorker,
        }
    }
}

/// A profile on this device, for the profile picker (names are decrypted for it).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ProfileInfo {
    pub id: String,
    pub name: String,
    pub role: Role,
    /// Locked after too many wrong PINs: a supervisor must reset its PIN.
    pub locked: bool,
    /// Wrong PINs since the last successful unlock.
    pub failed_attempts: i32,
}

impl From<p::Profile> for ProfileInfo {
    fn from(x: p::Profile) -> Self {
        ProfileInfo {
            id: x.id,
            name: x.name,
            role: x.role.into(),
            locked: x.locked,
            failed_attempts: count(x.failed_attempts),
        }
    }
}

/// A household member on the roster.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HouseholdMember {
    pub name: String,
    #[uniffi(default)]
    pub birth_year: Option<i32>,
    #[uniffi(default)]
    pub sex: Option<String>,
    #[uniffi(default)]
    pub relation: Option<String>,
}

impl From<h::Member> for HouseholdMember {
    fn from(m: h::Member) -> Self {
        HouseholdMember { name: m.name, birth_year: m.birth_year, sex: m.sex, relation: m.relation }
    }
}

impl From<HouseholdMember> for h::Member {
    fn from(m: HouseholdMember) -> Self {
        h::Member { name: m.name, birth_year: m.birth_year, sex: m.sex, relation: m.relation }
    }
}

/// Where a household is found again (WGS84 degrees, accuracy in metres).
#[derive(Debug, Clone, Copy, PartialEq, uniffi::Record)]
pub struct HouseholdLocation {
    pub lat: f64,
    pub lon: f64,
    pub accuracy_m: f64,
}

impl From<h::Location> for HouseholdLocation {
    fn from(l: h::Location) -> Self {
        HouseholdLocation { lat: l.lat, lon: l.lon, accuracy_m: l.accuracy_m }
    }
}

impl From<HouseholdLocation> for h::Location {
    fn from(l: HouseholdLocation) -> Self {
        h::Location { lat: l.lat, lon: l.lon, accuracy_m: l.accuracy_m }
    }
}

/// What registering a household takes.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct NewHousehold {
    /// 5-digit GSO commune code (since July 2025).
    pub commune_code: String,
    pub village: String,
    #[uniffi(default)]
    pub address: Option<String>,
    pub head_name: String,
    #[uniffi(default)]
    pub members: Vec<HouseholdMember>,
    #[uniffi(default)]
    pub location: Option<HouseholdLocation>,
    /// The volunteer it is assigned to (supervisors only); default: whoever registers it.
    #[uniffi(default)]
    pub volunteer_id: Option<String>,
}

impl From<NewHousehold> for h::NewHousehold {
    fn from(n: NewHousehold) -> Self {
        h::NewHousehold {
            commune_code: n.commune_code,
            village: n.village,
            address: n.address,
            head_name: n.head_name,
            members: n.members.into_iter().map(Into::into).collect(),
            location: n.location.map(Into::into),
            volunteer_id: n.volunteer_id,
        }
    }
}

/// A registered household with its risk history.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Household {
    pub id: String,
    /// `CCCCC-DDDD-NNNN`: commune code, device, sequence. How people refer to it.
    pub code: String,
    pub commune_code: String,
    pub village: String,
    pub address: Option<String>,
    pub head_name: String,
    pub members: Vec<HouseholdMember>,
    pub location: Option<HouseholdLocation>,
    pub volunteer_id: String,
    pub created_at_ms: i64,
    /// Finalized assessments, oldest first.
    pub risk_history: Vec<RiskPoint>,
}

impl TryFrom<h::Household> for Household {
    type Error = ApiError;
    fn try_from(x: h::Household) -> Result<Self, ApiError> {
        Ok(Household {
            id: x.id,
            code: x.code,
            commune_code: x.commune_code,
            village: x.village,
            address: x.address,
            head_name: x.head_name,
            members: x.members.into_iter().map(Into::into).collect(),
            location: x.location.map(Into::into),
            volunteer_id: x.volunteer_id,
            created_at_ms: x.created_at_ms,
            risk_history: x
                .risk_history
                .into_iter()
                .map(|p| {
                    Ok(RiskPoint {
                        level: risk_level(&p.level)?,
                        record_id: p.record_id,
                        finalized_at_ms: p.finalized_at_ms,
                    })
                })
                .collect::<Result<_, ApiError>>()?,
        })
    }
}

/// One finalized assessment of a household.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RiskPoint {
    pub record_id: String,
    pub finalized_at_ms: i64,
    pub level: RiskLevel,
}

/// The least a health worker needs to link an incident to a household.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HouseholdRef {
    pub id: String,
    pub code: String,
}

impl From<h::HouseholdRef> for HouseholdRef {
    fn from(x: h::HouseholdRef) -> Self {
        HouseholdRef { id: x.id, code: x.code }
    }
}

/// A risk level stored as text (`low`, `medium`, `high`, `urgent`).
fn risk_level(s: &str) -> Result<RiskLevel, ApiError> {
    serde_json::from_value::<risk::Level>(Json::String(s.to_string())).map(RiskLevel::from).map_err(
        |_| ApiError::Corrupt { detail: "stored risk level is not one of the levels".into() },
    )
}

fn opt_level(s: Option<String>) -> Result<Option<RiskLevel>, ApiError> {
    s.as_deref().map(risk_level).transpose()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum RecordKind {
    /// A household visit (volunteers, supervisors).
    Visit,
    /// An injury incident (health workers, supervisors).
    Incident,
}

impl From<r::RecordKind> for RecordKind {
    fn from(k: r::RecordKind) -> Self {
        match k {
            r::RecordKind::Visit => RecordKind::Visit,
            r::RecordKind::Incident => RecordKind::Incident,
        }
    }
}

/// A record as its owner or a supervisor sees it. `state` is one of `draft`, `queued`,
/// `uploaded`, `acknowledged`, `returned`.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct RecordView {
    pub id: String,
    pub kind: RecordKind,
    pub household_id: Option<String>,
    pub child_ref: Option<String>,
    pub form_id: String,
    pub form_version: String,
    pub owner_id: String,
    pub state: String,
    pub revision: i64,
    pub revision_of: Option<String>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub finalized_at_ms: Option<i64>,
    pub risk_level: Option<RiskLevel>,
    pub due_at_ms: Option<i64>,
    /// The signed submission's answers (finalized records) or the draft's current output, as
    /// JSON; `null` once purged after acknowledgment.
    pub data_json: String,
    /// The assessment as JSON (the shape of `Assessment`), if the form scores risk.
    pub assessment_json: Option<String>,
    pub submission_sha256: Option<String>,
    pub signature: Option<String>,
    /// The supervisor's note when the record was returned.
    pub return_note: Option<String>,
    /// The location quality flags sealed at finalize (empty for drafts and for records whose
    /// geopoints were not answered with a platform fix).
    pub quality_flags: Vec<QualityFlag>,
}

impl TryFrom<r::RecordView> for RecordView {
    type Error = ApiError;
    fn try_from(x: r::RecordView) -> Result<Self, ApiError> {
        Ok(RecordView {
            id: x.id,
            kind: x.kind.into(),
            household_id: x.household_id,
            child_ref: x.child_ref,
            form_id: x.form_id,
            form_version: x.form_version,
            owner_id: x.owner_id,
            state: x.state,
            revision: x.revision,
            revision_of: x.revision_of,
            created_at_ms: x.created_at_ms,
            updated_at_ms: x.updated_at_ms,
            finalized_at_ms: x.finalized_at_ms,
            risk_level: opt_level(x.risk_level)?,
            due_at_ms: x.due_at_ms,
            data_json: x.data.to_string(),
            assessment_json: x.assessment.filter(|a| !a.is_null()).map(|a| a.to_string()),
            submission_sha256: x.submission_sha256,
            signature: x.signature,
            return_note: x.return_note,
            quality_flags: x.quality_flags.into_iter().map(Into::into).collect(),
        })
    }
}

/// One line of a record list or a supervisor's review queue.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RecordSummary {
    pub id: String,
    pub kind: RecordKind,
    pub household_id: Option<String>,
    pub owner_id: String,
    pub state: String,
    pub risk_level: Option<RiskLevel>,
    pub due_at_ms: Option<i64>,
    pub finalized_at_ms: Option<i64>,
    /// The codes of its location quality flags (details in `RecordView.qualityFlags`).
    pub quality_flags: Vec<QualityFlagCode>,
}

impl TryFrom<r::QueueItem> for RecordSummary {
    type Error = ApiError;
    fn try_from(x: r::QueueItem) -> Result<Self, ApiError> {
        Ok(RecordSummary {
            id: x.id,
            kind: x.kind.into(),
            household_id: x.household_id,
            owner_id: x.owner_id,
            state: x.state,
            risk_level: opt_level(x.risk_level)?,
            due_at_ms: x.due_at_ms,
            finalized_at_ms: x.finalized_at_ms,
            quality_flags: x.quality_flags.into_iter().map(Into::into).collect(),
        })
    }
}

/// What finalizing a draft produced.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct FinalizeResult {
    pub record_id: String,
    /// The outbox entry of the signed submission (attachments have their own).
    pub outbox_id: String,
    pub submission_sha256: String,
    /// `null` for forms without risk rules.
    pub assessment: Option<Assessment>,
}

impl From<r::Finalized> for FinalizeResult {
    fn from(f: r::Finalized) -> Self {
        FinalizeResult {
            record_id: f.record_id,
            outbox_id: f.outbox_id,
            submission_sha256: f.submission_sha256,
            assessment: f.assessment.map(Into::into),
        }
    }
}

/// A photo attached to a record: processed, sealed to the team's recipients, signed.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AttachmentInfo {
    /// Also the image question's answer (`AnswerValue.Attachment(id)`).
    pub id: String,
    pub record_id: String,
    pub field: String,
    pub envelope_len: i64,
    pub plain_len: i64,
    pub plain_sha256: String,
    pub original_sha256: String,
    /// Pixels of the processed photo (0 in lists, which do not decrypt it).
    pub width: i32,
    pub height: i32,
    /// Whether the original carried a GPS position (kept only inside the sealed envelope).
    pub had_gps: bool,
}

impl From<Attachment> for AttachmentInfo {
    fn from(a: Attachment) -> Self {
        AttachmentInfo {
            id: a.id,
            record_id: a.record_id,
            field: a.field,
            envelope_len: a.envelope_len,
            plain_len: a.plain_len,
            plain_sha256: a.plain_sha256,
            original_sha256: a.original_sha256,
            width: count(a.width),
            height: count(a.height),
            had_gps: a.had_gps,
        }
    }
}

/// One item waiting for (or past) upload. `itemKind` is `submission` or `attachment`; `state`
/// is `pending`, `uploaded` or `acknowledged`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct OutboxEntry {
    pub id: String,
    pub item_kind: String,
    pub item_id: String,
    pub state: String,
    /// What the server acknowledges (`SafeHomeStore.acknowledge`).
    pub payload_sha256: String,
    pub size_bytes: i64,
    pub attempts: i64,
    pub next_attempt_at_ms: i64,
    pub last_error: Option<String>,
    pub created_at_ms: i64,
    pub acknowledged_at_ms: Option<i64>,
}

impl From<o::OutboxEntry> for OutboxEntry {
    fn from(e: o::OutboxEntry) -> Self {
        OutboxEntry {
            id: e.id,
            item_kind: e.item_kind,
            item_id: e.item_id,
            state: e.state,
            payload_sha256: e.payload_sha256,
            size_bytes: e.size_bytes,
            attempts: e.attempts,
            next_attempt_at_ms: e.next_attempt_at_ms,
            last_error: e.last_error,
            created_at_ms: e.created_at_ms,
            acknowledged_at_ms: e.acknowledged_at_ms,
        }
    }
}

/// How many records or outbox items are in one state.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct StateCount {
    pub state: String,
    pub count: i64,
}

/// Sizes and counts for the storage screen and the sync scheduler.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct StorageStatus {
    pub database_bytes: i64,
    pub wal_bytes: i64,
    pub pending_upload_bytes: i64,
    pub households: i64,
    pub records_by_state: Vec<StateCount>,
    pub outbox_by_state: Vec<StateCount>,
}

impl From<core::StorageStatus> for StorageStatus {
    fn from(s: core::StorageStatus) -> Self {
        let counts = |v: Vec<core::StateCount>| {
            v.into_iter().map(|c| StateCount { state: c.state, count: c.count }).collect()
        };
        StorageStatus {
            database_bytes: s.database_bytes,
            wal_bytes: s.wal_bytes,
            pending_upload_bytes: s.pending_upload_bytes,
            households: s.households,
            records_by_state: counts(s.records_by_state),
            outbox_by_state: counts(s.outbox_by_state),
        }
    }
}

/// The result of recomputing the audit chain.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AuditReport {
    pub entries: i64,
    pub is_intact: bool,
    /// The first problem found (`seq N: reason`), if any.
    pub problem: Option<String>,
}

impl From<core::AuditReport> for AuditReport {
    fn from(a: core::AuditReport) -> Self {
        AuditReport { entries: a.entries, is_intact: a.is_intact(), problem: a.problem }
    }
}

/// This device's team and the communes it works in.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Enrollment {
    pub device_id: String,
    pub team: Option<String>,
    pub communes: Vec<String>,
}

impl From<t::Enrollment> for Enrollment {
    fn from(e: t::Enrollment) -> Self {
        Enrollment { device_id: e.device_id, team: e.team, communes: e.communes }
    }
}

/// Whose key a recipient is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum RecipientKind {
    /// The organisation's archive key: opens everything the team seals.
    Archive,
    /// A supervisor of the team.
    Supervisor,
}

impl From<RecipientKind> for t::RecipientKind {
    fn from(k: RecipientKind) -> Self {
        match k {
            RecipientKind::Archive => t::RecipientKind::Archive,
            RecipientKind::Supervisor => t::RecipientKind::Supervisor,
        }
    }
}

/// A key that evidence and submissions are sealed to. `kind` is `archive` or `supervisor`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RecipientInfo {
    /// `shrecip1…`
    pub public_key: String,
    pub kind: String,
    pub label: String,
}

impl From<t::Recipient> for RecipientInfo {
    fn from(r: t::Recipient) -> Self {
        RecipientInfo { public_key: r.public_key, kind: r.kind, label: r.label }
    }
}

/// A new recipient key pair in its text forms (see `generateRecipientIdentity`).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RecipientIdentity {
    /// `shrecip1…`: the public key to add with `ProfileSession.addRecipient`.
    pub recipient: String,
    /// `SH-IDENTITY-1…`: the secret key that opens what is sealed to `recipient`. Keep it off
    /// the phone.
    pub identity: String,
}
