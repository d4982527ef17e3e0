//! `safehome review`: the supervisor's queue of records pulled from the team's server, one
//! record whole, and the decisions (approve, return, escalate, act), each signed and sealed
//! here and uploaded at the next `safehome sync`; `decisions` shows any user (a volunteer too)
//! what was decided about a record and why.

use std::path::PathBuf;

use clap::Subcommand;
use safehome_core::store::decisions::{
    DecisionContent, DecisionKind, DecisionView, QuestionComment,
};
use safehome_core::sync::{self, Decision};

use crate::Outcome;
use crate::device_cmd::{DeviceArgs, actor, fail, json_out, open, store_fail};
use crate::outln;
use crate::sync_cmd::sync_fail;

#[derive(Subcommand, Debug)]
pub enum ReviewCommand {
    /// Received records to review: urgent first, then by deadline, then the newest.
    List {
        #[arg(long)]
        user: String,
        #[arg(long, default_value_t = 300)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// One received record: answers, risk and its reasons, quality flags, timings, evidence,
    /// decisions.
    Show {
        #[arg(long)]
        user: String,
        record: String,
        #[arg(long)]
        json: bool,
    },
    /// Approve a record.
    Approve {
        #[arg(long)]
        user: String,
        record: String,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Return a record to its volunteer with a comment, and comments on questions
    /// (`--comment 'children[1]/child_age=Is this right?'`, repeatable).
    Return {
        #[arg(long)]
        user: String,
        record: String,
        #[arg(long)]
        note: String,
        #[arg(long = "comment", value_name = "PATH=TEXT")]
        comments: Vec<String>,
    },
    /// Refer a record to the district, with the reason.
    Escalate {
        #[arg(long)]
        user: String,
        record: String,
        #[arg(long)]
        reason: String,
    },
    /// Record the action taken on an urgent case and when (Decree 56/2017: within 12 hours).
    Act {
        #[arg(long)]
        user: String,
        record: String,
        /// What was done.
        #[arg(long)]
        note: String,
        /// When: milliseconds since the epoch, or `now`.
        #[arg(long, default_value = "now")]
        at: String,
    },
    /// Fetch a received record's photos at the next sync, whatever the sync's budget.
    Fetch {
        #[arg(long)]
        user: String,
        record: String,
    },
    /// Write a received record's photo (kept on this device) to a file, decrypted.
    Photo {
        #[arg(long)]
        user: String,
        record: String,
        evidence: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Records pulled that failed verification, with the reason.
    Quarantined {
        #[arg(long)]
        user: String,
    },
    /// Likely duplicate households across the team's received records (two volunteers, one
    /// household), with why; households already merged show as one.
    Duplicates {
        #[arg(long)]
        user: String,
        #[arg(long)]
        json: bool,
    },
    /// Merge household --merge into household --keep (the same family registered twice):
    /// signed and sealed here with the reason, uploaded at the next sync.
    Merge {
        #[arg(long)]
        user: String,
        /// The household code kept.
        #[arg(long)]
        keep: String,
        /// The household code merged into it.
        #[arg(long)]
        merge: String,
        #[arg(long)]
        reason: String,
    },
    /// What was decided about a record, and why (any user who may see it).
    Decisions {
        #[arg(long)]
        user: String,
        record: String,
        #[arg(long)]
        json: bool,
    },
}

pub fn run(args: &DeviceArgs, cmd: ReviewCommand) -> Outcome {
    let store = match open(args) {
        Ok(s) => s,
        Err(o) => return o,
    };
    let user = match &cmd {
        ReviewCommand::List { user, .. }
        | ReviewCommand::Show { user, .. }
        | ReviewCommand::Approve { user, .. }
        | ReviewCommand::Return { user, .. }
        | ReviewCommand::Escalate { user, .. }
        | ReviewCommand::Act { user, .. }
        | ReviewCommand::Fetch { user, .. }
        | ReviewCommand::Photo { user, .. }
        | ReviewCommand::Quarantined { user }
        | ReviewCommand::Duplicates { user, .. }
        | ReviewCommand::Merge { user, .. }
        | ReviewCommand::Decisions { user, .. } => user.clone(),
    };
    let a = match actor(&store, &user) {
        Ok(a) => a,
        Err(o) => return o,
    };
    let decide = |record: &str, kind, note: String, comments, action_at_ms| {
        let decision = Decision { kind, content: DecisionContent { note, comments }, action_at_ms };
        match sync::decide(&store, &a, record, &decision) {
            Ok(id) => {
                outln!("{id}");
                outln!("{kind} recorded on {record}; it is uploaded at the next sync");
                Outcome::Ok
            }
            Err(e) => sync_fail(e),
        }
    };
    match cmd {
        ReviewCommand::List { limit, json, .. } => match store.received_queue(&a, limit) {
            Ok(items) if json => {
                json_out(&items);
                Outcome::Ok
            }
            Ok(items) => {
                outln!("{} record(s) to review", items.len());
                for i in items {
                    let left = i.time_left_ms.map_or_else(String::new, |ms| {
                        if ms < 0 {
                            format!(" OVERDUE by {} h", -ms / 3_600_000)
                        } else {
                            format!(" {} h {} min left", ms / 3_600_000, ms % 3_600_000 / 60_000)
                        }
                    });
                    outln!(
                        "{} {:<7}{} household {} rev {}{}{} flags [{}] fast {}/{}",
                        i.record_id,
                        i.risk_level.map_or("-".to_string(), |l| l.to_string()),
                        left,
                        i.household_code.as_deref().unwrap_or("-"),
                        i.revision,
                        i.verdict.map_or(String::new(), |v| format!(" verdict {v}")),
                        if i.acted { " acted" } else { "" },
                        i.quality_flags.join(","),
                        i.fast_answers,
                        i.answered
                    );
                }
                Outcome::Ok
            }
            Err(e) => store_fail(e),
        },
        ReviewCommand::Show { record, json, .. } => match store.received_record(&a, &record) {
            Ok(v) if json => {
                json_out(&v);
                Outcome::Ok
            }
            Ok(v) => {
                outln!("record {} ({}, revision {}): {}", v.record_id, v.kind, v.revision, v.state);
                if let Some(why) = &v.quarantine_reason {
                    outln!("QUARANTINED: {why}");
                }
                if let Some(by) = &v.superseded_by {
                    outln!("superseded by revision {by}");
                }
                if let Some(a) = &v.assessment {
                    crate::report::print_assessment(a, "en");
                }
                for f in &v.quality_flags {
                    outln!("flag {}: {}", f.code.as_str(), f.reason_en);
                }
                for e in &v.evidence {
                    outln!(
                        "photo {} ({} bytes){}",
                        e.id,
                        e.len,
                        if e.cached { "" } else { " not fetched yet" }
                    );
                }
                if let Some(s) = &v.submission {
                    outln!("{}", serde_json::to_string_pretty(&s["data"]).unwrap_or_default());
                }
                print_decisions(&v.decisions);
                Outcome::Ok
            }
            Err(e) => store_fail(e),
        },
        ReviewCommand::Approve { record, note, .. } => {
            decide(&record, DecisionKind::Approve, note, Vec::new(), None)
        }
        ReviewCommand::Return { record, note, comments, .. } => {
            let mut parsed = Vec::new();
            for c in comments {
                let Some((path, comment)) = c.split_once('=') else {
                    return fail(format!("--comment {c:?}: expected PATH=TEXT"), Outcome::Unusable);
                };
                parsed.push(QuestionComment { path: path.trim().into(), comment: comment.into() });
            }
            decide(&record, DecisionKind::Return, note, parsed, None)
        }
        ReviewCommand::Escalate { record, reason, .. } => {
            decide(&record, DecisionKind::Escalate, reason, Vec::new(), None)
        }
        ReviewCommand::Act { record, note, at, .. } => {
            let at = if at == "now" {
                store.now_ms()
            } else {
                match at.parse::<i64>() {
                    Ok(ms) if ms <= store.now_ms() => ms,
                    _ => {
                        return fail(
                            "--at: milliseconds since the epoch, not in the future, or `now`",
                            Outcome::Unusable,
                        );
                    }
                }
            };
            decide(&record, DecisionKind::Act, note, Vec::new(), Some(at))
        }
        ReviewCommand::Fetch { record, .. } => match store.want_evidence(&a, &record) {
            Ok(n) => {
                outln!("{n} photo(s) will be fetched at the next sync");
                Outcome::Ok
            }
            Err(e) => store_fail(e),
        },
        ReviewCommand::Photo { record, evidence, out, .. } => {
            match store.open_received_evidence(&a, &record, &evidence) {
                Ok((bytes, _)) => match std::fs::write(&out, &bytes) {
                    Ok(()) => {
                        outln!("{} bytes written to {}", bytes.len(), out.display());
                        Outcome::Ok
                    }
                    Err(e) => fail(format!("{}: {e}", out.display()), Outcome::Unusable),
                },
                Err(e) => store_fail(e),
            }
        }
        ReviewCommand::Quarantined { .. } => match store.quarantined(&a) {
            Ok(rows) => {
                outln!("{} quarantined record(s)", rows.len());
                for (id, why) in rows {
                    outln!("{id}: {why}");
                }
                Outcome::Ok
            }
            Err(e) => store_fail(e),
        },
        ReviewCommand::Duplicates { json, .. } => match store.team_duplicates(&a) {
            Ok(pairs) if json => {
                json_out(&pairs);
                Outcome::Ok
            }
            Ok(pairs) => {
                outln!("{} cặp hộ có thể trùng / likely duplicate pair(s)", pairs.len());
                for p in pairs {
                    outln!(
                        "{} ↔ {}{}: {}",
                        p.first.code,
                        p.second.code,
                        if p.same_device { " (cùng máy / same device)" } else { "" },
                        p.reasons.describe().join("; ")
                    );
                    for h in [&p.first, &p.second] {
                        outln!(
                            "    {} {} — {} ({} record(s))",
                            h.code,
                            h.head_name,
                            h.village,
                            h.record_ids.len()
                        );
                    }
                }
                Outcome::Ok
            }
            Err(e) => store_fail(e),
        },
        ReviewCommand::Merge { keep, merge, reason, .. } => {
            match sync::merge_households(&store, &a, &keep, &merge, &reason) {
                Ok(id) => {
                    outln!("{id}");
                    outln!(
                        "hộ {merge} gộp vào {keep} / household {merge} merged into {keep}; \
                         it is uploaded at the next sync"
                    );
                    Outcome::Ok
                }
                Err(e) => sync_fail(e),
            }
        }
        ReviewCommand::Decisions { record, json, .. } => match store.decisions_for(&a, &record) {
            Ok(d) if json => {
                json_out(&d);
                Outcome::Ok
            }
            Ok(d) => {
                print_decisions(&d);
                Outcome::Ok
            }
            Err(e) => store_fail(e),
        },
    }
}

fn print_decisions(decisions: &[DecisionView]) {
    outln!("{} decision(s)", decisions.len());
    for d in decisions {
        outln!("  {} {} by device {} ({})", d.id, d.kind, d.device_id, d.state);
        if let Some(m) = &d.merge {
            outln!("    household {} merged into {}", m.household, m.into);
        }
        if let Some(c) = &d.content {
            if !c.note.is_empty() {
                outln!("    {}", c.note);
            }
            for q in &c.comments {
                outln!("    {}: {}", q.path, q.comment);
            }
        }
        if let Some(at) = d.action_at_ms {
            outln!("    action taken at {at}");
        }
        if let Some(detail) = &d.detail {
            outln!("    server: {detail}");
        }
    }
}
