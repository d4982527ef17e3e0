//! `SafeHomeStore` (the encrypted database, opened with the platform's data key) and
//! `ProfileSession` (an unlocked profile: the only way to read or change records).
//!
//! Both hold a shared [`StoreHandle`] (and so do their drafts); `closeStore()` empties it, so
//! every later call on the store, its profile sessions and its drafts fails with
//! `ApiError::StoreClosed` instead of touching a closed database. Calls already running keep
//! their reference and finish; the database's connections close when the last of them returns.
//! The store and its profile sessions also share the registry of live drafts ([`LiveDrafts`]).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, Weak};

use safehome_core::clock::{Clock, FixedClock, SystemClock, SystemEntropy};
use safehome_core::crypto::DataKey;
use safehome_core::store::profiles::Actor;
use safehome_core::store::{Store, StoreConfig};
use zeroize::Zeroize;

use crate::anchor::{AuditAnchorKeeper, ForeignKeeper};
use crate::draft::DraftSession;
use crate::errors::ApiError;
use crate::guard::guard;
use crate::handle::StoreHandle;
use crate::location::AssignedAreas;
use crate::logging::{self, LogLevel, call};
use crate::progress::{self, ProgressListener};
use crate::records::{
    AttachmentInfo, AuditReport, DecisionKind, DecisionView, DuplicatePair, Enrollment, Household,
    HouseholdRef, LikelyDuplicate, NewHousehold, OutboxEntry, ProfileInfo, QuestionComment,
    ReceivedItem, ReceivedRecord, RecipientInfo, RecipientKind, RecordSummary, RecordView, Role,
    StorageStatus, count,
};
use crate::sync::{Quarantined, ServerEnrollment, SyncReport, SyncStatus};
use crate::transport::HttpTransport;

/// The live draft of each record: one owner per draft. A second `openDraft` of a record (another
/// screen, a configuration change) gets the same `DraftSession`, so two copies can never
/// diverge from each other or from the database. Shared by a store and its profile sessions.
type LiveDrafts = Mutex<HashMap<String, Weak<DraftSession>>>;

/// The platform's data key: exactly 32 bytes. The copy that crossed the FFI is wiped.
fn data_key(mut bytes: Vec<u8>) -> Result<DataKey, ApiError> {
    let key = <[u8; 32]>::try_from(bytes.as_slice()).map(DataKey::from_bytes).map_err(|_| {
        ApiError::InvalidInput {
            detail: format!("data key: must be 32 bytes, not {}", bytes.len()),
        }
    });
    bytes.zeroize();
    key
}

/// The encrypted local database. Open it once per process with the data key the platform
/// keystore holds (Android Keystore, iOS Keychain) and share it; every method may be called from
/// any thread. Methods that hash PINs (`unlock`, `createProfile`) take most of a second by design
/// and the photo and audit operations can take longer: call them off the UI thread.
#[derive(Debug, uniffi::Object)]
pub struct SafeHomeStore {
    handle: Arc<StoreHandle>,
    drafts: Arc<LiveDrafts>,
}

impl SafeHomeStore {
    fn open_with(
        path: &str,
        key: Vec<u8>,
        clock: Arc<dyn Clock>,
        config: StoreConfig,
        test_clock: Option<Arc<FixedClock>>,
    ) -> Result<Arc<Self>, ApiError> {
        let key = data_key(key)?;
        let store =
            Store::open(Path::new(path), &key, clock, Arc::new(SystemEntropy::default()), config)?;
        logging::emit(LogLevel::Info, "store.open", || {
            format!("store opened (device {})", store.device_id())
        });
        Ok(Arc::new(SafeHomeStore {
            handle: Arc::new(StoreHandle::new(store, test_clock)),
            drafts: Arc::default(),
        }))
    }

    fn store(&self) -> Result<Arc<Store>, ApiError> {
        self.handle.get()
    }
}

#[uniffi::export]
impl SafeHomeStore {
    /// Open (or create) the database file at `path` (its directory must exist) with the
    /// platform's 32-byte data key. `utcOffsetMinutes` is the device's offset (Vietnam: 420).
    /// A wrong key fails with `WrongKey` before anything is read; a newer database with
    /// `NewerSchema`; a file that is not a database with `Corrupt`.
    #[uniffi::constructor]
    pub fn open(
        path: String,
        data_key: Vec<u8>,
        utc_offset_minutes: i32,
    ) -> Result<Arc<Self>, ApiError> {
        call("store.open", || {
            Self::open_with(
                &path,
                data_key,
                Arc::new(SystemClock { offset_minutes: utc_offset_minutes }),
                StoreConfig::default(),
                None,
            )
        })
    }

