//! The phone's sync engine (docs/protocol.md, "The client's sync"), sans-IO: a state machine
//! that, given the store and an unlocked profile, yields the next [`HttpRequest`] to send and
//! consumes its [`HttpResponse`] or [`TransportError`]. It does no network I/O itself, so the
//! same engine runs over the CLI's Rust transport and the apps' Kotlin and Swift ones, and the
//! tests drive it with a fake server.
//!
//! One sync: `POST /v1/checkin`, `GET /v1/config`, then each record due in the outbox, urgent
//! first, then by due time, then oldest: seal it if needed (the body is kept once sealed), upload
//! each evidence file not yet uploaded with tus (create or resume with `HEAD`, then `PATCH` in
//! chunks of [`CHUNK_LEN`]), then `PUT` the submission (or, if the server already holds it,
//! `GET` its receipt) and apply the receipt once it verifies under the pinned key.
//!
//! What a hostile or broken server can make the phone spend is bounded: JSON bodies over
//! [`MAX_JSON_BODY`] are refused unread, each record gets at most a fixed number of immediate
//! retries and of requests (from its size), each record is tried once per sync, and an upload
//! offset must move forward by exactly the chunk sent.

use std::collections::VecDeque;

use serde_json::Value as Json;

use super::base64;
use super::protocol::{
    CheckinRequest, CheckinResponse, ErrorBody, ErrorClass, H_SERVER_TIME, KeyRotation, Receipt,
    RequestAuth, RoutingEvidence, RoutingForm, RoutingHeader, SUBMISSION_CONTENT_TYPE,
    SubmissionBody, TeamConfig, classify, sha256_hex,
};
use super::report::{ItemOutcome, SyncError, SyncProgress, SyncReport};
use super::review::{DEFAULT_EVIDENCE_BUDGET, ReviewSync};
use super::transport::{CHUNK_LEN, HttpRequest, HttpResponse, TransportError};
use crate::evidence::envelope::{Randomness, seal_bytes};
use crate::evidence::keys::ServerPublicKey;
use crate::evidence::meta::EvidenceInfo;
use crate::store::outbox::OutboxState;
use crate::store::profiles::Actor;
use crate::store::sync_state::TeamUpdate;
use crate::store::upload::UploadItem;
use crate::store::{Action, Store, StoreError};

/// The largest JSON body (configuration, receipt, checkin answer, error) the engine parses.
pub const MAX_JSON_BODY: usize = 256 << 10;
/// Immediate retries of one record within a sync (a cut connection, `replayed`, a resumed or
/// recreated upload, a chunk whose checksum failed); after them, the outbox's backoff.
pub const IMMEDIATE_RETRIES: u32 = 4;
/// The content type sealed inside a submission's envelope (its canonical JSON).
pub const SUBMISSION_ENVELOPE_TYPE: &str = "application/vnd.safehome.submission+json";
/// The tus collection.
pub const EVIDENCE_PATH: &str = "/v1/evidence/";
const TUS_RESUMABLE: &str = "Tus-Resumable";
const TUS_VERSION: &str = "1.0.0";
const MAX_UPLOAD_PATH: usize = 256;
const MAX_SERVER_TEXT: usize = 200;

/// Where a sync is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Checkin,
    Config,
    Items,
    /// The review half: decisions up, the team's submissions and decisions down.
    Review,
    Done,
}

/// The next request of the record being sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// tus creation of the current evidence file.
    Create,
    /// Read the current evidence upload's offset.
    Head,
    /// Send the chunk at this offset.
    Patch(u64),
    /// Send the submission.
    Put,
    /// The server holds the submission: fetch its receipt.
    Receipt,
}

/// One evidence file to upload.
#[derive(Debug)]
struct Evidence {
    outbox_id: String,
    attachment_id: String,
    sha256: String,
    len: u64,
    url: Option<String>,
    /// Loaded when its first chunk goes, dropped when it is uploaded.
    envelope: Option<Vec<u8>>,
}

/// The record being sent.
#[derive(Debug)]
struct Work {
    item: UploadItem,
    body: Vec<u8>,
    envelope_sha256: String,
    evidence: Vec<Evidence>,
    index: usize,
    step: Step,
    retries_left: u32,
    requests_left: u64,
}

impl Work {
    /// The step after the current evidence file (or, with none left, the submission's).
    fn step_after_evidence(&self) -> Step {
        match self.evidence.get(self.index) {
            Some(e) if e.url.is_some() => Step::Head,
            Some(_) => Step::Create,
            None if self.item.state == OutboxState::Uploaded => Step::Receipt,
            None => Step::Put,
        }
    }

    fn current(&self) -> Result<&Evidence, SyncError> {
        self.evidence.get(self.index).ok_or(SyncError::Misuse("no evidence file in progress"))
    }

    fn current_mut(&mut self) -> Result<&mut Evidence, SyncError> {
        self.evidence.get_mut(self.index).ok_or(SyncError::Misuse("no evidence file in progress"))
    }
}

#[derive(Debug, Clone, Copy)]
struct InFlight {
    sent_at_ms: i64,
    body_len: usize,
}

/// An error response, read defensively.
struct ServerError {
    status: u16,
    code: String,
    message: String,
    body: ErrorBody,
}

