//! `safehome export`: every received record decrypted into files for analysts (xlsx or CSV, one
//! table per form and per repeat, and optionally a GeoJSON of households; docs/export.md).
//!
//! Two sources: a supervisor's device (`--user`: the records it pulled, already verified), or
//! the archive holder's machine (`--identity FILE --server-data DIR`: a server's data folder or
//! a restored backup of it, each submission verified against its device's key and opened with
//! the archive's identity; one that fails is reported and left out, never exported unverified).

use std::path::{Path, PathBuf};
use std::str::FromStr;

use clap::Args;
use safehome_core::evidence::envelope::open_bytes;
use safehome_core::evidence::keys::Identity;
use safehome_core::export::{
    ExportDecision, ExportFormat, ExportOptions, ExportRecord, ExportSummary, Language, export,
};
use safehome_core::store::StoreError;
use safehome_core::store::decisions::{DecisionContent, DecisionKind, DecisionView};
use safehome_core::sync::protocol::{DecisionBody, SubmissionBody};
use safehome_server::archive::{ArchiveReader, ArchivedSubmission};

use crate::Outcome;
use crate::device_cmd::{DeviceArgs, actor, fail, open, store_fail};
use crate::outln;

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// A supervisor on this device: export the records it pulled.
    #[arg(long, conflicts_with_all = ["identity", "server_data"])]
    user: Option<String>,
    /// The archive's identity file (SH-IDENTITY-1…), with --server-data.
    #[arg(long, requires = "server_data")]
    identity: Option<PathBuf>,
    /// A safehome-server data folder (or a restored backup of one), with --identity.
    #[arg(long, requires = "identity")]
    server_data: Option<PathBuf>,
    /// Where to write the files (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// xlsx or csv.
    #[arg(long, default_value = "xlsx")]
    format: String,
    /// Label language: vi or en.
    #[arg(long, default_value = "vi")]
    lang: String,
    /// Also write households.geojson (precision reduced to --decimals).
    #[arg(long)]
    geojson: bool,
    /// Decimal places of GeoJSON coordinates (4 is about 11 m).
    #[arg(long, default_value_t = 4)]
    decimals: u8,
}

pub fn run(device: &DeviceArgs, args: &ExportArgs) -> Outcome {
    let format = match args.format.as_str() {
        "xlsx" => ExportFormat::Xlsx,
        "csv" => ExportFormat::Csv,
        other => return fail(format!("--format {other:?}: xlsx or csv"), Outcome::Unusable),
    };
    let language = match args.lang.as_str() {
        "vi" => Language::Vi,
        "en" => Language::En,
        other => return fail(format!("--lang {other:?}: vi or en"), Outcome::Unusable),
    };
    let options = ExportOptions {
        format,
        language,
        utc_offset_minutes: device.utc_offset.minutes(),
        geojson: args.geojson,
        coordinate_decimals: args.decimals,
    };
    let result = match (&args.user, &args.identity, &args.server_data) {
        (Some(user), None, None) => from_device(device, user, &options, &args.out),
        (None, Some(identity), Some(data)) => from_archive(identity, data, &options, &args.out),
        _ => {
            return fail(
                "give --user (a supervisor's device) or --identity with --server-data (the archive)",
                Outcome::Unusable,
            );
        }
    };
    match result {
        Ok((summary, refused)) => {
            print_summary(&summary);
            if refused > 0 {
                outln!("{refused} record(s) failed verification and were left out (see stderr)");
            }
            if summary.skipped.is_empty() && refused == 0 { Outcome::Ok } else { Outcome::Refused }
        }
        Err(o) => o,
    }
}

fn print_summary(s: &ExportSummary) {
    outln!("{} record(s) exported", s.records);
    for t in &s.tables {
        outln!("  {:<40} {} row(s)", t.name, t.rows);
    }
    for f in &s.files {
        outln!("  wrote {}", f.display());
    }
    for k in &s.skipped {
        outln!("  skipped {}: form {} {} is unknown here", k.record_id, k.form_id, k.form_version);
    }
    if s.truncated_cells > 0 {
        outln!("  {} cell(s) cut at Excel's 32,767 characters", s.truncated_cells);
    }
}

fn decision_row(
    kind: DecisionKind,
    at_ms: i64,
    device: &str,
    content: Option<&DecisionContent>,
) -> ExportDecision {
    ExportDecision {
        at_ms,
        kind: kind.to_string(),
        by_device: device.to_string(),
        note: content.map(|c| {
            let mut text = c.note.clone();
            for q in &c.comments {
                text.push_str(&format!("\n{}: {}", q.path, q.comment));
            }
            text
        }),
    }
}

