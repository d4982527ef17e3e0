//! `safehome form ...`: list, show, validate and fill forms; import and export XLSForm
//! spreadsheets.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Subcommand;
use safehome_core::clock::{SystemClock, SystemEntropy};
use safehome_core::form::check::{CheckedForm, FieldId};
use safehome_core::form::model::pick_text;
use safehome_core::form::risk;
use safehome_core::form::session::Session;
use safehome_core::form::xlsform;
use safehome_core::templates;

use crate::Outcome;
use crate::outln;
use crate::report;
use crate::source;
use crate::utc_offset::UtcOffset;

#[derive(Subcommand)]
pub enum FormCommand {
    /// List the built-in forms.
    List,
    /// Show a form's questions (or its JSON).
    Show {
        /// `builtin:ID`, a form JSON file or an XLSForm spreadsheet (.xlsx).
        form: String,
        #[arg(long)]
        json: bool,
        #[arg(long)]
        lang: Option<String>,
    },
    /// Check a form definition (JSON or .xlsx): exit 0 if valid, 1 with one `path: message`
    /// (`sheet!CELL: message`) line per problem, 2 if the file cannot be read.
    Validate { file: PathBuf },
    /// Turn an XLSForm spreadsheet into a form JSON file: exit 0; 1 with one
    /// `sheet!CELL: message` line per problem; 2 if the file is not a readable .xlsx.
    Import {
        /// The spreadsheet (.xlsx with `survey`, `choices`, `settings` and `risk` sheets).
        file: PathBuf,
        /// Where to write the JSON (standard output if absent).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Write a form as an XLSForm spreadsheet (.xlsx) that `form import` reads back to the
    /// same form.
    Export {
        /// `builtin:ID`, a form JSON file or a spreadsheet.
        form: String,
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Fill a form from an answers file and print the validation report and risk assessment:
    /// exit 0 complete and valid, 1 violations, 2 unusable input.
    Fill {
        form: String,
        #[arg(long)]
        answers: PathBuf,
        #[arg(long)]
        json: bool,
        #[arg(long)]
        lang: Option<String>,
    },
}

pub fn run(cmd: FormCommand, offset: UtcOffset) -> Outcome {
    match cmd {
        FormCommand::List => list(),
        FormCommand::Show { form, json, lang } => show(&form, json, lang.as_deref()),
        FormCommand::Validate { file } => validate(&file),
        FormCommand::Import { file, output } => import(&file, output.as_deref()),
        FormCommand::Export { form, output } => export(&form, &output),
        FormCommand::Fill { form, answers, json, lang } => {
            fill(&form, &answers, json, lang.as_deref(), offset)
        }
    }
}

fn list() -> Outcome {
    for t in templates::TEMPLATES {
        match templates::load(t.id) {
            Some(Ok(f)) => {
                let title = pick_text(&f.form.title, "vi", None).unwrap_or("");
                let en = pick_text(&f.form.title, "en", None).unwrap_or("");
                outln!(
                    "builtin:{:<22} v{:<8} {:>3} fields  {title} / {en}",
                    t.id,
                    f.form.version,
                    f.fields.len()
                );
            }
            Some(Err(e)) => outln!("builtin:{:<22} BROKEN: {e}", t.id),
            None => {}
        }
    }
    Outcome::Ok
}

fn fail(outcome: Outcome, lines: &[String]) -> Outcome {
    for l in lines {
        eprintln!("{l}");
    }
    outcome
}

fn show(spec: &str, json: bool, lang: Option<&str>) -> Outcome {
    let form = match source::checked_form(spec) {
        Ok(f) => f,
        Err((o, lines)) => return fail(o, &lines),
    };
    if json {
        outln!("{}", form.form.to_json_pretty());
        return Outcome::Ok;
    }
    let lang = lang.unwrap_or(form.default_language());
    if !form.form.languages.iter().any(|l| l == lang) {
        return fail(Outcome::Unusable, &[format!("language `{lang}` is not one of the form's")]);
    }
    let title = form.form.text(&form.form.title, lang).unwrap_or("");
    outln!(
        "{title}  [{} v{}; languages {}]",
        form.form.id,
        form.form.version,
        form.form.languages.join(", ")
    );
    for &f in &form.roots {
        show_field(&form, f, 1, lang);
    }
    if let Some(r) = &form.form.risk {
        outln!(
            "\nrisk: {} rules; medium >= {}, high >= {} points; any urgent rule -> urgent",
            r.rules.len(),
            r.thresholds.medium,
            r.thresholds.high
        );
        for rule in &r.rules {
            let scope = rule.repeat.as_deref().map(|s| format!(" per {s}")).unwrap_or_default();
            let pts = if rule.urgent { "URGENT".to_string() } else { format!("+{}", rule.points) };
            let reason = form.form.text(&rule.reason, lang).unwrap_or("");
            outln!("  {:<8} {:<22} {}{scope}: {reason}", pts, rule.category.as_str(), rule.id);
        }
    }
    Outcome::Ok
}

fn show_field(form: &CheckedForm, f: FieldId, depth: usize, lang: &str) {
    let info = form.field(f);
    let d = &info.def;
    let label = form.form.text(&d.label, lang).unwrap_or("");
    let mut extras = Vec::new();
    if d.required != Default::default() {
        extras.push("required".to_string());
    }
    if let Some(r) = &d.relevant {
        extras.push(format!("if {r}"));
    }
    if let Some(c) = &d.calculation {
        extras.push(format!("= {c}"));
    }
    if let Some(c) = &d.repeat_count {
        extras.push(format!("count {c}"));
    }
    let extras =
        if extras.is_empty() { String::new() } else { format!("  [{}]", extras.join("; ")) };
    outln!("{}{} ({}) {label}{extras}", "  ".repeat(depth), d.name, d.kind.as_str());
    if let Some(list) = d.choices.as_ref().and_then(|l| form.form.choices.get(l)) {
        let names: Vec<String> = list
            .iter()
            .map(|c| format!("{}={}", c.name, form.form.text(&c.label, lang).unwrap_or("")))
            .collect();
        outln!("{}  choices: {}", "  ".repeat(depth), names.join(" | "));
    }
    for &c in &info.children {
        show_field(form, c, depth + 1, lang);
    }
}

fn validate(file: &std::path::Path) -> Outcome {
    if xlsform::is_xlsx_path(file) {
        return match source::spreadsheet(file) {
            Ok(f) => {
                outln!("valid: {} v{} ({} fields)", f.form.id, f.form.version, f.fields.len());
                Outcome::Ok
            }
            // As for JSON: problems on stdout (the report), an unreadable file on stderr.
            Err((Outcome::Refused, lines)) => {
                for l in lines {
                    outln!("{l}");
                }
                Outcome::Refused
            }
            Err((o, lines)) => fail(o, &lines),
        };
    }
    let json = match source::read(file) {
        Ok(j) => j,
        Err(e) => return fail(Outcome::Unusable, &[e]),
    };
    match CheckedForm::from_json(&json) {
        Ok(f) => {
            outln!("valid: {} v{} ({} fields)", f.form.id, f.form.version, f.fields.len());
            Outcome::Ok
        }
        Err(safehome_core::form::check::FormError::Parse(p)) => {
            outln!("form: {p}");
            Outcome::Refused
        }
        Err(safehome_core::form::check::FormError::Definition(errs)) => {
            for e in errs {
                outln!("{e}");
            }
            Outcome::Refused
        }
    }
}

fn import(file: &std::path::Path, output: Option<&std::path::Path>) -> Outcome {
    let form = match source::spreadsheet(file) {
        Ok(f) => f,
        Err((o, lines)) => return fail(o, &lines),
    };
    let json = form.form.to_json_pretty();
    match output {
        None => outln!("{json}"),
        Some(out) => {
            if let Err(e) = std::fs::write(out, format!("{json}\n")) {
                return fail(Outcome::Unusable, &[format!("cannot write {}: {e}", out.display())]);
            }
            eprintln!(
                "imported {} v{} ({} fields) to {}",
                form.form.id,
                form.form.version,
                form.fields.len(),
                out.display()
            );
        }
    }
    Outcome::Ok
}

fn export(spec: &str, output: &std::path::Path) -> Outcome {
    let form = match source::checked_form(spec) {
        Ok(f) => f,
        Err((o, lines)) => return fail(o, &lines),
    };
    let bytes = match xlsform::export(&form.form) {
        Ok(b) => b,
        Err(e) => return fail(Outcome::Refused, &[e.to_string()]),
    };
    if let Err(e) = std::fs::write(output, bytes) {
        return fail(Outcome::Unusable, &[format!("cannot write {}: {e}", output.display())]);
    }
    Outcome::Ok
}

fn fill(
    spec: &str,
    answers: &std::path::Path,
    json: bool,
    lang: Option<&str>,
    offset: UtcOffset,
) -> Outcome {
    let form = match source::checked_form(spec) {
        Ok(f) => f,
        // A broken form makes the answers unusable, whatever they are.
        Err((_, lines)) => return fail(Outcome::Unusable, &lines),
    };
    let answers = match source::json_file(answers) {
        Ok(a) => a,
        Err(e) => return fail(Outcome::Unusable, &[e]),
    };
    let mut session = Session::new(
        Arc::clone(&form),
        // Dates and times in the answers without an offset are the device's local time.
        Arc::new(SystemClock { offset_minutes: offset.minutes() }),
        Arc::new(SystemEntropy::default()),
    );
    if let Some(l) = lang {
        if let Err(e) = session.set_language(l) {
            return fail(Outcome::Unusable, &[e.to_string()]);
        }
    }
    if let Err(errs) = session.load_answers(&answers) {
        let lines: Vec<String> = errs.iter().map(ToString::to_string).collect();
        return fail(Outcome::Unusable, &lines);
    }
    let validation = session.validate();
    let assessment = risk::assess(&session);
    if json {
        let out = serde_json::json!({
            "form": {"id": form.form.id, "version": form.form.version},
            "instance_name": session.instance_name(),
            "valid": validation.is_valid(),
            "violations": validation.violations,
            "progress": session.progress(),
            "assessment": assessment,
            "data": session.output(),
        });
        crate::out::json(&out);
    } else {
        report::print_validation(&session, &validation);
        if let Some(a) = &assessment {
            report::print_assessment(a, session.language());
        }
    }
    if validation.is_valid() { Outcome::Ok } else { Outcome::Refused }
}
