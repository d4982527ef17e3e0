//! Records and enums of the store (profiles, households, records, attachments, outbox, team),
//! mirroring `safehome_core::store` field for field, with their conversions. Counts and sizes
//! cross as `i64` or `i32`, times as `i64` milliseconds since the epoch.
//!
//! The store's enums (roles, record and outbox states and kinds, recipient kinds) cross as the
//! core's own types, declared here with `#[uniffi::remote(Enum)]`: uniffi's conversion matches
//! every variant by name, so a variant added to the core and not here fails to compile instead
//! of drifting.

use safehome_core::form::risk::Level;
use safehome_core::store::duplicates as dup;
use safehome_core::store::households as h;
use safehome_core::store::outbox as o;
use safehome_core::store::profiles as p;
use safehome_core::store::records as r;
use safehome_core::store::team as t;
use safehome_core::store::{self as core, Attachment};

pub use safehome_core::store::duplicates::DuplicateBasis;
pub use safehome_core::store::outbox::{OutboxItemKind, OutboxState};
pub use safehome_core::store::profiles::Role;
pub use safehome_core::store::records::{RecordKind, RecordState};
pub use safehome_core::store::team::RecipientKind;

use super::{Assessment, QualityFlag, QualityFlagCode, count};

/// What a profile may do on this device (`docs/storage.md` has the permission table).
#[uniffi::remote(Enum)]
pub enum Role {
    Volunteer,
    Supervisor,
    HealthWorker,
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
            role: x.role,
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

/// On what grounds two households look like one.
#[uniffi::remote(Enum)]
pub enum DuplicateBasis {
    /// Both located, within the radius of each other, names alike.
    Nearby,
    /// At least one has no location: the same village of the same commune, names alike.
    SameVillageNoLocation,
}

/// Why two households are likely one.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct DuplicateReasons {
    pub basis: DuplicateBasis,
    /// Metres between the registered locations (`null` when one has none).
    pub distance_m: Option<f64>,
    /// Folded name similarity in [0, 1] (1: the same name once diacritics are folded).
    pub name_similarity: f64,
    pub same_village: bool,
    pub same_commune: bool,
    /// The reasons in words, Vietnamese first ("cách 2 m / 2 m apart").
    pub described: Vec<String>,
}

impl From<dup::DuplicateReasons> for DuplicateReasons {
    fn from(r: dup::DuplicateReasons) -> Self {
        DuplicateReasons {
            described: r.describe(),
            basis: r.basis,
            distance_m: r.distance_m,
            name_similarity: r.name_similarity,
            same_village: r.same_village,
            same_commune: r.same_commune,
        }
    }
}

/// A household on this phone that a new registration may repeat: the volunteer chooses to
/// visit it instead, or to register the new one anyway.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct LikelyDuplicate {
    pub household_id: String,
    pub code: String,
    pub head_name: String,
    pub village: String,
    pub reasons: DuplicateReasons,
}

/// A household of the team, as the supervisor's phone knows it from the records it pulled.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct TeamHousehold {
    pub code: String,
    /// The volunteer's device that registered it.
    pub device_id: String,
    pub commune: Option<String>,
    pub village: String,
    pub head_name: String,
    /// Its records pulled here, oldest first.
    pub record_ids: Vec<String>,
}

/// Two households of the team that are likely one (two volunteers, one family), with why.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct DuplicatePair {
    /// Registered first: the natural one to keep (`mergeHouseholds(first.code, second.code, …)`).
    pub first: TeamHousehold,
    pub second: TeamHousehold,
    pub reasons: DuplicateReasons,
    /// Both registered on the same phone.
    pub same_device: bool,
}

impl From<dup::TeamHousehold> for TeamHousehold {
    fn from(h: dup::TeamHousehold) -> Self {
        TeamHousehold {
            code: h.code,
            device_id: h.device_id,
            commune: h.commune,
            village: h.village,
            head_name: h.head_name,
            record_ids: h.record_ids,
        }
    }
}