    /// Close the database. Every later call on this store, its profile sessions and drafts
    /// fails with `StoreClosed`; calls already running finish first. Calling it again does
    /// nothing.
    pub fn close_store(&self) -> Result<(), ApiError> {
        call("store.close", || {
            let taken = self.handle.take();
            if taken.is_some() {
                drop(taken);
                logging::emit(LogLevel::Info, "store.close", || "store closed".into());
            }
            Ok(())
        })
    }

    /// Whether `closeStore()` was called.
    pub fn is_closed(&self) -> Result<bool, ApiError> {
        guard(|| Ok(self.handle.get().is_err()))
    }

    /// This device's id (a UUID, also in every submission).
    pub fn device_id(&self) -> Result<String, ApiError> {
        call("store.device_id", || Ok(self.store()?.device_id().to_string()))
    }

    /// Stop the statement running on the store (a long query on a screen the user left); that
    /// call fails with `Interrupted` and changes nothing.
    pub fn interrupt(&self) -> Result<(), ApiError> {
        call("store.interrupt", || {
            self.store()?.interrupt();
            Ok(())
        })
    }

    /// The device's assigned areas (set by a supervisor with `ProfileSession.setAssignedAreas`,
    /// kept in the database), or `null` when none are set: for on-screen lookups.
    pub fn assigned_areas(&self) -> Result<Option<Arc<AssignedAreas>>, ApiError> {
        call("store.assigned_areas", || {
            Ok(self.store()?.assigned_areas()?.map(|set| Arc::new(AssignedAreas { set })))
        })
    }

    /// Sizes and counts, for the storage screen and the sync scheduler.
    pub fn storage_status(&self) -> Result<StorageStatus, ApiError> {
        call("store.storage_status", || Ok(self.store()?.storage_status()?.into()))
    }

    /// Keep the audit chain's anchor in platform storage through `keeper`, and check `kept`,
    /// the text it last saved ("" when none): call once after `open`, before the app shows
    /// anything. Throws `RolledBack` when the database is an older copy than the one the app
    /// last saw (restored from a backup, or put back by someone who kept a copy), `Tampered`
    /// when `kept` is not this device's anchor. From then on the anchor is saved after every
    /// change.
    pub fn keep_audit_anchor(
        &self,
        kept: String,
        keeper: Arc<dyn AuditAnchorKeeper>,
    ) -> Result<(), ApiError> {
        call("store.keep_audit_anchor", || {
            let keeper = ForeignKeeper { kept: Some(kept), keeper };
            Ok(self.store()?.keep_anchor(Arc::new(keeper))?)
        })
    }

    /// Recompute the audit chain; `isIntact` is false (with the first problem) after any
    /// edit, deletion, insertion or reordering of its entries.
    #[uniffi::method(default(progress = None))]
    pub fn verify_audit(
        &self,
        progress: Option<Arc<dyn ProgressListener>>,
    ) -> Result<AuditReport, ApiError> {
        progress::report(progress.as_ref(), "verify_audit", 0, 1);
        let report = call("store.verify_audit", || Ok(self.store()?.verify_audit()?.into()));
        progress::report(progress.as_ref(), "verify_audit", 1, 1);
        report
    }

    /// Every profile on this device, for the profile picker.
    pub fn profiles(&self) -> Result<Vec<ProfileInfo>, ApiError> {
        call("store.profiles", || {
            Ok(self.store()?.profiles()?.into_iter().map(Into::into).collect())
        })
    }

    /// Add a profile with a 4–12 digit PIN. `by` is an unlocked supervisor; it may be `null`
    /// only for the first supervisor of a new device.
    pub fn create_profile(
        &self,
        by: Option<Arc<ProfileSession>>,
        name: String,
        role: Role,
        pin: String,
    ) -> Result<ProfileInfo, ApiError> {
        call("store.create_profile", || {
            if let Some(b) = &by {
                b.same_store(&self.handle)?;
            }
            let actor = by.as_ref().map(|b| &b.actor);
            Ok(self.store()?.create_profile(actor, &name, role, &pin)?.into())
        })
    }