/// Where a record stands, in the export's words.
fn review_state(superseded: bool, verdict: Option<DecisionKind>) -> String {
    match (superseded, verdict) {
        (true, _) => "superseded",
        (false, Some(DecisionKind::Approve)) => "approved",
        (false, Some(DecisionKind::Return)) => "returned",
        (false, Some(DecisionKind::Escalate)) => "escalated",
        (false, _) => "received",
    }
    .to_string()
}

fn from_device(
    device: &DeviceArgs,
    user: &str,
    options: &ExportOptions,
    out: &Path,
) -> Result<(ExportSummary, usize), Outcome> {
    let store = open(device)?;
    let a = actor(&store, user)?;
    let ids = store.received_ids(&a).map_err(store_fail)?;
    let records = ids.iter().map(|id| -> Result<ExportRecord, StoreError> {
        let view = store.received_record(&a, id)?;
        let verdict = store.current_verdict(id)?.map(|(_, k)| k);
        let decisions = view
            .decisions
            .iter()
            .filter(|d: &&DecisionView| {
                matches!(
                    d.state,
                    safehome_core::store::decisions::DecisionState::Sent
                        | safehome_core::store::decisions::DecisionState::Received
                )
            })
            .map(|d| decision_row(d.kind, d.decided_at_ms, &d.device_id, d.content.as_ref()))
            .collect();
        Ok(ExportRecord {
            submission: view.submission.unwrap_or_default(),
            review_state: review_state(view.superseded_by.is_some(), verdict),
            decisions,
        })
    });
    let forms = |id: &str, version: &str| store.form(id, version).ok();
    let summary = export(records, &forms, options, out).map_err(|e| fail(e, Outcome::Refused))?;
    Ok((summary, 0))
}

/// Verify and open one archived submission and its decisions.
fn open_archived(s: &ArchivedSubmission, identity: &Identity) -> Result<ExportRecord, String> {
    let body = SubmissionBody::decode(&s.body).map_err(|e| format!("malformed: {e}"))?;
    if body.routing.record_id != s.record_id || body.routing.device_id != s.device_id {
        return Err("the body names another record or device".into());
    }
    body.verify(&s.device_key).map_err(|e| format!("routing header: {e}"))?;
    let (plain, _) = open_bytes(&body.envelope, identity, Some(&s.device_key))
        .map_err(|e| format!("envelope: {e}"))?;
    let submission: serde_json::Value =
        serde_json::from_slice(&plain).map_err(|e| format!("submission: {e}"))?;
    let mut decisions = Vec::new();
    for d in &s.decisions {
        // A decision that does not verify is left out of the history, never shown as made.
        let Ok(decision) = DecisionBody::decode(&d.body) else { continue };
        if decision.verify(&d.device_key).is_err() || decision.header.record_id != s.record_id {
            continue;
        }
        let content = open_bytes(&decision.envelope, identity, Some(&d.device_key))
            .ok()
            .and_then(|(p, _)| serde_json::from_slice::<DecisionContent>(&p).ok());
        let h = &decision.header;
        decisions.push(decision_row(h.kind, h.decided_at_ms, &h.device_id, content.as_ref()));
    }
    let verdict = s.verdict.as_deref().and_then(|v| DecisionKind::from_str(v).ok());
    Ok(ExportRecord {
        submission,
        review_state: review_state(s.superseded_by.is_some(), verdict),
        decisions,
    })
}

fn from_archive(
    identity: &Path,
    data: &Path,
    options: &ExportOptions,
    out: &Path,
) -> Result<(ExportSummary, usize), Outcome> {
    let text = std::fs::read_to_string(identity)
        .map_err(|e| fail(format!("{}: {e}", identity.display()), Outcome::Unusable))?;
    let identity = Identity::from_str(text.trim())
        .map_err(|e| fail(format!("{}: {e}", identity.display()), Outcome::Unusable))?;
    let reader = ArchiveReader::open(data).map_err(|e| fail(e, Outcome::Unusable))?;
    let mut refused = 0usize;
    let records = reader.filter_map(|item| match item {
        Err(e) => Some(Err(e)),
        Ok(s) => match open_archived(&s, &identity) {
            Ok(r) => Some(Ok(r)),
            Err(why) => {
                refused += 1;
                eprintln!("left out {}: {why}", s.record_id);
                None
            }
        },
    });
    // Forms: the built-in ones (the archive machine has no device store).
    let forms = |id: &str, version: &str| {
        safehome_core::templates::load(id)
            .and_then(Result::ok)
            .filter(|f| f.form.version == version)
    };
    let summary = export(records, &forms, options, out).map_err(|e| fail(e, Outcome::Refused))?;
    Ok((summary, refused))
}
