//! `DraftSession`: a visit or incident being filled, persisted by the store. It answers and
//! navigates like `FormSession`, but every change is autosaved (encrypted) before the call
//! returns, photos are attached from files, and `finalize` seals the record into the outbox.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use safehome_core::form::risk;
use safehome_core::store::profiles::Actor;
use safehome_core::store::records::Draft;
use safehome_core::store::{PhotoStep, Store};

use crate::answer::AnswerValue;
use crate::errors::ApiError;
use crate::form::FormDefinition;
use crate::guard::guard;
use crate::handle::StoreHandle;
use crate::logging::{self, LogLevel, call};
use crate::progress::{self, ProgressListener};
use crate::records::{
    AcceptedFix, Assessment, AttachmentInfo, FinalizeResult, GpsFix, Progress, Prompt,
    QuestionTiming, RecordKind, ValidationReport,
};

/// The draft, under the session's lock.
struct DraftState {
    draft: Draft,
}

/// A visit or incident being filled. Any thread may call any method; calls on one draft are
/// serialised. Changes (answers, navigation, repeats, photos) are written to the store before
/// the call returns, so the app may be killed at any moment; `ProfileSession.openDraft` resumes.
#[derive(uniffi::Object)]
pub struct DraftSession {
    handle: Arc<StoreHandle>,
    actor: Actor,
    record_id: String,
    kind: RecordKind,
    inner: Mutex<DraftState>,
    /// Set (under the lock) once `finalize` succeeded, after which the session only answers
    /// reads. Atomic so that `openDraft` can read it without waiting for the lock, which a
    /// long photo may hold or a callback's own thread may (a second lock would deadlock).
    finalized: AtomicBool,
}

impl std::fmt::Debug for DraftSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DraftSession").field("record_id", &self.record_id).finish_non_exhaustive()
    }
}

impl DraftSession {
    pub(crate) fn new(handle: Arc<StoreHandle>, actor: Actor, draft: Draft) -> Arc<Self> {
        Arc::new(DraftSession {
            handle,
            actor,
            record_id: draft.record_id.clone(),
            kind: draft.kind,
            inner: Mutex::new(DraftState { draft }),
            finalized: AtomicBool::new(false),
        })
    }

    /// The profile that owns the draft.
    pub(crate) fn owner_id(&self) -> &str {
        self.actor.profile_id()
    }

    /// Whether `finalize` succeeded on this session (it then refuses every change).
    pub(crate) fn is_finalized(&self) -> bool {
        self.finalized.load(Ordering::SeqCst)
    }

    /// Read the draft under its lock (the store must still be open).
    fn read<T>(
        &self,
        operation: &'static str,
        f: impl FnOnce(&Draft) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        call(operation, || {
            self.handle.get()?;
            let state = self.inner.lock().map_err(|_| ApiError::poisoned())?;
            f(&state.draft)
        })
    }

    /// Change the draft under its lock, unless it was finalized.
    fn write<T>(
        &self,
        operation: &'static str,
        f: impl FnOnce(&Store, &mut Draft) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        call(operation, || {
            let store = self.handle.get()?;
            let mut state = self.inner.lock().map_err(|_| ApiError::poisoned())?;
            if self.is_finalized() {
                return Err(ApiError::InvalidState {
                    detail: format!("record {} is finalized; cannot edit", self.record_id),
                });
            }
            f(&store, &mut state.draft)
        })
    }
}

#[uniffi::export]
impl DraftSession {
    /// The record's id (also its id in `ProfileSession.record` and the outbox).
    pub fn record_id(&self) -> Result<String, ApiError> {
        guard(|| Ok(self.record_id.clone()))
    }

    pub fn kind(&self) -> Result<RecordKind, ApiError> {
        guard(|| Ok(self.kind))
    }

    /// The form being filled.
    pub fn form(&self) -> Result<Arc<FormDefinition>, ApiError> {
        self.read("draft.form", |d| {
            Ok(Arc::new(FormDefinition { form: Arc::clone(d.session().form()) }))
        })
    }

    // ----- answering (autosaved) ----------------------------------------------------------------

    /// Answer the question at `path` and autosave. Returns whether the question's constraint
    /// holds (a violated constraint is stored and reported by `validate`). A refused answer
    /// (`InvalidAnswer`, `InvalidPath`, `NotAllowed`) changes nothing.
    pub fn answer(&self, path: String, value: AnswerValue) -> Result<bool, ApiError> {
        self.write("draft.answer", |store, d| Ok(store.set_answer(d, &path, &value)?))
    }