    /// Unlock a profile with its PIN. Wrong PINs are counted in the database: `WrongPin` (the
    /// message says how many attempts remain), then `PinDelay` (growing waits), then
    /// `LockedOut` until a supervisor resets the PIN.
    pub fn unlock(&self, profile_id: String, pin: String) -> Result<Arc<ProfileSession>, ApiError> {
        call("store.unlock", || {
            let actor = self.store()?.unlock(&profile_id, &pin)?;
            logging::emit(LogLevel::Info, "store.unlock", || {
                format!("profile {} unlocked ({})", actor.profile_id(), actor.role().as_str())
            });
            Ok(Arc::new(ProfileSession {
                handle: Arc::clone(&self.handle),
                drafts: Arc::clone(&self.drafts),
                actor,
            }))
        })
    }

    /// Every outbox entry, oldest first. Device-level (no profile needed): the sync worker
    /// runs while nobody is signed in, and entries hold only ids, hashes and sizes.
    pub fn outbox(&self) -> Result<Vec<OutboxEntry>, ApiError> {
        call("store.outbox", || Ok(self.store()?.outbox()?.into_iter().map(Into::into).collect()))
    }

    /// The server acknowledged an item by its SHA-256 (hex): only then may it ever be purged.
    /// Returns the outbox entry's id; a hash matching nothing unacknowledged is `NotFound`.
    pub fn acknowledge(&self, payload_sha256: String) -> Result<String, ApiError> {
        call("store.acknowledge", || Ok(self.store()?.acknowledge(&payload_sha256)?))
    }

    /// Remove the payloads of records acknowledged longer ago than the retention period,
    /// keeping their receipts; returns how many records were purged.
    pub fn purge_expired(&self) -> Result<i32, ApiError> {
        call("store.purge_expired", || Ok(crate::records::count(self.store()?.purge_expired()?)))
    }

    /// This device's team and communes.
    pub fn enrollment(&self) -> Result<Enrollment, ApiError> {
        call("store.enrollment", || Ok(self.store()?.enrollment()?.into()))
    }

    /// The keys evidence and submissions are sealed to.
    pub fn recipients(&self) -> Result<Vec<RecipientInfo>, ApiError> {
        call("store.recipients", || {
            Ok(self.store()?.recipients()?.into_iter().map(Into::into).collect())
        })
    }

    /// The device's standing with its server: enrolled or not, the pinned key, the last sync.
    pub fn sync_status(&self) -> Result<SyncStatus, ApiError> {
        call("store.sync_status", || crate::sync::status(&*self.store()?))
    }
}

/// Options of `SafeHomeStore.openForTesting` (feature `test-hooks` only; never in an app).
#[cfg(feature = "test-hooks")]
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct TestStoreOptions {
    /// PBKDF2 iterations for new PINs (production: 600,000), so that PIN tests run fast.
    pub pin_iterations: i32,
    /// Run the store on a clock that stands still at this time (ms) until
    /// `testAdvanceClock`; `null`: the system clock.
    pub clock_start_ms: Option<i64>,
}

/// Exports for the foreign-language test harness only (feature `test-hooks`).
#[cfg(feature = "test-hooks")]
#[uniffi::export]
impl SafeHomeStore {
    /// `open` with test settings: cheap PIN hashing and an optional fixed clock.
    #[uniffi::constructor]
    pub fn open_for_testing(
        path: String,
        data_key: Vec<u8>,
        utc_offset_minutes: i32,
        options: TestStoreOptions,
    ) -> Result<Arc<Self>, ApiError> {
        call("store.open", || {
            let fixed =
                options.clock_start_ms.map(|ms| Arc::new(FixedClock::new(ms, utc_offset_minutes)));
            let clock: Arc<dyn Clock> = match &fixed {
                Some(c) => Arc::clone(c) as Arc<dyn Clock>,
                None => Arc::new(SystemClock { offset_minutes: utc_offset_minutes }),
            };
            let config = StoreConfig {
                pin_iterations: u32::try_from(options.pin_iterations.max(1)).unwrap_or(1),
                ..StoreConfig::default()
            };
            Self::open_with(&path, data_key, clock, config, fixed)
        })
    }