/// One sync with the server, step by step. Drive it with [`Engine::poll_request`] and
/// [`Engine::handle`] until `poll_request` answers `None`, then [`Engine::finish`]; or let
/// [`crate::sync::run`] do it.
pub struct Engine<'s> {
    store: &'s Store,
    actor: String,
    server_key: ServerPublicKey,
    offset_ms: i64,
    stage: Stage,
    queue: VecDeque<UploadItem>,
    work: Option<Work>,
    in_flight: Option<InFlight>,
    skew_retried: bool,
    stage_retries: u32,
    report: SyncReport,
    progress: SyncProgress,
    /// The configuration this sync verified, for the review half.
    config: Option<TeamConfig>,
    review: Option<ReviewSync>,
    evidence_budget: i64,
}

impl std::fmt::Debug for Engine<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("stage", &self.stage).finish_non_exhaustive()
    }
}

impl<'s> Engine<'s> {
    /// Start a sync for the device, on behalf of an unlocked profile (any role: the outbox is
    /// the device's, and everything in it is sealed). `NotEnrolled` without a pinned server
    /// key; `Tampered` if the stored sync state was edited.
    pub fn new(store: &'s Store, actor: &Actor) -> Result<Engine<'s>, SyncError> {
        let state = store.sync_state()?;
        let key = state.server_key.as_deref().ok_or(SyncError::NotEnrolled)?;
        let server_key: ServerPublicKey = key.parse().map_err(|e| {
            SyncError::Store(StoreError::BadData(format!("sync_state.server_key: {e}")))
        })?;
        let now = store.now_ms();
        Ok(Engine {
            store,
            actor: actor.profile_id().to_string(),
            server_key,
            offset_ms: state.clock_offset_ms,
            stage: Stage::Checkin,
            queue: VecDeque::new(),
            work: None,
            in_flight: None,
            skew_retried: false,
            stage_retries: IMMEDIATE_RETRIES,
            report: SyncReport { started_at_ms: now, ..SyncReport::default() },
            progress: SyncProgress::default(),
            config: None,
            review: None,
            evidence_budget: DEFAULT_EVIDENCE_BUDGET,
        })
    }

    /// Evidence bytes of the team's records this sync may fetch ahead of being asked (0 on a
    /// metered network: only the files the supervisor asked for come).
    pub fn set_evidence_budget(&mut self, bytes: i64) {
        self.evidence_budget = bytes.max(0);
    }

    /// How far the sync is.
    pub fn progress(&self) -> &SyncProgress {
        &self.progress
    }

    /// The report so far.
    pub fn report(&self) -> &SyncReport {
        &self.report
    }

    /// The server's clock minus the device's, as learned so far.
    pub fn clock_offset_ms(&self) -> i64 {
        self.offset_ms
    }

    /// The next request to send, or `None` when the sync is over (then call `finish`). Exactly
    /// one request is in flight at a time: answer each with `handle` before asking again.
    pub fn poll_request(&mut self) -> Result<Option<HttpRequest>, SyncError> {
        if self.in_flight.is_some() {
            return Err(SyncError::Misuse("a request is already in flight"));
        }
        let request = loop {
            match self.stage {
                Stage::Done => return Ok(None),
                Stage::Checkin => break self.checkin_request()?,
                Stage::Config => {
                    break self.signed("GET", "/v1/config".into(), Vec::new(), Vec::new());
                }
                Stage::Review => {
                    let planned = match self.review.as_mut() {
                        Some(review) => review.next(self.store)?,
                        None => None,
                    };
                    match planned {
                        Some((method, path, headers, body)) => {
                            break self.signed(method, path, headers, body);
                        }
                        None => {
                            self.stage = Stage::Done;
                            continue;
                        }
                    }
                }
                Stage::Items => {
                    if self.work.is_none() {
                        let Some(item) = self.queue.pop_front() else {
                            self.start_review()?;
                            continue;
                        };
                        self.work = self.start_item(item)?;
                        continue;
                    }
                    if let Some(request) = self.item_request()? {
                        break request;
                    }
                }
            }
        };
        self.in_flight =
            Some(InFlight { sent_at_ms: self.store.now_ms(), body_len: request.body.len() });
        Ok(Some(request))
    }

    /// Consume the answer to the request in flight.
    pub fn handle(
        &mut self,
        answer: Result<HttpResponse, TransportError>,
    ) -> Result<(), SyncError> {
        let sent = self.in_flight.take().ok_or(SyncError::Misuse("no request in flight"))?;
        let response = match answer {
            Ok(r) => r,
            Err(e) => return self.on_transport_error(e),
        };
        self.learn_time(&response, sent.sent_at_ms);
        let sent_len = i64::try_from(sent.body_len).unwrap_or(i64::MAX);
        self.report.bytes_sent = self.report.bytes_sent.saturating_add(sent_len);
        self.progress.bytes_sent = self.report.bytes_sent;
        if self.stage == Stage::Review {
            return self.on_review_answer(&response);
        }
        if (200..300).contains(&response.status) {
            self.skew_retried = false;
            match self.stage {
                Stage::Checkin => self.on_checkin(&response),
                Stage::Config => self.on_config(&response),
                Stage::Items => self.on_item_success(&response),
                Stage::Review | Stage::Done => {
                    Err(SyncError::Misuse("an answer after the sync ended"))
                }
            }
        } else {
            self.on_error(&response)
        }
    }

    /// End the sync: keep its summary, the clock offset and a `synced` audit entry, and return
    /// the report.
    pub fn finish(mut self) -> Result<SyncReport, SyncError> {
        let result = match &self.report.interrupted {
            None => "ok".to_string(),
            Some(why) => format!("interrupted: {why}"),
        };
        self.record_end(&result)?;
        tracing::info!(
            "sync {result}: {} acknowledged, {} incomplete, {} parked, {} failed, {} bytes sent",
            self.report.acknowledged.len(),
            self.report.incomplete.len(),
            self.report.parked.len(),
            self.report.failed.len(),
            self.report.bytes_sent
        );
        Ok(self.report)
    }

    /// End a sync that failed with `error`: keep that as the last sync's result (best effort:
    /// a store that cannot be written is what the error already says).
    pub fn abort(mut self, error: &SyncError) {
        let result = format!("error: {error}");
        if let Err(e) = self.record_end(&result) {
            tracing::warn!("the failed sync's summary was not kept: {e}");
        }
        tracing::warn!("sync ended: {error}");
    }

    fn record_end(&mut self, result: &str) -> Result<(), SyncError> {
        if let Some(review) = self.review.take() {
            self.report.review = review.report;
        }
        let now = self.store.now_ms();
        self.report.finished_at_ms = now;
        self.report.clock_offset_ms = self.offset_ms;
        let (waiting, parked) = self.store.outbox_counts()?;
        self.report.outbox_waiting = waiting;
        self.report.outbox_parked = parked;
        let summary = serde_json::to_string(&self.report.summary(result))
            .map_err(|e| StoreError::Encode { what: "sync summary", detail: e.to_string() })?;
        let offset = self.offset_ms;
        self.store.update_sync_state(Some(&self.actor), Some(Action::Synced), |s| {
            s.last_sync_at_ms = Some(now);
            s.last_sync = Some(summary);
            s.clock_offset_ms = offset;
            Ok(())
        })?;
        Ok(())
    }

    // ----- requests ------------------------------------------------------------------------

    fn signed(
        &self,
        method: &str,
        path: String,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    ) -> HttpRequest {
        sign_request(self.store, self.offset_ms, method, path, headers, body)
    }

    fn checkin_request(&self) -> Result<HttpRequest, SyncError> {
        let (audit_length, audit_head) = self.store.audit_head()?;
        let (pending, parked) = self.store.outbox_counts()?;
        let body = CheckinRequest {
            audit_length,
            audit_head,
            pending,
            parked,
            app_version: crate::VERSION.to_string(),
            device_time_ms: self.store.now_ms(),
        };
        Ok(self.signed("POST", "/v1/checkin".into(), json_headers(), to_json(&body)?))
    }

    /// The next request of the current record, or `None` if the record ended without one
    /// (it failed before sending anything more).
    fn item_request(&mut self) -> Result<Option<HttpRequest>, SyncError> {
        let Some(work) = self.work.as_mut() else {
            return Err(SyncError::Misuse("no record in progress"));
        };
        if work.requests_left == 0 {
            self.fail_item("too many requests for one record in one sync".into())?;
            return Ok(None);
        }
        if let Step::Patch(_) = work.step {
            if !self.load_envelope()? {
                return Ok(None);
            }
        }
        let Some(work) = self.work.as_mut() else {
            return Err(SyncError::Misuse("no record in progress"));
        };
        work.requests_left -= 1;
        let tus = || vec![(TUS_RESUMABLE.to_string(), TUS_VERSION.to_string())];
        let record_id = work.item.record_id.clone();
        let (method, path, headers, body) = match work.step {
            Step::Create => {
                let e = work.current()?;
                let metadata = format!(
                    "record_id {},evidence_id {},sha256 {}",
                    base64::encode(record_id.as_bytes()),
                    base64::encode(e.attachment_id.as_bytes()),
                    base64::encode(e.sha256.as_bytes())
                );
                let mut h = tus();
                h.push(("Upload-Length".into(), e.len.to_string()));
                h.push(("Upload-Metadata".into(), metadata));
                ("POST", EVIDENCE_PATH.to_string(), h, Vec::new())
            }
            Step::Head => {
                let url = work
                    .current()?
                    .url
                    .clone()
                    .ok_or(SyncError::Misuse("HEAD without an upload"))?;
                ("HEAD", url, tus(), Vec::new())
            }
            Step::Patch(offset) => {
                let e = work.current()?;
                let url = e.url.clone().ok_or(SyncError::Misuse("PATCH without an upload"))?;
                let env = e.envelope.as_deref().unwrap_or_default();
                let start = usize::try_from(offset).unwrap_or(usize::MAX).min(env.len());
                let end = start.saturating_add(CHUNK_LEN).min(env.len());
                let chunk = env[start..end].to_vec();
                let digest = ring::digest::digest(&ring::digest::SHA256, &chunk);
                let mut h = tus();
                h.push(("Upload-Offset".into(), offset.to_string()));
                h.push(("Content-Type".into(), "application/offset+octet-stream".into()));
                h.push((
                    "Upload-Checksum".into(),
                    format!("sha256 {}", base64::encode(digest.as_ref())),
                ));
                ("PATCH", url, h, chunk)
            }
            Step::Put => {
                let h = vec![("Content-Type".to_string(), SUBMISSION_CONTENT_TYPE.to_string())];
                ("PUT", format!("/v1/submissions/{record_id}"), h, work.body.clone())
            }
            Step::Receipt => {
                ("GET", format!("/v1/submissions/{record_id}/receipt"), Vec::new(), Vec::new())
            }
        };
        Ok(Some(self.signed(method, path, headers, body)))
    }

    /// Load the current evidence file's envelope for its chunks, checked against its outbox
    /// item; `false` if it does not match (the record failed).
    fn load_envelope(&mut self) -> Result<bool, SyncError> {
        let Some(work) = self.work.as_mut() else {
            return Err(SyncError::Misuse("no record in progress"));
        };
        let e = work.current_mut()?;
        if e.envelope.is_some() {
            return Ok(true);
        }
        let env = self.store.evidence_envelope(&e.attachment_id)?;
        if env.len() as u64 != e.len || sha256_hex(&env) != e.sha256 {
            self.fail_item("the stored evidence envelope does not match its outbox item".into())?;
            return Ok(false);
        }
        e.envelope = Some(env);
        Ok(true)
    }

    // ----- a record -------------------------------------------------------------------------

    /// Seal the record if needed and plan its requests; `None` if it failed already (counted).
    fn start_item(&mut self, item: UploadItem) -> Result<Option<Work>, SyncError> {
        let body = match self.store.sealed_body(&item.outbox_id)? {
            Some(body) => body,
            None => match self.seal(&item) {
                Ok(body) => body,
                Err(e @ (SyncError::Seal(_) | SyncError::Store(StoreError::NoRecipients))) => {
                    self.item_failed(&item, format!("cannot seal: {e}"))?;
                    return Ok(None);
                }
                Err(SyncError::Invalid { field, message }) => {
                    self.item_failed(&item, format!("cannot seal: {field}: {message}"))?;
                    return Ok(None);
                }
                Err(e) => return Err(e),
            },
        };
        let envelope_sha256 = match SubmissionBody::decode(&body) {
            Ok(b) => b.routing.envelope_sha256,
            Err(e) => {
                self.item_failed(&item, format!("the kept submission body is unreadable: {e}"))?;
                return Ok(None);
            }
        };
        let evidence: Vec<Evidence> = self
            .store
            .evidence_items(&item.record_id)?
            .into_iter()
            .filter(|e| e.state == OutboxState::Pending)
            .map(|e| Evidence {
                outbox_id: e.outbox_id,
                attachment_id: e.attachment_id,
                sha256: e.sha256,
                len: u64::try_from(e.len).unwrap_or(0),
                url: e.upload_url,
                envelope: None,
            })
            .collect();
        // Bytes this record really sends, now that it is sealed.
        let body_bytes = if item.state == OutboxState::Uploaded { 0 } else { body.len() as u64 };
        let actual: u64 = body_bytes + evidence.iter().map(|e| e.len).sum::<u64>();
        let actual = i64::try_from(actual).unwrap_or(i64::MAX);
        self.progress.bytes_total =
            self.progress.bytes_total.saturating_add(actual).saturating_sub(item.bytes);
        // Every chunk, a create or HEAD per file, the submission and its receipt, and every
        // immediate retry (each may need a HEAD before it).
        let chunks: u64 = evidence.iter().map(|e| e.len.div_ceil(CHUNK_LEN as u64)).sum();
        let requests_left =
            chunks + 2 * evidence.len() as u64 + 4 + 2 * u64::from(IMMEDIATE_RETRIES);
        let mut work = Work {
            item,
            body,
            envelope_sha256,
            evidence,
            index: 0,
            step: Step::Put,
            retries_left: IMMEDIATE_RETRIES,
            requests_left,
        };
        work.step = work.step_after_evidence();
        Ok(Some(work))
    }

    /// Seal a record's submission to the current recipients, wrap it with its signed routing
    /// header, and keep the body (or the one kept meanwhile).
    fn seal(&self, item: &UploadItem) -> Result<Vec<u8>, SyncError> {
        let src = self.store.upload_source(&item.record_id)?;
        let team = src.team.clone().ok_or_else(|| SyncError::Invalid {
            field: "team",
            message: "the device has no team".into(),
        })?;
        let recipients = self.store.recipient_keys()?;
        let info = EvidenceInfo {
            evidence_id: src.record_id.clone(),
            content_type: SUBMISSION_ENVELOPE_TYPE.to_string(),
            ..EvidenceInfo::default()
        };
        let (envelope, _) = seal_bytes(
            &src.submission,
            info,
            &recipients,
            self.store.device_key(),
            self.store.now_ms(),
            Randomness::System,
        )?;
        let routing = RoutingHeader {
            schema: super::protocol::ROUTING_SCHEMA.to_string(),
            record_id: src.record_id.clone(),
            kind: src.kind.as_str().to_string(),
            form: RoutingForm { id: src.form_id.clone(), version: src.form_version.clone() },
            team,
            commune: src.commune.clone(),
            household_code: src.household_code.clone(),
            risk_level: src.risk_level.map(|l| l.as_str().to_string()),
            due_at_ms: src.due_at_ms,
            finalized_at_ms: src.finalized_at_ms,
            clock_offset_ms: self.offset_ms,
            device_id: self.store.device_id().to_string(),
            revision: src.revision,
            revision_of: src.revision_of.clone(),
            envelope_sha256: String::new(),
            envelope_len: 0,
            evidence: src
                .evidence
                .iter()
                .map(|e| RoutingEvidence {
                    id: e.attachment_id.clone(),
                    sha256: e.sha256.clone(),
                    len: e.len,
                })
                .collect(),
        };
        let body = SubmissionBody::build(routing, envelope, self.store.device_key())
            .map_err(|e| SyncError::Invalid { field: "routing", message: e.to_string() })?;
        let sha: [u8; 32] = crate::hex::decode_array(&body.routing.envelope_sha256)
            .map_err(|_| SyncError::Misuse("envelope hash"))?;
        Ok(self.store.keep_sealed_body(Some(&self.actor), &src.outbox_id, &body.encode(), &sha)?)
    }

    fn on_item_success(&mut self, response: &HttpResponse) -> Result<(), SyncError> {
        let Some(work) = self.work.as_mut() else {
            return Err(SyncError::Misuse("an item answer with no record in progress"));
        };
        match work.step {
            Step::Create => {
                let Some(url) = response.header("Location").and_then(upload_path) else {
                    return self
                        .fail_item("tus creation answered without a usable Location".into());
                };
                let offset = match response.header("Upload-Offset") {
                    None => 0,
                    Some(v) => match v.trim().parse::<u64>() {
                        Ok(o) => o,
                        Err(_) => return self.fail_item("tus creation: bad Upload-Offset".into()),
                    },
                };
                let e = work.current_mut()?;
                e.url = Some(url.clone());
                let (outbox_id, len) = (e.outbox_id.clone(), e.len);
                self.store.set_upload_url(&outbox_id, Some(&url))?;
                self.at_offset(offset, len)
            }
            Step::Head => {
                let len = work.current()?.len;
                let offset =
                    response.header("Upload-Offset").and_then(|v| v.trim().parse::<u64>().ok());
                let length =
                    response.header("Upload-Length").and_then(|v| v.trim().parse::<u64>().ok());
                match (offset, length) {
                    (Some(_), Some(l)) if l != len => {
                        // Not this file's upload: start a new one.
                        self.forget_upload()?;
                        Ok(())
                    }
                    (Some(o), _) => self.at_offset(o, len),
                    (None, _) => self.fail_item("tus HEAD answered without Upload-Offset".into()),
                }
            }
            Step::Patch(offset) => {
                let len = work.current()?.len;
                let sent = (CHUNK_LEN as u64).min(len.saturating_sub(offset));
                let new =
                    response.header("Upload-Offset").and_then(|v| v.trim().parse::<u64>().ok());
                if new != Some(offset + sent) {
                    return self.fail_item(
                        "tus PATCH: the server's offset does not follow the chunk".into(),
                    );
                }
                self.at_offset(offset + sent, len)
            }
            Step::Put | Step::Receipt => self.on_receipt(response),
        }
    }

    /// The current evidence upload is at `offset` of `len`: go on with it, or with the next.
    fn at_offset(&mut self, offset: u64, len: u64) -> Result<(), SyncError> {
        if offset > len {
            return self.fail_item("tus: the server's offset is past the file's length".into());
        }
        let Some(work) = self.work.as_mut() else {
            return Err(SyncError::Misuse("no record in progress"));
        };
        if offset < len {
            work.step = Step::Patch(offset);
            return Ok(());
        }
        let outbox_id = work.current()?.outbox_id.clone();
        work.current_mut()?.envelope = None;
        work.index += 1;
        work.step = work.step_after_evidence();
        self.store.outbox_uploaded(&outbox_id)?;
        Ok(())
    }

    /// Drop the current evidence file's upload and create a new one.
    fn forget_upload(&mut self) -> Result<(), SyncError> {
        let Some(work) = self.work.as_mut() else {
            return Err(SyncError::Misuse("no record in progress"));
        };
        let e = work.current_mut()?;
        e.url = None;
        let outbox_id = e.outbox_id.clone();
        work.step = Step::Create;
        self.store.set_upload_url(&outbox_id, None)?;
        Ok(())
    }

    fn on_receipt(&mut self, response: &HttpResponse) -> Result<(), SyncError> {
        let Some(work) = self.work.as_ref() else {
            return Err(SyncError::Misuse("a receipt with no record in progress"));
        };
        let document = match parse_json(&response.body) {
            Ok(d) => d,
            Err(why) => return self.fail_item(format!("receipt: {why}")),
        };
        // A receipt that does not verify is no answer at all (docs/protocol.md).
        let receipt = match Receipt::verify(&document, &self.server_key) {
            Ok(r) => r,
            Err(e) => return self.fail_item(format!("the receipt does not verify: {e}")),
        };
        if receipt.record_id != work.item.record_id
            || receipt.envelope_sha256 != work.envelope_sha256
            || receipt.device_id != self.store.device_id()
        {
            return self.fail_item("the receipt names another submission".into());
        }
        let text = String::from_utf8_lossy(&response.body).into_owned();
        let outcome = self.store.apply_receipt(
            Some(&self.actor),
            &work.item.record_id,
            &work.envelope_sha256,
            &text,
            receipt.complete,
            &receipt.missing_evidence,
        )?;
        let done = ItemOutcome {
            record_id: work.item.record_id.clone(),
            outbox_id: work.item.outbox_id.clone(),
            reason: None,
        };
        if outcome.complete {
            self.report.acknowledged.push(done);
        } else {
            let reason = format!("{} evidence file(s) not yet received", outcome.evidence_missing);
            self.report.incomplete.push(ItemOutcome { reason: Some(reason), ..done });
        }
        self.item_done();
        Ok(())
    }

    fn item_done(&mut self) {
        self.work = None;
        self.progress.items_done += 1;
    }

    /// The current record failed: back off (the outbox's schedule) and go on with the next.
    fn fail_item(&mut self, reason: String) -> Result<(), SyncError> {
        let Some(work) = self.work.take() else {
            return Err(SyncError::Misuse("no record in progress"));
        };
        self.item_failed(&work.item, reason)
    }

    fn item_failed(&mut self, item: &UploadItem, reason: String) -> Result<(), SyncError> {
        self.store.outbox_failed(&item.outbox_id, &reason)?;
        tracing::warn!("record {} not sent: {reason}", item.record_id);
        self.report.failed.push(ItemOutcome {
            record_id: item.record_id.clone(),
            outbox_id: item.outbox_id.clone(),
            reason: Some(reason),
        });
        self.work = None;
        self.progress.items_done += 1;
        Ok(())
    }

    /// The server refused the current record for good: park it (and the evidence file being
    /// sent, if that was what was refused).
    fn park_item(&mut self, error: &ServerError) -> Result<(), SyncError> {
        let Some(work) = self.work.take() else {
            return Err(SyncError::Misuse("no record in progress"));
        };
        let code = if error.code.is_empty() {
            format!("http_{}", error.status)
        } else {
            error.code.clone()
        };
        let message = format!("{} {}: {}", error.status, code, error.message);
        if matches!(work.step, Step::Create | Step::Head | Step::Patch(_)) {
            if let Some(e) = work.evidence.get(work.index) {
                self.store.park(Some(&self.actor), &e.outbox_id, &code, &message)?;
            }
        }
        self.store.park(Some(&self.actor), &work.item.outbox_id, &code, &message)?;
        tracing::warn!("record {} parked: {message}", work.item.record_id);
        self.report.parked.push(ItemOutcome {
            record_id: work.item.record_id.clone(),
            outbox_id: work.item.outbox_id.clone(),
            reason: Some(code),
        });
        self.progress.items_done += 1;
        Ok(())
    }

    /// End the sync early: the rest of the queue waits for the next one.
    fn interrupt(&mut self, why: String) {
        self.report.not_attempted = self.queue.len() as i64;
        self.queue.clear();
        self.report.interrupted = Some(why);
        self.stage = Stage::Done;
    }

    // ----- the review half --------------------------------------------------------------------

    /// The outbox is done: on to the review half, with the configuration this sync verified.
    fn start_review(&mut self) -> Result<(), SyncError> {
        self.stage = Stage::Review;
        if let Some(config) = self.config.clone() {
            let review =
                ReviewSync::new(self.store, config, self.server_key, self.evidence_budget)?;
            self.review = Some(review);
        }
        Ok(())
    }

    fn on_review_answer(&mut self, response: &HttpResponse) -> Result<(), SyncError> {
        let Some(review) = self.review.as_mut() else {
            return Err(SyncError::Misuse("a review answer with no review in progress"));
        };
        if !(200..300).contains(&response.status) {
            let error = server_error(response);
            if classify(error.status, &error.code) == ErrorClass::Stop {
                return Err(SyncError::Stopped {
                    status: error.status,
                    code: error.code,
                    message: error.message,
                });
            }
        }
        review.on_answer(self.store, response)
    }

    // ----- answers --------------------------------------------------------------------------

    /// `SafeHome-Server-Time`, corrected for half the round trip.
    fn learn_time(&mut self, response: &HttpResponse, sent_at_ms: i64) {
        let Some(server) =
            response.header(H_SERVER_TIME).and_then(|v| v.trim().parse::<i64>().ok())
        else {
            return;
        };
        let now = self.store.now_ms();
        let middle = sent_at_ms.saturating_add(now.saturating_sub(sent_at_ms) / 2);
        self.offset_ms = server.saturating_sub(middle);
    }

    fn on_checkin(&mut self, response: &HttpResponse) -> Result<(), SyncError> {
        let answer: CheckinResponse = parse_json(&response.body)
            .and_then(|j| serde_json::from_value(j).map_err(|e| e.to_string()))
            .map_err(|detail| SyncError::BadResponse { what: "checkin", detail })?;
        if answer.regression {
            tracing::warn!("the server saw this device's audit chain go backwards");
        }
        self.report.regression = answer.regression;
        let text = serde_json::to_string(&answer)
            .map_err(|e| StoreError::Encode { what: "checkin answer", detail: e.to_string() })?;
        let offset = self.offset_ms;
        self.store.update_sync_state(None, None, |s| {
            s.last_checkin = Some(text);
            s.regression = answer.regression;
            s.clock_offset_ms = offset;
            Ok(())
        })?;
        self.stage = Stage::Config;
        self.stage_retries = IMMEDIATE_RETRIES;
        Ok(())
    }

    fn on_config(&mut self, response: &HttpResponse) -> Result<(), SyncError> {
        let document = parse_json(&response.body)
            .map_err(|detail| SyncError::BadResponse { what: "config", detail })?;
        let config = match TeamConfig::verify(&document, &self.server_key) {
            Ok(config) => config,
            // Signed by another key: acceptable only after rotations signed by the pinned key.
            Err(first) => match KeyRotation::follow(&document, &self.server_key) {
                Ok(Some(next)) => {
                    let config = TeamConfig::verify(&document, &next)
                        .map_err(|e| SyncError::UntrustedConfig(e.to_string()))?;
                    self.store.repin_server_key(&self.server_key.to_string(), &next.to_string())?;
                    tracing::info!("the server's key was rotated: re-pinned {next}");
                    self.server_key = next;
                    config
                }
                Ok(None) => return Err(SyncError::UntrustedConfig(first.to_string())),
                Err(e) => return Err(SyncError::UntrustedConfig(format!("key rotation: {e}"))),
            },
        };
        apply_config(self.store, None, &config, &response.body, None, false)?;
        self.config = Some(config);
        let queue = self.store.upload_queue()?;
        self.progress.items_total = queue.len() as i64;
        self.progress.bytes_total = queue.iter().map(|i| i.bytes).sum();
        self.queue = queue.into();
        self.stage = Stage::Items;
        Ok(())
    }

    fn on_error(&mut self, response: &HttpResponse) -> Result<(), SyncError> {
        let error = server_error(response);
        let mut class = classify(error.status, &error.code);
        if class == ErrorClass::ClockSkew {
            if !self.skew_retried {
                self.skew_retried = true;
                self.adopt_server_time(&error, response)?;
                return Ok(()); // the same request again, with the corrected time
            }
            class = ErrorClass::Retry;
        }
        self.skew_retried = false;
        if class == ErrorClass::Stop {
            return Err(SyncError::Stopped {
                status: error.status,
                code: error.code,
                message: error.message,
            });
        }
        let what = match self.stage {
            Stage::Checkin => "the checkin",
            Stage::Config => "the configuration request",
            Stage::Items => return self.on_item_error(&error, class),
            Stage::Review | Stage::Done => {
                return Err(SyncError::Misuse("an answer after the sync ended"));
            }
        };
        match class {
            ErrorClass::Retry if error.code == "replayed" && self.stage_retries > 0 => {
                self.stage_retries -= 1;
                Ok(())
            }
            ErrorClass::Retry | ErrorClass::ClockSkew => {
                Err(SyncError::Unavailable { what, status: error.status, code: error.code })
            }
            ErrorClass::Park | ErrorClass::Stop => Err(SyncError::Refused {
                what,
                status: error.status,
                code: error.code,
                message: error.message,
            }),
        }
    }

    fn on_item_error(&mut self, error: &ServerError, class: ErrorClass) -> Result<(), SyncError> {
        let Some(work) = self.work.as_mut() else {
            return Err(SyncError::Misuse("an item answer with no record in progress"));
        };
        if class == ErrorClass::Park {
            return self.park_item(error);
        }
        // Retries that help at once, within the record's budget.
        let evidence_step = matches!(work.step, Step::Head | Step::Patch(_));
        let next = match (error.status, error.code.as_str(), work.step) {
            (401, "replayed", step) => Some(step),
            (409, "offset_mismatch", Step::Patch(_)) => Some(Step::Head),
            (410, "upload_gone", _) | (404, _, _) if evidence_step => Some(Step::Create),
            (460, _, Step::Patch(o)) => Some(Step::Patch(o)),
            (404, "not_found", Step::Receipt) => Some(Step::Put),
            _ => None,
        };
        if let Some(next) = next {
            if work.retries_left > 0 {
                work.retries_left -= 1;
                if next == Step::Create {
                    return self.forget_upload();
                }
                work.step = next;
                return Ok(());
            }
        }
        let code = if error.code.is_empty() {
            format!("http_{}", error.status)
        } else {
            error.code.clone()
        };
        self.fail_item(format!("{} {code}", error.status))?;
        // A full, overloaded or rate-limiting server takes nothing more now.
        if matches!(error.status, 429 | 503 | 507) {
            self.interrupt(format!("the server answered {} {code}", error.status));
        }
        Ok(())
    }

    fn on_transport_error(&mut self, error: TransportError) -> Result<(), SyncError> {
        if self.stage == Stage::Review {
            if let Some(review) = self.review.as_mut() {
                review.on_transport_error(error.to_string());
            }
            return Ok(());
        }
        if self.stage != Stage::Items {
            return Err(SyncError::Unreachable(error));
        }
        let Some(work) = self.work.as_mut() else {
            return Err(SyncError::Misuse("an item answer with no record in progress"));
        };
        if matches!(error, TransportError::Interrupted(_)) && work.retries_left > 0 {
            // A cut request: repeat it (a cut PATCH first asks where the upload stands).
            work.retries_left -= 1;
            if let Step::Patch(_) = work.step {
                work.step = Step::Head;
            }
            return Ok(());
        }
        let why = error.to_string();
        self.fail_item(why.clone())?;
        self.interrupt(why);
        Ok(())
    }

    /// `clock_skew`: take the server's time (from the error, else the header) as now.
    fn adopt_server_time(
        &mut self,
        error: &ServerError,
        response: &HttpResponse,
    ) -> Result<(), SyncError> {
        let server = error
            .body
            .extra
            .get("server_time_ms")
            .and_then(Json::as_i64)
            .or_else(|| response.header(H_SERVER_TIME).and_then(|v| v.trim().parse().ok()));
        if let Some(server) = server {
            self.offset_ms = server.saturating_sub(self.store.now_ms());
            tracing::info!("clock corrected from the server: offset {} ms", self.offset_ms);
            let offset = self.offset_ms;
            self.store.update_sync_state(None, None, |s| {
                s.clock_offset_ms = offset;
                Ok(())
            })?;
        }
        Ok(())
    }
}

/// Sign a request with the device key at the device's estimate of the server's time.
pub(crate) fn sign_request(
    store: &Store,
    offset_ms: i64,
    method: &str,
    path: String,
    mut headers: Vec<(String, String)>,
    body: Vec<u8>,
) -> HttpRequest {
    let mut nonce = [0u8; 16];
    store.entropy().fill(&mut nonce);
    let time = store.now_ms().saturating_add(offset_ms);
    let auth =
        RequestAuth::sign(store.device_key(), store.device_id(), method, &path, &body, time, nonce);
    headers.extend(auth.headers().into_iter().map(|(n, v)| (n.to_string(), v)));
    HttpRequest { method: method.to_string(), path, headers, body }
}

pub(crate) fn json_headers() -> Vec<(String, String)> {
    vec![("Content-Type".to_string(), "application/json".to_string())]
}

pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, SyncError> {
    serde_json::to_vec(value).map_err(|e| {
        SyncError::Store(StoreError::Encode { what: "request", detail: e.to_string() })
    })
}

/// A JSON body, refused unread over [`MAX_JSON_BODY`].
pub(crate) fn parse_json(body: &[u8]) -> Result<Json, String> {
    if body.len() > MAX_JSON_BODY {
        return Err(format!("{} bytes is over the {MAX_JSON_BODY}-byte limit", body.len()));
    }
    serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))
}