    /// Answer a geopoint worse than the question's warning accuracy, with the volunteer's
    /// explicit confirmation; autosaved.
    pub fn answer_confirmed(&self, path: String, value: AnswerValue) -> Result<bool, ApiError> {
        self.write("draft.answer_confirmed", |store, d| {
            Ok(store.edit(d, |s| s.set_confirmed(&path, &value))?)
        })
    }

    /// Answer the geopoint question at `path` with a fix from the platform: the core validates
    /// the fix (`InvalidFix` names the reason), applies the question's capture and warning
    /// accuracy (a fix worse than the warning needs `confirmed = true`, else `InvalidFix` with
    /// `confirmation_required`), and stores the answer with the whole fix (autosaved). At
    /// `finalize` the store computes the location quality flags from it (mock provider, low
    /// accuracy, far from the household, outside its commune, impossible travel, photos far
    /// away): `RecordView.qualityFlags`.
    pub fn answer_fix(
        &self,
        path: String,
        fix: GpsFix,
        confirmed: bool,
    ) -> Result<AcceptedFix, ApiError> {
        self.write("draft.answer_fix", |store, d| {
            Ok(store.answer_fix(&self.actor, d, &path, &fix.into(), confirmed)?.into())
        })
    }

    /// Clear the answer at `path`; autosaved.
    pub fn clear(&self, path: String) -> Result<(), ApiError> {
        self.write("draft.clear", |store, d| Ok(store.edit(d, |s| s.clear_answer(&path))?))
    }

    /// Add an instance to an open-ended repeat; returns its path. Autosaved.
    pub fn add_repeat(&self, path: String) -> Result<String, ApiError> {
        self.write("draft.add_repeat", |store, d| Ok(store.edit(d, |s| s.add_repeat(&path))?))
    }

    /// Remove one instance of an open-ended repeat; later ones move up. Autosaved.
    pub fn remove_repeat(&self, path: String) -> Result<(), ApiError> {
        self.write("draft.remove_repeat", |store, d| Ok(store.edit(d, |s| s.remove_repeat(&path))?))
    }

    /// Process a photo file (JPEG, PNG or WebP; convert HEIC first), seal it to the team's
    /// recipients and attach it to the image question at `fieldPath`, in one transaction with
    /// the answer that names it. The file is read, never changed or deleted; the app deletes its
    /// camera file afterwards. Call it off the UI thread: a large photo takes a while. The
    /// draft is not held while the photo is processed and sealed, so other calls on it (the
    /// volunteer answering the next question) go on meanwhile. Progress: `attach_photo` 0/3,
    /// then 1/3 processed, 2/3 sealed, 3/3 attached (or failed).
    #[uniffi::method(default(progress = None))]
    pub fn attach_photo(
        &self,
        field_path: String,
        file_path: String,
        progress: Option<Arc<dyn ProgressListener>>,
    ) -> Result<AttachmentInfo, ApiError> {
        const OPERATION: &str = "draft.attach_photo";
        const STEPS: i32 = 3;
        progress::report(progress.as_ref(), "attach_photo", 0, STEPS);
        let result = self
            .write(OPERATION, |store, d| Ok(store.photo_target(&self.actor, d, &field_path)?))
            .and_then(|target| {
                call(OPERATION, || {
                    let store = self.handle.get()?;
                    Ok(store.prepare_photo(&target, Path::new(&file_path), &mut |step| {
                        let done = match step {
                            PhotoStep::Processed => 1,
                            PhotoStep::Sealed => 2,
                        };
                        progress::report(progress.as_ref(), "attach_photo", done, STEPS);
                    })?)
                })
            })
            .and_then(|prepared| {
                self.write(OPERATION, |store, d| {
                    Ok(store.attach_prepared(&self.actor, d, prepared)?.into())
                })
            });
        progress::report(progress.as_ref(), "attach_photo", STEPS, STEPS);
        result
    }

    // ----- navigation (the position is autosaved too) -------------------------------------------

    /// Move to the next visible prompt; `null` at the end.
    pub fn next_prompt(&self) -> Result<Option<Prompt>, ApiError> {
        self.write("draft.next_prompt", |store, d| {
            Ok(store.edit(d, |s| Ok(s.next_prompt()))?.map(Prompt::from))
        })
    }