    /// Move the fixed clock of `openForTesting` forward.
    pub fn test_advance_clock(&self, ms: i64) -> Result<(), ApiError> {
        call("store.test_advance_clock", || match &self.handle.test_clock {
            Some(c) => {
                c.advance(ms);
                Ok(())
            }
            None => {
                Err(ApiError::InvalidState { detail: "the store runs on the system clock".into() })
            }
        })
    }

    /// Cap the database at `maxPages` pages so that the next growing write fails with
    /// `DiskFull`, as on a full phone.
    pub fn test_simulate_disk_limit(&self, max_pages: i32) -> Result<(), ApiError> {
        call("store.test_simulate_disk_limit", || {
            Ok(self.store()?.simulate_disk_limit(u32::try_from(max_pages.max(1)).unwrap_or(1))?)
        })
    }
}

/// An unlocked profile. Every read and change of households and records goes through it, and
/// the store checks the profile's role for each (a record it may not see is `NotFound`). Drop
/// it (Kotlin `close()`) when the user signs out or the app goes to the background.
#[derive(Debug, uniffi::Object)]
pub struct ProfileSession {
    handle: Arc<StoreHandle>,
    drafts: Arc<LiveDrafts>,
    actor: Actor,
}

impl ProfileSession {
    fn store(&self) -> Result<Arc<Store>, ApiError> {
        self.handle.get()
    }

    /// A session of another store cannot act on this one.
    fn same_store(&self, handle: &Arc<StoreHandle>) -> Result<(), ApiError> {
        if Arc::ptr_eq(&self.handle, handle) {
            Ok(())
        } else {
            Err(ApiError::InvalidInput {
                detail: "by: the profile session belongs to another store".into(),
            })
        }
    }

    /// Wrap a new draft and register it as its record's live draft.
    fn draft(&self, draft: safehome_core::store::records::Draft) -> Arc<DraftSession> {
        let mut live = self.drafts.lock().unwrap_or_else(|p| p.into_inner());
        self.register(&mut live, draft)
    }

    fn register(
        &self,
        live: &mut HashMap<String, Weak<DraftSession>>,
        draft: safehome_core::store::records::Draft,
    ) -> Arc<DraftSession> {
        // Entries of drafts the app has dropped are pruned as new ones come.
        live.retain(|_, d| d.strong_count() > 0);
        let id = draft.record_id.clone();
        let session = DraftSession::new(Arc::clone(&self.handle), self.actor.clone(), draft);
        live.insert(id, Arc::downgrade(&session));
        session
    }
}

#[uniffi::export]
impl ProfileSession {
    pub fn profile_id(&self) -> Result<String, ApiError> {
        guard(|| Ok(self.actor.profile_id().to_string()))
    }

    pub fn role(&self) -> Result<Role, ApiError> {
        guard(|| Ok(self.actor.role()))
    }

    /// Supervisors: set a new PIN for a profile and lift its lockout.
    pub fn reset_pin(&self, profile_id: String, new_pin: String) -> Result<(), ApiError> {
        call("profile.reset_pin", || {
            Ok(self.store()?.reset_pin(&self.actor, &profile_id, &new_pin)?)
        })
    }

    // ----- households ---------------------------------------------------------------------------

    /// Register a household (volunteers: assigned to themselves).
    pub fn add_household(&self, household: NewHousehold) -> Result<Household, ApiError> {
        call("profile.add_household", || {
            Ok(self.store()?.add_household(&self.actor, &household.into())?.into())
        })
    }

    /// Households on this phone (those this profile may see) that `household` likely repeats,
    /// most alike first, with why. Ask before `add_household`: the volunteer visits the
    /// existing one, or registers anyway.
    pub fn likely_duplicates(
        &self,
        household: NewHousehold,
    ) -> Result<Vec<LikelyDuplicate>, ApiError> {
        call("profile.likely_duplicates", || {
            let found = self.store()?.likely_duplicates(&self.actor, &household.into())?;
            Ok(found.into_iter().map(Into::into).collect())
        })
    }

    /// The households this profile may see, by code.
    pub fn households(&self) -> Result<Vec<Household>, ApiError> {
        call("profile.households", || {
            Ok(self.store()?.households(&self.actor)?.into_iter().map(Into::into).collect())
        })
    }

