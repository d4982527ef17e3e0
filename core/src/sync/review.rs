//! The review half of a sync (docs/protocol.md, "Review"), after the outbox: upload the
//! decisions made here, pull the team's submissions (a supervisor's device: the index page by
//! page, then each body, most serious first, verified and opened), read the decision feed and
//! apply what it brings (a returned visit reopens as a draft revision on the volunteer's phone),
//! then fetch evidence within the sync's budget. Sans-IO like the engine that drives it.
//!
//! Nothing unverified is shown as valid: a body whose routing signature, envelope or device
//! does not check out is quarantined with its reason; a decision not signed by a supervisor of
//! the team (enrolled when the server received it) is rejected and never applied.

use std::collections::VecDeque;

use serde::Serialize;
use serde_json::Value as Json;

use super::base64;
use super::engine::parse_json;
use super::protocol::{
    ConfigDevice, DECISION_CONTENT_TYPE, DECISION_ENVELOPE_TYPE, DECISION_SCHEMA, DecisionBody,
    DecisionHeader, DecisionReceipt, FeedPage, IndexPage, MAX_EVIDENCE_LEN, MAX_PAGE,
    MAX_SUBMISSION_BODY, SubmissionBody, TeamConfig, sha256_hex,
};
use super::report::SyncError;
use super::transport::HttpResponse;
use crate::evidence::envelope::{self, Randomness, open_bytes, seal_bytes};
use crate::evidence::keys::{DevicePublicKey, ServerPublicKey};
use crate::evidence::meta::EvidenceInfo;
use crate::store::decisions::{DecisionContent, DecisionKind, HouseholdMerge, NewDecision};
use crate::store::profiles::Actor;
use crate::store::received::{
    EvidenceFetch, EvidenceRef, FEED_CURSOR, Listed, PullItem, ReceivedState, Verified,
};
use crate::store::{Store, StoreError};

/// Evidence bytes a sync fetches ahead of being asked (files asked for always come).
pub const DEFAULT_EVIDENCE_BUDGET: i64 = 20 << 20;
/// Bodies fetched in one sync at most; the rest come in the next.
pub const MAX_PULLS_PER_SYNC: usize = 5_000;

/// What the review half of a sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReviewReport {
    pub decisions_sent: i64,
    /// Decisions made here that the server refused (another verdict stood, the record was
    /// superseded): their ids.
    pub decisions_refused: Vec<String>,
    pub listed: i64,
    pub pulled: i64,
    /// Pulled records that failed verification: (record id, reason).
    pub quarantined: Vec<(String, String)>,
    pub evidence_fetched: i64,
    pub evidence_bytes: i64,
    pub decisions_applied: i64,
    /// Decisions from the feed that failed verification: (decision id, reason).
    pub decisions_rejected: Vec<(String, String)>,
    /// Returned visits reopened here as draft revisions: their new draft ids.
    pub reopened: Vec<String>,
    /// Why the review half stopped early, if it did.
    pub stopped: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Waiting {
    Decision(String),
    Index(i64),
    Body(String),
    /// An evidence file and what has arrived of it (it comes in ranges of
    /// [`EVIDENCE_RANGE`] bytes).
    Evidence(EvidenceFetch, Vec<u8>),
    Feed(i64),
}

/// The largest range of an evidence file one request asks for: under the apps' transports'
/// 1 MiB answer limit, so that a file of any size (up to the protocol's 64 MiB) comes through.
pub const EVIDENCE_RANGE: usize = 512 << 10;

/// The review half's state, driven by the engine.
pub(crate) struct ReviewSync {
    config: TeamConfig,
    server_key: ServerPublicKey,
    supervisor: bool,
    decisions: VecDeque<(String, Vec<u8>)>,
    index_after: Option<i64>,
    pulls: Option<VecDeque<PullItem>>,
    fetches: Option<VecDeque<EvidenceFetch>>,
    /// A file partly fetched in this sync, to go on with.
    partial: Option<(EvidenceFetch, Vec<u8>)>,
    feed_after: Option<i64>,
    waiting: Option<Waiting>,
    evidence_budget: i64,
    pub report: ReviewReport,
}