impl From<dup::DuplicatePair> for DuplicatePair {
    fn from(p: dup::DuplicatePair) -> Self {
        DuplicatePair {
            first: p.first.into(),
            second: p.second.into(),
            reasons: p.reasons.into(),
            same_device: p.same_device,
        }
    }
}

impl From<dup::LikelyDuplicate> for LikelyDuplicate {
    fn from(d: dup::LikelyDuplicate) -> Self {
        LikelyDuplicate {
            household_id: d.household_id,
            code: d.code,
            head_name: d.head_name,
            village: d.village,
            reasons: d.reasons.into(),
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
    /// The household code a supervisor merged this one into (the same family registered
    /// twice), if any.
    pub merged_into: Option<String>,
    /// Finalized assessments, oldest first.
    pub risk_history: Vec<RiskPoint>,
}

impl From<h::Household> for Household {
    fn from(x: h::Household) -> Self {
        Household {
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
            merged_into: x.merged_into,
            risk_history: x
                .risk_history
                .into_iter()
                .map(|p| RiskPoint {
                    record_id: p.record_id,
                    finalized_at_ms: p.finalized_at_ms,
                    level: p.level,
                })
                .collect(),
        }
    }
}

/// One finalized assessment of a household.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RiskPoint {
    pub record_id: String,
    pub finalized_at_ms: i64,
    pub level: Level,
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

#[uniffi::remote(Enum)]
pub enum RecordKind {
    /// A household visit (volunteers, supervisors).
    Visit,
    /// An injury incident (health workers, supervisors).
    Incident,
}

/// Where a record is in its lifecycle: draft -> queued -> uploaded -> acknowledged; a
/// supervisor may return a queued, uploaded or acknowledged record, which continues as a new
/// draft revision.
#[uniffi::remote(Enum)]
pub enum RecordState {
    /// Being filled in; every change is autosaved.
    Draft,
    /// Validated and signed: finalize moves on to `Queued` at once, so an app never sees it.
    Finalized,
    /// Signed and waiting in the outbox.
    Queued,
    /// Received by the server, not yet acknowledged.
    Uploaded,
    /// Acknowledged by the server; its payload is purged after the retention period.
    Acknowledged,
    /// Returned by a supervisor (`returnNote`); a new draft revision continues it.
    Returned,
}

/// A record as its owner or a supervisor sees it.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct RecordView {
    pub id: String,
    pub kind: RecordKind,
    pub household_id: Option<String>,
    pub child_ref: Option<String>,
    pub form_id: String,
    pub form_version: String,
    pub owner_id: String,
    pub state: RecordState,
    pub revision: i64,
    pub revision_of: Option<String>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub finalized_at_ms: Option<i64>,
    pub risk_level: Option<Level>,
    pub due_at_ms: Option<i64>,
    /// The signed submission's answers (finalized records) or the draft's current output, as
    /// JSON; `null` once purged after acknowledgment.
    pub data_json: String,
    /// The signed submission's assessment, or the draft's as it stands; `null` for forms
    /// without risk rules and once purged.
    pub assessment: Option<Assessment>,
    pub submission_sha256: Option<String>,
    pub signature: Option<String>,
    /// The supervisor's note when the record was returned.
    pub return_note: Option<String>,
    /// The location quality flags sealed at finalize (empty for drafts and for records whose
    /// geopoints were not answered with a platform fix).
    pub quality_flags: Vec<QualityFlag>,
}

impl From<r::RecordView> for RecordView {
    fn from(x: r::RecordView) -> Self {
        RecordView {
            id: x.id,
            kind: x.kind,
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
            risk_level: x.risk_level,
            due_at_ms: x.due_at_ms,
            data_json: x.data.to_string(),
            assessment: x.assessment.map(Into::into),
            submission_sha256: x.submission_sha256,
            signature: x.signature,
            return_note: x.return_note,
            quality_flags: x.quality_flags.into_iter().map(Into::into).collect(),
        }
    }
}

/// One line of a record list or a supervisor's review queue.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RecordSummary {
    pub id: String,
    pub kind: RecordKind,
    pub household_id: Option<String>,
    pub owner_id: String,
    pub state: RecordState,
    pub risk_level: Option<Level>,
    pub due_at_ms: Option<i64>,
    pub finalized_at_ms: Option<i64>,
    /// The codes of its location quality flags (details in `RecordView.qualityFlags`).
    pub quality_flags: Vec<QualityFlagCode>,
}