    /// One household with its risk history.
    pub fn household(&self, id: String) -> Result<Household, ApiError> {
        call("profile.household", || Ok(self.store()?.household(&self.actor, &id)?.into()))
    }

    /// Find a household by its code (health workers link incidents this way).
    pub fn household_by_code(&self, code: String) -> Result<HouseholdRef, ApiError> {
        call("profile.household_by_code", || {
            Ok(self.store()?.household_by_code(&self.actor, &code)?.into())
        })
    }

    // ----- drafts -------------------------------------------------------------------------------

    /// Start a household visit on a built-in form (`household_screening`); what the household
    /// record knows (commune, village, head, location) is filled in.
    pub fn start_visit(
        &self,
        household_id: String,
        form_id: String,
    ) -> Result<Arc<DraftSession>, ApiError> {
        call("profile.start_visit", || {
            Ok(self.draft(self.store()?.start_visit(&self.actor, &household_id, &form_id)?))
        })
    }

    /// Start an injury incident (health workers), optionally linked to a household and a child.
    #[uniffi::method(default(household_id = None, child_ref = None))]
    pub fn start_incident(
        &self,
        form_id: String,
        household_id: Option<String>,
        child_ref: Option<String>,
    ) -> Result<Arc<DraftSession>, ApiError> {
        call("profile.start_incident", || {
            let store = self.store()?;
            let draft = store.start_incident(
                &self.actor,
                &form_id,
                household_id.as_deref(),
                child_ref.as_deref(),
            )?;
            Ok(self.draft(draft))
        })
    }

    /// Reopen a draft where it stopped (after the app was killed, or from the list). While a
    /// `DraftSession` of the record is alive, every open returns that same session (changes
    /// made through one are seen through the other); only its owner can open it.
    pub fn open_draft(&self, record_id: String) -> Result<Arc<DraftSession>, ApiError> {
        call("profile.open_draft", || {
            let store = self.store()?;
            // Held while the draft loads, so that two threads opening the same record at once
            // cannot both load it.
            let mut live = self.drafts.lock().unwrap_or_else(|p| p.into_inner());
            // A finalized session is no longer the record's draft: the store refuses below.
            let open = live.get(&record_id).and_then(Weak::upgrade).filter(|d| !d.is_finalized());
            if let Some(open) = open {
                if open.owner_id() != self.actor.profile_id() {
                    return Err(ApiError::not_found("record", record_id));
                }
                return Ok(open);
            }
            let draft = store.open_draft(&self.actor, &record_id)?;
            Ok(self.register(&mut live, draft))
        })
    }

    // ----- records ------------------------------------------------------------------------------

    /// A record: its own for a volunteer or health worker, any for a supervisor.
    pub fn record(&self, id: String) -> Result<RecordView, ApiError> {
        call("profile.record", || Ok(self.store()?.record(&self.actor, &id)?.into()))
    }

    /// The records this profile may see, oldest first.
    pub fn records(&self) -> Result<Vec<RecordSummary>, ApiError> {
        call("profile.records", || {
            Ok(self.store()?.records(&self.actor)?.into_iter().map(Into::into).collect())
        })
    }

    /// Supervisors: submissions not yet acknowledged, urgent first, then by deadline.
    pub fn review_queue(&self, limit: i32) -> Result<Vec<RecordSummary>, ApiError> {
        call("profile.review_queue", || {
            let limit = usize::try_from(limit.max(0)).unwrap_or(0);
            Ok(self
                .store()?
                .review_queue(&self.actor, limit)?
                .into_iter()
                .map(Into::into)
                .collect())
        })
    }

    /// Supervisors: return a submission with a note; its owner gets a new draft revision
    /// starting from its answers. Returns the new draft's record id.
    pub fn return_record(&self, id: String, note: String) -> Result<String, ApiError> {
        call("profile.return_record", || {
            Ok(self.store()?.return_record(&self.actor, &id, &note)?)
        })
    }

    /// Whether a finalized record's submission still matches its hash and device signature.
    pub fn verify_submission(&self, id: String) -> Result<bool, ApiError> {
        call("profile.verify_submission", || {
            Ok(self.store()?.verify_submission(&self.actor, &id)?)
        })
    }