/// Server text kept or shown: control characters dropped, cut short.
fn clean(text: &str, max: usize) -> String {
    text.chars().filter(|c| !c.is_control()).take(max).collect()
}

fn server_error(response: &HttpResponse) -> ServerError {
    let body: ErrorBody = parse_json(&response.body)
        .ok()
        .and_then(|j| serde_json::from_value(j).ok())
        .unwrap_or_else(|| ErrorBody::new("", ""));
    // Codes are identifiers: anything else is no code.
    let code = if body.code.len() <= 64
        && body.code.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        body.code.clone()
    } else {
        String::new()
    };
    ServerError {
        status: response.status,
        code,
        message: clean(&body.message, MAX_SERVER_TEXT),
        body,
    }
}

/// The path of a tus `Location` (absolute or not): `/v1/evidence/<id>`, of safe characters.
fn upload_path(location: &str) -> Option<String> {
    let location = location.trim();
    let path = match location.split_once("://") {
        Some((_, rest)) => &rest[rest.find('/')?..],
        None => location,
    };
    let ok = path.len() <= MAX_UPLOAD_PATH
        && path.len() > EVIDENCE_PATH.len()
        && path.starts_with(EVIDENCE_PATH)
        && !path.contains("..")
        && path.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~/%".contains(&b));
    ok.then(|| path.to_string())
}