impl From<r::QueueItem> for RecordSummary {
    fn from(x: r::QueueItem) -> Self {
        RecordSummary {
            id: x.id,
            kind: x.kind,
            household_id: x.household_id,
            owner_id: x.owner_id,
            state: x.state,
            risk_level: x.risk_level,
            due_at_ms: x.due_at_ms,
            finalized_at_ms: x.finalized_at_ms,
            quality_flags: x.quality_flags.into_iter().collect(),
        }
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

/// What an outbox item uploads.
#[uniffi::remote(Enum)]
pub enum OutboxItemKind {
    /// A record's signed submission; `itemId` is the record's id.
    Submission,
    /// A sealed photo; `itemId` is the attachment's id.
    Attachment,
}

/// Where an outbox item is. Only acknowledged items are ever purged.
#[uniffi::remote(Enum)]
pub enum OutboxState {
    /// Waiting to be sent (again, after a failure, once its backoff has passed).
    Pending,
    /// Received by the server, not yet acknowledged by its hash.
    Uploaded,
    /// The server acknowledged it by its hash.
    Acknowledged,
    /// Refused for good by the server: kept, never purged, not sent again until resolved.
    Parked,
}

/// One item waiting for (or past) upload.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct OutboxEntry {
    pub id: String,
    pub item_kind: OutboxItemKind,
    pub item_id: String,
    pub state: OutboxState,
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

/// How many records are in one state.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RecordStateCount {
    pub state: RecordState,
    pub count: i64,
}

/// How many outbox items are in one state.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct OutboxStateCount {
    pub state: OutboxState,
    pub count: i64,
}

/// Sizes and counts for the storage screen and the sync scheduler.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct StorageStatus {
    pub database_bytes: i64,
    pub wal_bytes: i64,
    pub pending_upload_bytes: i64,
    pub households: i64,
    /// Only the states that have records or items, in the order of their names.
    pub records_by_state: Vec<RecordStateCount>,
    pub outbox_by_state: Vec<OutboxStateCount>,
}

impl From<core::StorageStatus> for StorageStatus {
    fn from(s: core::StorageStatus) -> Self {
        StorageStatus {
            database_bytes: s.database_bytes,
            wal_bytes: s.wal_bytes,
            pending_upload_bytes: s.pending_upload_bytes,
            households: s.households,
            records_by_state: s
                .records_by_state
                .into_iter()
                .map(|c| RecordStateCount { state: c.state, count: c.count })
                .collect(),
            outbox_by_state: s
                .outbox_by_state
                .into_iter()
                .map(|c| OutboxStateCount { state: c.state, count: c.count })
                .collect(),
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
#[uniffi::remote(Enum)]
pub enum RecipientKind {
    /// The organisation's archive key: opens everything the team seals.
    Archive,
    /// A supervisor of the team.
    Supervisor,
}

/// A key that evidence and submissions are sealed to.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RecipientInfo {
    /// `shrecip1…`
    pub public_key: String,
    pub kind: RecipientKind,
    pub label: String,
}

impl From<t::Recipient> for RecipientInfo {
    fn from(r: t::Recipient) -> Self {
        RecipientInfo { public_key: r.public_key, kind: r.kind, label: r.label }
    }
}