    /// The photos attached to a record.
    pub fn attachments(&self, record_id: String) -> Result<Vec<AttachmentInfo>, ApiError> {
        call("profile.attachments", || {
            Ok(self
                .store()?
                .attachments(&self.actor, &record_id)?
                .into_iter()
                .map(Into::into)
                .collect())
        })
    }

    /// The decrypted thumbnail (a small JPEG, a few kB) of an attachment, to show on screen.
    /// The one image that crosses as bytes: writing it to a file would put a decrypted picture
    /// on disk.
    pub fn thumbnail(&self, attachment_id: String) -> Result<Vec<u8>, ApiError> {
        call("profile.thumbnail", || Ok(self.store()?.thumbnail(&self.actor, &attachment_id)?))
    }

    // ----- team and server ----------------------------------------------------------------------

    /// Supervisors: enroll this device with the team's server using a one-time `code` from
    /// the district office (`safehome-server enroll`). The server answers the team, communes and
    /// the keys submissions are sealed to, signed by its key, which is pinned here; give
    /// `serverKey` (`shserver1…`, as `safehome-server init` printed it) to check it. A
    /// supervisor's device gives its `recipientKey` (`shrecip1…`, with a supervisor code): the
    /// team's submissions are sealed to it from then on. Blocks on the network: call it off the
    /// UI thread.
    pub fn enroll_with_server(
        &self,
        transport: Arc<dyn HttpTransport>,
        server_url: String,
        code: String,
        server_key: Option<String>,
        recipient_key: Option<String>,
    ) -> Result<ServerEnrollment, ApiError> {
        call("profile.enroll_with_server", || {
            crate::sync::enroll(
                &*self.store()?,
                &self.actor,
                transport,
                &server_url,
                &code,
                server_key.as_deref(),
                recipient_key.as_deref(),
            )
        })
    }

    /// Upload what waits in the outbox, urgent records first, each with its photos (resumably),
    /// and mark acknowledged what the server's signed receipt confirms. Progress goes to
    /// `progress` as `sync` (records) and `sync.bytes`. Records the server refuses for good are
    /// parked (kept, listed in the report); network failures are retried at the next sync.
    /// Blocks on the network: call it off the UI thread (a WorkManager job on Android, a
    /// background task on iOS).
    pub fn sync(
        &self,
        transport: Arc<dyn HttpTransport>,
        progress: Option<Arc<dyn ProgressListener>>,
    ) -> Result<SyncReport, ApiError> {
        call("profile.sync", || {
            crate::sync::run(
                &*self.store()?,
                &self.actor,
                transport,
                progress,
                safehome_core::sync::review::DEFAULT_EVIDENCE_BUDGET,
            )
        })
    }

    /// `sync`, with the bytes of the team's photos a supervisor's phone fetches ahead of being
    /// asked: 0 on a metered network (only the photos asked for with `requestEvidence` come).
    pub fn sync_with_photo_budget(
        &self,
        transport: Arc<dyn HttpTransport>,
        progress: Option<Arc<dyn ProgressListener>>,
        photo_budget_bytes: i64,
    ) -> Result<SyncReport, ApiError> {
        call("profile.sync", || {
            crate::sync::run(&*self.store()?, &self.actor, transport, progress, photo_budget_bytes)
        })
    }

    // ----- review across devices ----------------------------------------------------------------

    /// Supervisors: the records pulled from the team's server to review, urgent first, then by
    /// deadline, then the newest (approved ones and those replaced by a revision leave it).
    pub fn received_queue(&self, limit: i32) -> Result<Vec<ReceivedItem>, ApiError> {
        call("profile.received_queue", || {
            let limit = usize::try_from(limit.max(0)).unwrap_or(0);
            Ok(self
                .store()?
                .received_queue(&self.actor, limit)?
                .into_iter()
                .map(Into::into)
                .collect())
        })
    }

    /// Supervisors: one received record, whole, with its decisions.
    pub fn received_record(&self, record_id: String) -> Result<ReceivedRecord, ApiError> {
        call("profile.received_record", || {
            Ok(self.store()?.received_record(&self.actor, &record_id)?.into())
        })
    }