/// A request to sign and send: method, path, headers, body.
pub(crate) type Planned = (&'static str, String, Vec<(String, String)>, Vec<u8>);

impl ReviewSync {
    pub(crate) fn new(
        store: &Store,
        config: TeamConfig,
        server_key: ServerPublicKey,
        evidence_budget: i64,
    ) -> Result<ReviewSync, SyncError> {
        let supervisor = config.role == "supervisor";
        Ok(ReviewSync {
            decisions: store.pending_decisions()?.into(),
            index_after: supervisor
                .then(|| store.cursor(crate::store::received::INDEX_CURSOR))
                .transpose()?,
            feed_after: Some(store.cursor(FEED_CURSOR)?),
            config,
            server_key,
            supervisor,
            pulls: None,
            fetches: None,
            partial: None,
            waiting: None,
            evidence_budget,
            report: ReviewReport::default(),
        })
    }

    /// The next request, or `None` when the review half is over.
    pub(crate) fn next(&mut self, store: &Store) -> Result<Option<Planned>, SyncError> {
        if self.waiting.is_some() {
            return Err(SyncError::Misuse("a review request is already in flight"));
        }
        if self.report.stopped.is_some() {
            return Ok(None);
        }
        let (waiting, planned): (Waiting, Planned) = if let Some((id, body)) =
            self.decisions.pop_front()
        {
            let headers = vec![("Content-Type".to_string(), DECISION_CONTENT_TYPE.to_string())];
            (Waiting::Decision(id.clone()), ("PUT", format!("/v1/decisions/{id}"), headers, body))
        } else if let Some(after) = self.index_after {
            let path = format!("/v1/team/submissions?after={after}&limit={MAX_PAGE}");
            (Waiting::Index(after), ("GET", path, Vec::new(), Vec::new()))
        } else if let Some(item) = self.next_pull(store)? {
            let path = format!("/v1/submissions/{}", item.record_id);
            (Waiting::Body(item.record_id), ("GET", path, Vec::new(), Vec::new()))
        } else if let Some(after) = self.feed_after {
            let path = format!("/v1/decisions?after={after}&limit={MAX_PAGE}");
            (Waiting::Feed(after), ("GET", path, Vec::new(), Vec::new()))
        } else if let Some((fetch, got)) = self.next_evidence(store)? {
            // Evidence last: the largest downloads, and the first to fail on a poor network,
            // never hold back the decisions.
            let path = format!("/v1/blobs/{}", fetch.sha256);
            let start = got.len();
            let end = (start + EVIDENCE_RANGE).min(usize::try_from(fetch.len).unwrap_or(0)) - 1;
            let range = vec![("Range".to_string(), format!("bytes={start}-{end}"))];
            (Waiting::Evidence(fetch, got), ("GET", path, range, Vec::new()))
        } else {
            return Ok(None);
        };
        self.waiting = Some(waiting);
        Ok(Some(planned))
    }

    fn next_pull(&mut self, store: &Store) -> Result<Option<PullItem>, SyncError> {
        if !self.supervisor {
            return Ok(None);
        }
        if self.pulls.is_none() {
            self.pulls = Some(store.pull_queue(MAX_PULLS_PER_SYNC)?.into());
        }
        Ok(self.pulls.as_mut().and_then(VecDeque::pop_front))
    }

    fn next_fetch(&mut self, store: &Store) -> Result<Option<EvidenceFetch>, SyncError> {
        if !self.supervisor {
            return Ok(None);
        }
        if self.fetches.is_none() {
            self.fetches = Some(store.evidence_to_fetch(self.evidence_budget)?.into());
        }
        Ok(self.fetches.as_mut().and_then(VecDeque::pop_front))
    }

    /// The file to fetch next and what arrived of it: the one in progress, else the next.
    fn next_evidence(
        &mut self,
        store: &Store,
    ) -> Result<Option<(EvidenceFetch, Vec<u8>)>, SyncError> {
        if let Some(partial) = self.partial.take() {
            return Ok(Some(partial));
        }
        while let Some(fetch) = self.next_fetch(store)? {
            if fetch.len > 0 && fetch.len as u64 <= MAX_EVIDENCE_LEN {
                return Ok(Some((fetch, Vec::new())));
            }
            tracing::warn!("evidence {} has an impossible length; not fetched", fetch.sha256);
        }
        Ok(None)
    }

    /// The request in flight got no answer: stop here (the rest waits for the next sync; every
    /// step is idempotent, so repeating it then is safe).
    pub(crate) fn on_transport_error(&mut self, why: String) {
        self.waiting = None;
        self.report.stopped = Some(why);
    }

    /// Consume the answer to the request in flight.
    pub(crate) fn on_answer(
        &mut self,
        store: &Store,
        response: &HttpResponse,
    ) -> Result<(), SyncError> {
        let waiting =
            self.waiting.take().ok_or(SyncError::Misuse("no review request in flight"))?;
        let ok = (200..300).contains(&response.status);
        let code = || error_code(response);
        match waiting {
            Waiting::Decision(id) if ok => {
                let receipt = parse_json(&response.body).map_err(|e| e.to_string()).and_then(|j| {
                    DecisionReceipt::verify(&j, &self.server_key).map_err(|e| e.to_string())
                });
                match receipt {
                    Ok(r) if r.decision_id == id => {
                        store.decision_sent(&id, r.seq)?;
                        self.report.decisions_sent += 1;
                    }
                    // Not a receipt for this decision: it stays pending for the next sync.
                    Ok(_) | Err(_) => {
                        self.stop(format!("decision {id}: the receipt does not verify"))
                    }
                }
            }
            Waiting::Decision(id) => match response.status {
                409 | 400 | 403 | 404 | 413 => {
                    let detail = String::from_utf8_lossy(&response.body)
                        .chars()
                        .take(2_000)
                        .collect::<String>();
                    let conflict = code() == "decision_conflict";
                    store.decision_refused(&id, conflict, &detail)?;
                    self.report.decisions_refused.push(id);
                }
                _ => self.stop(format!(
                    "decision {id}: the server answered {} {}",
                    response.status,
                    code()
                )),
            },
            Waiting::Index(after) if ok => {
                let page: IndexPage = parse_json(&response.body)
                    .and_then(|j| serde_json::from_value(j).map_err(|e| e.to_string()))
                    .map_err(|detail| SyncError::BadResponse { what: "team index", detail })?;
                if page.next_after < after || page.items.len() > MAX_PAGE {
                    return Err(SyncError::BadResponse {
                        what: "team index",
                        detail: "the cursor went back or the page is too long".into(),
                    });
                }
                let items: Vec<Listed> = page
                    .items
                    .into_iter()
                    .filter(|i| valid_id(&i.record_id) && i.seq > after && i.seq <= page.next_after)
                    .map(|i| Listed {
                        record_id: i.record_id,
                        seq: i.seq,
                        device_id: i.device_id,
                        kind: i.kind,
                        risk_level: i.risk_level,
                        due_at_ms: i.due_at_ms,
                        finalized_at_ms: i.finalized_at_ms,
                        received_at_ms: i.received_at_ms,
                        body_len: i.body_len,
                        evidence_len: i.evidence_len,
                    })
                    .collect();
                self.report.listed += store.note_listed(&items, page.next_after)? as i64;
                self.index_after =
                    (page.more && page.next_after > after).then_some(page.next_after);
            }
            Waiting::Index(_) => {
                self.index_after = None;
                self.stop(format!(
                    "team index: the server answered {} {}",
                    response.status,
                    code()
                ));
            }
            Waiting::Body(record_id) if ok => {
                if response.body.len() > MAX_SUBMISSION_BODY {
                    self.quarantine(store, &record_id, "the body is over the size limit")?;
                } else {
                    match self.verify_body(store, &record_id, &response.body)? {
                        Ok(v) => {
                            store.accept_received(&v)?;
                            self.report.pulled += 1;
                        }
                        Err(reason) => self.quarantine(store, &record_id, &reason)?,
                    }
                }
            }
            Waiting::Body(record_id) => match response.status {
                403 | 404 | 410 => {
                    let reason = format!("the server answered {} {}", response.status, code());
                    self.quarantine(store, &record_id, &reason)?;
                }
                _ => self.stop(format!(
                    "record {record_id}: the server answered {} {}",
                    response.status,
                    code()
                )),
            },
            Waiting::Evidence(fetch, mut got) if ok => {
                let body = &response.body;
                let whole = usize::try_from(fetch.len).unwrap_or(0);
                if response.status == 206 {
                    // The range asked for, exactly, at the offset reached.
                    let want = EVIDENCE_RANGE.min(whole - got.len());
                    let at = content_range_start(response);
                    if at != Some(got.len()) || body.len() != want {
                        tracing::warn!("evidence {}: an unexpected range; dropped", fetch.sha256);
                        return Ok(());
                    }
                    got.extend_from_slice(body);
                } else {
                    // A server that ignores ranges answers the whole file.
                    got = body.clone();
                }
                if got.len() < whole {
                    self.partial = Some((fetch, got));
                    return Ok(());
                }
                let key = self.device_key(&fetch.device_id, None);
                let checked = got.len() == whole
                    && sha256_hex(&got) == fetch.sha256
                    && key.is_some_and(|k| envelope::verify(&got[..], Some(&k)).is_ok());
                if checked {
                    store.keep_evidence(&fetch.record_id, &fetch.sha256, &got)?;
                    self.report.evidence_fetched += 1;
                    self.report.evidence_bytes += got.len() as i64;
                } else {
                    tracing::warn!(
                        "evidence {} of {} does not verify; not kept",
                        fetch.sha256,
                        fetch.record_id
                    );
                }
            }
            Waiting::Evidence(fetch, _) => {
                if !matches!(response.status, 403 | 404) {
                    self.stop(format!(
                        "evidence {}: the server answered {} {}",
                        fetch.sha256,
                        response.status,
                        code()
                    ));
                }
            }
            Waiting::Feed(after) if ok => {
                let page: FeedPage = parse_json(&response.body)
                    .and_then(|j| serde_json::from_value(j).map_err(|e| e.to_string()))
                    .map_err(|detail| SyncError::BadResponse { what: "decision feed", detail })?;
                if page.next_after < after || page.items.len() > MAX_PAGE {
                    return Err(SyncError::BadResponse {
                        what: "decision feed",
                        detail: "the cursor went back or the page is too long".into(),
                    });
                }
                for item in page.items.iter().filter(|i| i.seq > after && i.seq <= page.next_after)
                {
                    self.apply_feed_item(store, item.seq, item.received_at_ms, &item.body)?;
                }
                store.advance_cursor(FEED_CURSOR, page.next_after)?;
                self.feed_after = (page.more && page.next_after > after).then_some(page.next_after);
            }
            Waiting::Feed(_) => {
                self.feed_after = None;
                self.stop(format!(
                    "decision feed: the server answered {} {}",
                    response.status,
                    code()
                ));
            }
        }
        Ok(())
    }

    fn stop(&mut self, why: String) {
        tracing::warn!("review sync stopped: {why}");
        self.report.stopped = Some(why);
    }

    fn quarantine(
        &mut self,
        store: &Store,
        record_id: &str,
        reason: &str,
    ) -> Result<(), SyncError> {
        tracing::warn!("record {record_id} quarantined: {reason}");
        store.quarantine_received(record_id, reason)?;
        self.report.quarantined.push((record_id.to_string(), reason.to_string()));
        Ok(())
    }

    /// A device of the team trusted at `at_ms` (server time), with `role` if given.
    fn device_key(&self, device_id: &str, role_at: Option<(&str, i64)>) -> Option<DevicePublicKey> {
        let d: &ConfigDevice = self.config.device(device_id)?;
        if let Some((role, at)) = role_at {
            if d.role != role || !d.trusted_at(at) {
                return None;
            }
        }
        d.public_key.parse().ok()
    }

    /// Verify and open a pulled body: `Err(reason)` quarantines it.
    fn verify_body(
        &self,
        store: &Store,
        record_id: &str,
        bytes: &[u8],
    ) -> Result<Result<Verified, String>, SyncError> {
        let body = match SubmissionBody::decode(bytes) {
            Ok(b) => b,
            Err(e) => return Ok(Err(format!("malformed: {e}"))),
        };
        let r = &body.routing;
        if r.record_id != record_id {
            return Ok(Err("the body is another record's".into()));
        }
        if r.team != self.config.team {
            return Ok(Err("the record is another team's".into()));
        }
        let listed_at = store.received_record_received_at(record_id)?.unwrap_or(i64::MAX);
        let Some(device) = self.config.device(&r.device_id) else {
            return Ok(Err("unknown device: not enrolled in the team".into()));
        };
        if !device.trusted_at(listed_at) {
            return Ok(Err("the device was revoked before the server received this".into()));
        }
        let Ok(key) = device.public_key.parse::<DevicePublicKey>() else {
            return Ok(Err("the team configuration lists an unreadable device key".into()));
        };
        if let Err(e) = body.verify(&key) {
            return Ok(Err(format!("routing header: {e}")));
        }
        let identity = store.inbox_identity()?;
        let submission = match open_bytes(&body.envelope, &identity, Some(&key)) {
            Ok((plain, _)) => plain,
            Err(crate::evidence::envelope::EnvelopeError::NotARecipient) => {
                return Ok(Err("not sealed to this device (sent before it enrolled)".into()));
            }
            Err(e) => return Ok(Err(format!("envelope: {e}"))),
        };
        let doc: Json = match serde_json::from_slice(&submission) {
            Ok(d) => d,
            Err(e) => return Ok(Err(format!("submission: not JSON: {e}"))),
        };
        if doc["record_id"].as_str() != Some(record_id)
            || doc["device_id"].as_str() != Some(&r.device_id)
        {
            return Ok(Err("the submission names another record or device than its header".into()));
        }
        Ok(Ok(Verified {
            record_id: r.record_id.clone(),
            device_id: r.device_id.clone(),
            kind: r.kind.clone(),
            form_id: r.form.id.clone(),
            form_version: r.form.version.clone(),
            household_code: r.household_code.clone(),
            commune: r.commune.clone(),
            risk_level: r.risk_level.clone(),
            due_at_ms: r.due_at_ms,
            finalized_at_ms: r.finalized_at_ms,
            revision: r.revision,
            revision_of: r.revision_of.clone(),
            envelope_sha256: r.envelope_sha256.clone(),
            evidence: r
                .evidence
                .iter()
                .map(|e| EvidenceRef { id: e.id.clone(), sha256: e.sha256.clone(), len: e.len })
                .collect(),
            submission,
        }))
    }

    /// Verify one decision of the feed and apply it (or keep it rejected, with why).
    fn apply_feed_item(
        &mut self,
        store: &Store,
        seq: i64,
        received_at_ms: i64,
        text: &str,
    ) -> Result<(), SyncError> {
        let Some(bytes) = base64::decode(text) else {
            self.report.decisions_rejected.push((format!("#{seq}"), "not base64".into()));
            return Ok(());
        };
        let body = match DecisionBody::decode(&bytes) {
            Ok(b) => b,
            Err(e) => {
                self.report.decisions_rejected.push((format!("#{seq}"), format!("malformed: {e}")));
                return Ok(());
            }
        };
        let h = &body.header;
        let mut decision = NewDecision {
            id: h.decision_id.clone(),
            record_id: h.record_id.clone(),
            kind: h.kind,
            device_id: h.device_id.clone(),
            base: h.base.clone(),
            decided_at_ms: h.decided_at_ms,
            action_at_ms: h.action_at_ms,
            merge: h.merge.clone(),
            content: None,
            body: bytes.clone(),
            server_seq: Some(seq),
        };
        let check = || -> Result<DevicePublicKey, String> {
            if h.team != self.config.team {
                return Err("another team's decision".into());
            }
            let key = self
                .device_key(&h.device_id, Some(("supervisor", received_at_ms)))
                .ok_or("not signed by a supervisor's device of the team")?;
            body.verify(&key).map_err(|e| e.to_string())?;
            Ok(key)
        };
        let key = match check() {
            Ok(k) => k,
            Err(why) => {
                store.reject_decision(&decision, &why)?;
                self.report.decisions_rejected.push((h.decision_id.clone(), why));
                return Ok(());
            }
        };
        // The content, if this device is among its recipients (a supervisor who enrolled after
        // it was made is not): the verdict applies either way, from the signed header.
        let identity = store.inbox_identity()?;
        if let Ok((plain, _)) = open_bytes(&body.envelope, &identity, Some(&key)) {
            match serde_json::from_slice::<DecisionContent>(&plain) {
                Ok(c) if c.check().is_ok() => decision.content = Some(c),
                _ => {
                    let why = "the sealed content is not a decision's".to_string();
                    store.reject_decision(&decision, &why)?;
                    self.report.decisions_rejected.push((h.decision_id.clone(), why));
                    return Ok(());
                }
            }
        }
        match store.apply_decision(&decision)? {
            crate::store::decisions::Applied::Reopened { draft_id } => {
                self.report.reopened.push(draft_id);
                self.report.decisions_applied += 1;
            }
            crate::store::decisions::Applied::Duplicate => {}
            _ => self.report.decisions_applied += 1,
        }
        Ok(())
    }
}

/// The first byte of a `206` answer's `Content-Range: bytes START-END/TOTAL`.
fn content_range_start(response: &HttpResponse) -> Option<usize> {
    let v = response.header("Content-Range")?.trim();
    let rest = v.strip_prefix("bytes ")?;
    rest.split('-').next()?.trim().parse().ok()
}

fn error_code(response: &HttpResponse) -> String {
    parse_json(&response.body)
        .ok()
        .and_then(|j| j.get("code").and_then(Json::as_str).map(str::to_string))
        .filter(|c| c.len() <= 64 && c.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
        .unwrap_or_default()
}

fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// What a supervisor decides, as the app or the CLI gives it.
#[derive(Debug, Clone)]
pub struct Decision {
    pub kind: DecisionKind,
    pub content: DecisionContent,
    /// For `act`: when the action was taken (device clock, ms).
    pub action_at_ms: Option<i64>,
}

/// Make a decision on a received record: signed by this device, sealed to the volunteer's
/// inbox and the team's recipients, kept `pending` and uploaded at the next sync. A verdict
/// names the record's current verdict as its base (so that the server can tell a decision made
/// without seeing another supervisor's). Returns the decision's id.
pub fn decide(
    store: &Store,
    by: &Actor,
    record_id: &str,
    decision: &Decision,
) -> Result<String, SyncError> {
    decision.content.check()?;
    if (decision.kind == DecisionKind::Act) != decision.action_at_ms.is_some() {
        return Err(SyncError::Invalid {
            field: "action_at_ms",
            message: "an action (act) says when it was taken, and only an action does".into(),
        });
    }
    if decision.kind == DecisionKind::Merge {
        return Err(SyncError::Invalid {
            field: "kind",
            message: "a merge names two households: merge_households".into(),
        });
    }
    sign_decision(store, by, record_id, decision, None)
}

/// Merge household `merge_code` into `keep_code` (the same family registered twice, found by
/// `Store::team_duplicates`): a `merge` decision on the merged household's current record,
/// signed by this device, sealed to that record's device and the team's recipients with the
/// reason, kept `pending` and uploaded at the next sync. The volunteer's phone that holds the
/// merged household applies it from the feed; the server stops counting it twice. Returns the
/// decision's id.
pub fn merge_households(
    store: &Store,
    by: &Actor,
    keep_code: &str,
    merge_code: &str,
    reason: &str,
) -> Result<String, SyncError> {
    let merge = HouseholdMerge { household: merge_code.into(), into: keep_code.into() };
    merge.check()?;
    if reason.trim().is_empty() {
        return Err(SyncError::Invalid { field: "reason", message: "say why they are one".into() });
    }
    let merges = store.household_merges()?;
    let already = |code: &str, field: &'static str| -> Result<(), SyncError> {
        match merges.get(code) {
            Some(into) => Err(SyncError::Invalid {
                field,
                message: format!("household {code} is already merged into {into}"),
            }),
            None => Ok(()),
        }
    };
    already(merge_code, "merge")?;
    already(keep_code, "keep")?;
    if merges.values().any(|into| into == merge_code) {
        return Err(SyncError::Invalid {
            field: "merge",
            message: format!("other households were merged into {merge_code}: keep it instead"),
        });
    }
    let not_held = |code: &str| {
        SyncError::Store(StoreError::NotFound { entity: "household", id: code.into() })
    };
    if store.current_record_of_household(keep_code)?.is_none() {
        return Err(not_held(keep_code));
    }
    let record_id =
        store.current_record_of_household(merge_code)?.ok_or_else(|| not_held(merge_code))?;
    let decision = Decision {
        kind: DecisionKind::Merge,
        content: DecisionContent { note: reason.to_string(), comments: Vec::new() },
        action_at_ms: None,
    };
    sign_decision(store, by, &record_id, &decision, Some(merge))
}

/// Sign, seal and keep a decision (see [`decide`]).
fn sign_decision(
    store: &Store,
    by: &Actor,
    record_id: &str,
    decision: &Decision,
    merge: Option<HouseholdMerge>,
) -> Result<String, SyncError> {
    let view = store.received_record(by, record_id)?;
    let invalid = |state: String| {
        SyncError::Store(StoreError::InvalidState {
            entity: "received record",
            id: record_id.into(),
            state,
            action: "decide on",
        })
    };
    if view.state != ReceivedState::Valid {
        return Err(invalid(view.state.to_string()));
    }
    if let Some(by_revision) = &view.superseded_by {
        return Err(invalid(format!("superseded by {by_revision}")));
    }
    let state = store.sync_state()?;
    let config_text = state.config.ok_or(SyncError::NotEnrolled)?;
    let config = stored_config(&config_text)?;
    let origin = config.device(&view.device_id).and_then(|d| d.inbox_key.as_deref());
    let origin = origin.ok_or_else(|| SyncError::Invalid {
        field: "device",
        message: "the volunteer's device has no inbox key: update its app and sync it".into(),
    })?;
    let mut recipients = store.recipient_keys()?;
    let origin = origin
        .parse()
        .map_err(|e| SyncError::Invalid { field: "inbox_key", message: format!("{e}") })?;
    if !recipients.contains(&origin) {
        recipients.push(origin);
    }
    let decision_id = crate::clock::new_uuid(store.entropy().as_ref());
    let content = crate::canonical::to_vec(
        &serde_json::to_value(&decision.content)
            .map_err(|e| StoreError::Encode { what: "decision", detail: e.to_string() })?,
    )
    .map_err(|e| StoreError::Encode { what: "decision", detail: e.to_string() })?;
    let now = store.now_ms();
    let info = EvidenceInfo {
        evidence_id: decision_id.clone(),
        content_type: DECISION_ENVELOPE_TYPE.to_string(),
        ..EvidenceInfo::default()
    };
    let (envelope, _) =
        seal_bytes(&content, info, &recipients, store.device_key(), now, Randomness::System)?;
    let base = if decision.kind.is_verdict() {
        store.current_verdict(record_id)?.map(|(id, _)| id)
    } else {
        None
    };
    let server_now = now.saturating_add(state.clock_offset_ms);
    let header = DecisionHeader {
        schema: DECISION_SCHEMA.into(),
        decision_id: decision_id.clone(),
        record_id: record_id.into(),
        record_envelope_sha256: store
            .received_envelope_sha256(record_id)?
            .ok_or_else(|| invalid("without its envelope hash".into()))?,
        team: config.team.clone(),
        device_id: store.device_id().to_string(),
        kind: decision.kind,
        base: base.clone(),
        decided_at_ms: server_now,
        action_at_ms: decision.action_at_ms.map(|t| t.saturating_add(state.clock_offset_ms)),
        merge: merge.clone(),
        envelope_sha256: String::new(),
        envelope_len: 0,
    };
    let body = DecisionBody::build(header, envelope, store.device_key())
        .map_err(|e| SyncError::Invalid { field: "decision", message: e.to_string() })?;
    store.add_decision(
        by,
        &NewDecision {
            id: decision_id.clone(),
            record_id: record_id.into(),
            kind: decision.kind,
            device_id: store.device_id().to_string(),
            base,
            decided_at_ms: server_now,
            action_at_ms: body.header.action_at_ms,
            merge,
            content: Some(decision.content.clone()),
            body: body.encode(),
            server_seq: None,
        },
    )?;
    Ok(decision_id)
}

/// The team configuration the store keeps (verified when it was applied; the row is sealed).
pub(crate) fn stored_config(text: &str) -> Result<TeamConfig, SyncError> {
    let doc: Json = serde_json::from_str(text)
        .map_err(|e| StoreError::BadData(format!("sync_state.config: {e}")))?;
    serde_json::from_value(doc["config"].clone())
        .map_err(|e| SyncError::Store(StoreError::BadData(format!("sync_state.config: {e}"))))
}