    /// Move to the previous visible prompt; `null` at the start.
    pub fn previous_prompt(&self) -> Result<Option<Prompt>, ApiError> {
        self.write("draft.previous_prompt", |store, d| {
            Ok(store.edit(d, |s| Ok(s.previous_prompt()))?.map(Prompt::from))
        })
    }

    /// Jump to the prompt at `path` (e.g. a violation's path).
    pub fn go_to(&self, path: String) -> Result<Prompt, ApiError> {
        self.write("draft.go_to", |store, d| Ok(store.edit(d, |s| s.go_to(&path))?.into()))
    }

    /// Show labels in `language`, one of the form's languages.
    pub fn set_language(&self, language: String) -> Result<(), ApiError> {
        self.write("draft.set_language", |store, d| {
            Ok(store.edit(d, |s| s.set_language(&language))?)
        })
    }

    // ----- reading ------------------------------------------------------------------------------

    /// The prompt the volunteer is on; `null` before the first `nextPrompt`.
    pub fn current(&self) -> Result<Option<Prompt>, ApiError> {
        self.read("draft.current", |d| Ok(d.session().current().map(Prompt::from)))
    }

    /// The prompt at `path`, without moving.
    pub fn prompt(&self, path: String) -> Result<Prompt, ApiError> {
        self.read("draft.prompt", |d| Ok(d.session().prompt_at(&path)?.into()))
    }

    /// Every visible prompt, in form order.
    pub fn visible_prompts(&self) -> Result<Vec<Prompt>, ApiError> {
        self.read("draft.visible_prompts", |d| {
            Ok(d.session().visible_prompts().into_iter().map(Prompt::from).collect())
        })
    }

    pub fn progress(&self) -> Result<Progress, ApiError> {
        self.read("draft.progress", |d| Ok(d.session().progress().into()))
    }

    /// Every reason the filling is not valid yet (what `finalize` would refuse).
    pub fn validate(&self) -> Result<ValidationReport, ApiError> {
        self.read("draft.validate", |d| Ok(d.session().validate().into()))
    }

    /// The risk assessment of the answers so far; `null` for forms without risk rules.
    pub fn risk_assessment(&self) -> Result<Option<Assessment>, ApiError> {
        self.read("draft.risk_assessment", |d| Ok(risk::assess(d.session()).map(Assessment::from)))
    }

    pub fn language(&self) -> Result<String, ApiError> {
        self.read("draft.language", |d| Ok(d.session().language().to_string()))
    }

    /// The name of this filling for lists (the form's `instance_name`), or "".
    pub fn instance_name(&self) -> Result<String, ApiError> {
        self.read("draft.instance_name", |d| Ok(d.session().instance_name()))
    }

    /// The filled form as JSON: relevant fields with values, repeats as lists.
    pub fn output_json(&self) -> Result<String, ApiError> {
        self.read("draft.output_json", |d| Ok(d.session().output().to_string()))
    }

    /// Time spent per question, in the order questions were first reached.
    pub fn timings(&self) -> Result<Vec<QuestionTiming>, ApiError> {
        self.read("draft.timings", |d| {
            Ok(d.session().timings().into_iter().map(QuestionTiming::from).collect())
        })
    }

    // ----- finalize -----------------------------------------------------------------------------

    /// Finalize in one transaction: validate (`NotValid` with the count and first path),
    /// assess risk, sign the submission with the device key, queue it and its photos in the
    /// outbox, append to the audit chain. Afterwards the draft answers reads only; changes fail
    /// with `InvalidState`.
    #[uniffi::method(default(progress = None))]
    pub fn finalize(
        &self,
        progress: Option<Arc<dyn ProgressListener>>,
    ) -> Result<FinalizeResult, ApiError> {
        progress::report(progress.as_ref(), "finalize", 0, 1);
        let result = call("draft.finalize", || {
            let store = self.handle.get()?;
            let state = self.inner.lock().map_err(|_| ApiError::poisoned())?;
            if self.is_finalized() {
                return Err(ApiError::InvalidState {
                    detail: format!("record {} is already finalized", self.record_id),
                });
            }
            let done = store.finalize(&self.actor, &state.draft)?;
            self.finalized.store(true, Ordering::SeqCst);
            Ok(FinalizeResult::from(done))
        });
        if let Ok(done) = &result {
            logging::emit(LogLevel::Info, "draft.finalize", || {
                format!("record {} finalized and queued", done.record_id)
            });
        }
        progress::report(progress.as_ref(), "finalize", 1, 1);
        result
    }
}