    /// Supervisors: pulled records that failed verification, with why.
    pub fn quarantined(&self) -> Result<Vec<Quarantined>, ApiError> {
        call("profile.quarantined", || {
            Ok(self
                .store()?
                .quarantined(&self.actor)?
                .into_iter()
                .map(|(id, reason)| Quarantined { id, reason })
                .collect())
        })
    }

    /// Supervisors: decide on a received record. Signed by this device, sealed to the
    /// volunteer's phone and the team's recipients, uploaded at the next sync. `comments` go
    /// next to the questions (a return); `actionAtMs` says when an action was taken (`Act`
    /// only). Returns the decision's id.
    pub fn decide(
        &self,
        record_id: String,
        kind: DecisionKind,
        note: String,
        comments: Vec<QuestionComment>,
        action_at_ms: Option<i64>,
    ) -> Result<String, ApiError> {
        call("profile.decide", || {
            let decision = safehome_core::sync::Decision {
                kind,
                content: safehome_core::store::decisions::DecisionContent {
                    note,
                    comments: comments.into_iter().map(Into::into).collect(),
                },
                action_at_ms,
            };
            Ok(safehome_core::sync::decide(&*self.store()?, &self.actor, &record_id, &decision)?)
        })
    }

    /// Supervisors: households of the team that are likely one (two volunteers, one family),
    /// among the records pulled to this phone, with the reasons to show.
    pub fn team_duplicates(&self) -> Result<Vec<DuplicatePair>, ApiError> {
        call("profile.team_duplicates", || {
            Ok(self.store()?.team_duplicates(&self.actor)?.into_iter().map(Into::into).collect())
        })
    }

    /// Supervisors: merge household `mergeCode` into `keepCode` (the same family registered
    /// twice, as the team's duplicates show): signed by this device, sealed with the reason,
    /// uploaded at the next sync; the volunteer's phone re-links or marks its household, and
    /// the server counts it once. Returns the decision's id.
    pub fn merge_households(
        &self,
        keep_code: String,
        merge_code: String,
        reason: String,
    ) -> Result<String, ApiError> {
        call("profile.merge_households", || {
            Ok(safehome_core::sync::merge_households(
                &*self.store()?,
                &self.actor,
                &keep_code,
                &merge_code,
                &reason,
            )?)
        })
    }

    /// What was decided about a record and why: for its volunteer (on their own records) and
    /// for supervisors.
    pub fn decisions(&self, record_id: String) -> Result<Vec<DecisionView>, ApiError> {
        call("profile.decisions", || {
            Ok(self
                .store()?
                .decisions_for(&self.actor, &record_id)?
                .into_iter()
                .map(Into::into)
                .collect())
        })
    }

    /// Supervisors: fetch a received record's photos at the next sync, whatever its budget.
    /// Returns how many are asked for.
    pub fn request_photos(&self, record_id: String) -> Result<i32, ApiError> {
        call("profile.request_photos", || {
            Ok(count(self.store()?.want_evidence(&self.actor, &record_id)?))
        })
    }

    /// Supervisors: decrypt a received record's photo (fetched and kept on this phone) into
    /// `outPath`, created readable by this app only. Give a path in the app's private cache and
    /// delete the file once shown. Returns its size in bytes.
    pub fn open_received_photo(
        &self,
        record_id: String,
        photo_id: String,
        out_path: String,
    ) -> Result<i64, ApiError> {
        call("profile.open_received_photo", || {
            let (bytes, _) =
                self.store()?.open_received_evidence(&self.actor, &record_id, &photo_id)?;
            write_private(std::path::Path::new(&out_path), &bytes)?;
            Ok(i64::try_from(bytes.len()).unwrap_or(i64::MAX))
        })
    }

    // ----- team ---------------------------------------------------------------------------------

    /// Supervisors: set this device's team and the communes (5-digit codes) it works in.
    pub fn enroll(&self, team: String, communes: Vec<String>) -> Result<Enrollment, ApiError> {
        call("profile.enroll", || Ok(self.store()?.enroll(&self.actor, &team, &communes)?.into()))
    }