/// Apply a verified configuration (enrollment or refresh): it must be this device's.
pub(crate) fn apply_config(
    store: &Store,
    by: Option<&Actor>,
    config: &TeamConfig,
    raw: &[u8],
    base_url: Option<&str>,
    enrolling: bool,
) -> Result<bool, SyncError> {
    if config.device_id != store.device_id() {
        return Err(SyncError::BadResponse {
            what: "config",
            detail: "the configuration is for another device".into(),
        });
    }
    let recipients: Vec<(String, String, String)> = config
        .recipients
        .iter()
        .map(|r| (r.public_key.clone(), r.kind.clone(), r.label.clone()))
        .collect();
    let raw = std::str::from_utf8(raw)
        .map_err(|_| SyncError::BadResponse { what: "config", detail: "not UTF-8".into() })?;
    let update = TeamUpdate {
        enrolling,
        base_url,
        server_key: &config.server_public_key,
        config_json: raw,
        team: &config.team,
        communes: &config.communes,
        recipients: &recipients,
    };
    match store.apply_team_config(by, &update) {
        Ok(changed) => {
            if changed {
                tracing::info!(
                    "team configuration applied: {} commune(s), {} recipient(s)",
                    config.communes.len(),
                    config.recipients.len()
                );
            }
            Ok(changed)
        }
        Err(StoreError::Invalid { field: "server_public_key", .. }) => {
            Err(SyncError::ServerKeyMismatch {
                expected: store.sync_state()?.server_key.unwrap_or_default(),
                found: config.server_public_key.clone(),
            })
        }
        Err(StoreError::Invalid { field, message }) => {
            Err(SyncError::BadResponse { what: "config", detail: format!("{field}: {message}") })
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::upload_path;

    #[test]
    fn upload_locations_are_paths_under_the_collection() {
        assert_eq!(upload_path("/v1/evidence/abc-1").as_deref(), Some("/v1/evidence/abc-1"));
        assert_eq!(
            upload_path("https://srv.example/v1/evidence/abc").as_deref(),
            Some("/v1/evidence/abc")
        );
        for bad in ["/v1/evidence/", "/v1/other/x", "/v1/evidence/../x", "/v1/evidence/a b", ""] {
            assert_eq!(upload_path(bad), None, "{bad:?}");
        }
        assert_eq!(upload_path(&format!("/v1/evidence/{}", "a".repeat(300))), None);
    }
}