    /// Supervisors: set the areas (communes, villages) this device's volunteers are assigned
    /// to, as GeoJSON (a FeatureCollection with `code` and `name` properties), or `null` to clear
    /// them. Kept in the database with the enrollment: every later finalize, after any restart,
    /// flags a household visit outside the household's commune (`outsideArea`); without areas
    /// the sealed review lists that check as skipped. Invalid areas are refused
    /// (`InvalidAreas`, naming each bad feature) and the previous ones stay.
    pub fn set_assigned_areas(&self, geojson: Option<String>) -> Result<(), ApiError> {
        call("profile.set_assigned_areas", || {
            Ok(self.store()?.set_assigned_areas(&self.actor, geojson.as_deref())?)
        })
    }

    /// Supervisors: add (or relabel) a key that evidence is sealed to (`shrecip1…`).
    pub fn add_recipient(
        &self,
        public_key: String,
        kind: RecipientKind,
        label: String,
    ) -> Result<(), ApiError> {
        call("profile.add_recipient", || {
            Ok(self.store()?.add_recipient(&self.actor, &public_key, kind, &label)?)
        })
    }

    /// Supervisors: stop sealing to a key.
    pub fn remove_recipient(&self, public_key: String) -> Result<(), ApiError> {
        call("profile.remove_recipient", || {
            Ok(self.store()?.remove_recipient(&self.actor, &public_key)?)
        })
    }
}

/// Write `bytes` to a new file readable and writable by its owner only (0600 on Unix).
fn write_private(path: &std::path::Path, bytes: &[u8]) -> Result<(), ApiError> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let io = |e: std::io::Error| ApiError::InvalidInput { detail: format!("outPath: {e}") };
    let mut f = opts.open(path).map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    f.sync_all().map_err(io)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::logging::{LogLevel, LogRecord, LogSink, set_log_sink};
    use crate::records::Role;

    /// A sink that calls the draft back on every event.
    struct CallsBack {
        draft: Arc<DraftSession>,
        seen: Mutex<Vec<String>>,
    }

    impl LogSink for CallsBack {
        fn log(&self, record: LogRecord) -> Result<(), crate::errors::CallbackError> {
            let mut seen = self.seen.lock().unwrap();
            seen.push(format!("{}: {}", record.target, record.message));
            if seen.len() > 20 {
                return Ok(()); // the recursion this test is about; fail below, not overflow
            }
            drop(seen);
            let _ = self.draft.progress();
            Ok(())
        }
    }

    #[test]
    fn a_sink_may_call_the_api_without_deadlock_or_recursion() {
        let _one = crate::logging::tests::SERIAL.lock().unwrap_or_else(|p| p.into_inner());
        let dir = std::env::temp_dir().join(format!("safehome-ffi-draft-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.db").to_string_lossy().to_string();
        let store = SafeHomeStore::open(path, vec![7; 32], 420).unwrap();
        let sup = store.create_profile(None, "A".into(), Role::Supervisor, "1234".into()).unwrap();
        let sup = store.unlock(sup.id, "1234".into()).unwrap();
        let draft = sup.start_incident("injury_incident".into(), None, None).unwrap();
        let archive = safehome_core::evidence::keys::Identity::from_bytes([3; 32]).recipient();
        sup.add_recipient(archive.to_string(), crate::records::RecipientKind::Archive, "a".into())
            .unwrap();
        let sink = Arc::new(CallsBack { draft: Arc::clone(&draft), seen: Mutex::default() });
        set_log_sink(Some(sink.clone()), LogLevel::Debug).unwrap();
        // A failed call logs; the sink reads the draft (its lock is free again).
        assert_eq!(draft.clear("no_such_field".into()).unwrap_err().code(), "invalid_path");
        // The core logs while the draft is locked (photo sealed): the event waits until the call
        // has returned, so the sink's call back into the draft neither deadlocks nor recurses.
        let photo = safehome_testdata::photo("camera/DSCN0010.jpg");
        draft.attach_photo("injury_photo".into(), photo.display().to_string(), None).unwrap();
        // After closing, the sink's own call fails: that failure is not sent back into it.
        store.close_store().unwrap();
        set_log_sink(None, LogLevel::Debug).unwrap();
        let seen = sink.seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 3, "{seen:#?}");
        assert!(seen[0].starts_with("draft.clear: failed: invalid_path"), "{seen:#?}");
        assert!(seen[1].starts_with("safehome_core::store::attachments: attachment "), "{seen:#?}");
        assert!(seen[1].contains(": 640x480 photo sealed, "), "{seen:#?}");
        assert_eq!(seen[2], "store.close: store closed");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
