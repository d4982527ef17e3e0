//! One record as rows: its main row and a row per repeat instance, each cell read from the
//! submission with a typed error, naming the record and field, for anything of the wrong shape.

use std::borrow::Cow;

use serde_json::{Map, Value as Json};

use super::cell::Cell;
use super::layout::{ColumnKind, FormLayout, GeoPart, Meta, Table, Trailer};
use super::{ExportError, ExportOptions, ExportRecord, Language, Sink};
use crate::civil::format_iso_datetime;
use crate::form::answers::GeoPoint;
use crate::form::check::FieldInfo;
use crate::form::model::{Choice, FieldKind};
use crate::form::risk::Level;

/// What identifies a submission before its form is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Head {
    pub record_id: String,
    pub form_id: String,
    pub form_version: String,
}

/// Read the record id and form of a submission (`index` is its 1-based position, which names
/// it when it has no readable id).
pub(super) fn head(submission: &Json, index: usize) -> Result<Head, ExportError> {
    let who = format!("#{index}");
    let obj = submission
        .as_object()
        .ok_or_else(|| malformed(&who, "(submission)", "is not a JSON object"))?;
    let string = |v: Option<&Json>, field: &str, who: &str| -> Result<String, ExportError> {
        match v {
            Some(Json::String(s)) if !s.is_empty() => Ok(s.clone()),
            _ => Err(malformed(who, field, "is missing or not a non-empty string")),
        }
    };
    let record_id = string(obj.get("record_id"), "record_id", &who)?;
    let form = obj.get("form");
    let form_id = string(form.and_then(|f| f.get("id")), "form/id", &record_id)?;
    let form_version = string(form.and_then(|f| f.get("version")), "form/version", &record_id)?;
    Ok(Head { record_id, form_id, form_version })
}

pub(super) fn malformed(record: &str, field: &str, problem: &str) -> ExportError {
    ExportError::Malformed { record: record.into(), field: field.into(), problem: problem.into() }
}

/// Writes one record's rows. `first` is the sink's index of the layout's main table.
pub(super) struct RecordRows<'a> {
    pub layout: &'a FormLayout,
    pub first: usize,
    pub options: &'a ExportOptions,
    pub record: &'a ExportRecord,
    pub record_id: &'a str,
}

impl<'a> RecordRows<'a> {
    pub(super) fn write(&self, sink: &mut dyn Sink) -> Result<(), ExportError> {
        let sub = &self.record.submission;
        let data = match sub.get("data") {
            Some(Json::Object(o)) => o,
            _ => return Err(self.err("data", "is missing or not a JSON object")),
        };
        let facts = Facts::read(self, sub)?;
        let Some(main) = self.layout.tables.first() else { return Ok(()) };
        let mut cells = Vec::with_capacity(main.columns.len());
        for col in &main.columns {
            cells.push(match col.kind {
                ColumnKind::Key => Cell::text(self.record_id),
                ColumnKind::Meta(m) => facts.meta(m),
                ColumnKind::Trailer(t) => facts.trailer(t),
                kind => self.answer(kind, data, "")?,
            });
        }
        sink.row(self.first, &cells)?;
        for &child in &main.children {
            self.repeat(child, data, self.record_id, "", sink)?;
        }
        Ok(())
    }

    /// The rows of the repeat table `t` found in `scope` (the parent's data object), then of
    /// the repeats nested in each instance. `at` is the parent instance's path, for errors.
    fn repeat(
        &self,
        t: usize,
        scope: &Map<String, Json>,
        parent_key: &str,
        at: &str,
        sink: &mut dyn Sink,
    ) -> Result<(), ExportError> {
        let Some(table) = self.layout.tables.get(t) else { return Ok(()) };
        let Some(rep) = table.repeat else { return Ok(()) };
        let name = self.layout.form.field(rep).name();
        let items = match scope.get(name) {
            None | Some(Json::Null) => return Ok(()),
            Some(Json::Array(items)) => items,
            Some(_) => {
                return Err(self.err(&join(at, &table.step), "is not a list of repeat instances"));
            }
        };
        for (i, item) in items.iter().enumerate() {
            let step = format!("{}[{}]", table.step, i + 1);
            let here = join(at, &step);
            let Json::Object(obj) = item else {
                return Err(self.err(&here, "is not a JSON object"));
            };
            let key = format!("{parent_key}/{step}");
            let cells = self.repeat_cells(table, obj, &key, parent_key, &here)?;
            sink.row(self.first + t, &cells)?;
            for &child in &table.children {
                self.repeat(child, obj, &key, &here, sink)?;
            }
        }
        Ok(())
    }

    fn repeat_cells<'b>(
        &self,
        table: &Table,
        obj: &'b Map<String, Json>,
        key: &str,
        parent_key: &str,
        at: &str,
    ) -> Result<Vec<Cell<'b>>, ExportError>
    where
        'a: 'b,
    {
        table
            .columns
            .iter()
            .map(|col| match col.kind {
                ColumnKind::Key => Ok(Cell::text(key.to_string())),
                ColumnKind::ParentKey => Ok(Cell::text(parent_key.to_string())),
                kind => self.answer(kind, obj, at),
            })
            .collect()
    }

    /// The cell of an answer column, from the data object of its scope.
    fn answer<'b>(
        &self,
        kind: ColumnKind,
        obj: &'b Map<String, Json>,
        at: &str,
    ) -> Result<Cell<'b>, ExportError>
    where
        'a: 'b,
    {
        let id = match kind {
            ColumnKind::Value(id)
            | ColumnKind::SelectLabels(id)
            | ColumnKind::ChoiceFlag(id, _)
            | ColumnKind::Geo(id, _) => id,
            _ => return Ok(Cell::Empty),
        };
        let info = self.layout.form.field(id);
        match obj.get(info.name()) {
            None | Some(Json::Null) => Ok(Cell::Empty),
            Some(v) => self
                .field_cell(info, v, kind)
                .map_err(|problem| self.err(&self.field_path(info, at), problem)),
        }
    }

    fn field_cell<'b>(
        &self,
        info: &'a FieldInfo,
        v: &'b Json,
        kind: ColumnKind,
    ) -> Result<Cell<'b>, &'static str>
    where
        'a: 'b,
    {
        let choices = || {
            info.def
                .choices
                .as_ref()
                .and_then(|l| self.layout.form.form.choices.get(l))
                .map_or(&[][..], Vec::as_slice)
        };
        match (kind, info.kind()) {
            (ColumnKind::Value(_), FieldKind::Integer | FieldKind::Decimal) => match v {
                Json::Number(n) => n.as_f64().map(Cell::Number).ok_or("is not a finite number"),
                _ => Err("is not a number"),
            },
            (ColumnKind::Value(_), FieldKind::SelectOne) => match v {
                Json::String(s) => Ok(self.choice_label(choices(), s)),
                _ => Err("is not a choice name"),
            },
            (ColumnKind::Value(_), FieldKind::Acknowledge) => match v {
                Json::Bool(true) => Ok(Cell::text("OK")),
                Json::Bool(false) => Ok(Cell::Empty),
                _ => Err("is not a boolean"),
            },
            (ColumnKind::Value(_), FieldKind::Calculate) => match v {
                Json::String(s) => Ok(Cell::text(s.as_str())),
                Json::Number(n) => n.as_f64().map(Cell::Number).ok_or("is not a finite number"),
                Json::Bool(b) => Ok(Cell::text(if *b { "true" } else { "false" })),
                _ => Err("is not a single value"),
            },
            (ColumnKind::Value(_), _) => match v {
                Json::String(s) => Ok(Cell::text(s.as_str())),
                _ => Err("is not text"),
            },
            (ColumnKind::SelectLabels(_), _) => {
                let names = chosen(v)?;
                let labels: Vec<Cow<'_, str>> = names
                    .iter()
                    .map(|n| match self.choice_label(choices(), n) {
                        Cell::Text(t) => t,
                        _ => Cow::Borrowed(*n),
                    })
                    .collect();
                Ok(Cell::Text(Cow::Owned(labels.join("; "))))
            }
            (ColumnKind::ChoiceFlag(_, i), _) => {
                let names = chosen(v)?;
                let choice = choices().get(i).map(|c| c.name.as_str());
                let hit = choice.is_some_and(|c| names.contains(&c));
                Ok(Cell::Number(if hit { 1.0 } else { 0.0 }))
            }
            (ColumnKind::Geo(_, part), _) => {
                let p = geopoint(v).ok_or("is not a point {lat, lon, alt, accuracy}")?;
                Ok(Cell::Number(match part {
                    GeoPart::Latitude => p.lat,
                    GeoPart::Longitude => p.lon,
                    GeoPart::Altitude => p.alt,
                    GeoPart::Accuracy => p.accuracy,
                }))
            }
            _ => Ok(Cell::Empty),
        }
    }

    /// A choice's label in the chosen language; the stored name when the list has no such
    /// choice (an answer kept from an older list), so nothing is lost.
    fn choice_label<'b>(&self, list: &'a [Choice], name: &'b str) -> Cell<'b>
    where
        'a: 'b,
    {
        match list.iter().find(|c| c.name == name) {
            Some(c) => Cell::text(
                self.layout
                    .form
                    .form
                    .text(&c.label, self.options.language.code())
                    .unwrap_or(&c.name),
            ),
            None => Cell::text(name),
        }
    }

    /// Where a field is, for errors: its form path on the main row, its path below the repeat
    /// instance `at` on a repeat row (`household/roster/children[2]/child_age`).
    fn field_path(&self, info: &FieldInfo, at: &str) -> String {
        let scope = info.scope().map(|s| self.layout.form.field(s).path.as_str());
        let rel = scope
            .and_then(|p| info.path.strip_prefix(p))
            .and_then(|r| r.strip_prefix('/'))
            .unwrap_or(&info.path);
        join(at, rel)
    }

    fn err(&self, field: &str, problem: &str) -> ExportError {
        malformed(self.record_id, field, problem)
    }
}

fn join(at: &str, step: &str) -> String {
    if at.is_empty() { step.to_string() } else { format!("{at}/{step}") }
}

/// A select_multiple answer: a list of choice names (or the XForms space-separated string).
fn chosen(v: &Json) -> Result<Vec<&str>, &'static str> {
    match v {
        Json::Array(items) => {
            items.iter().map(|x| x.as_str().ok_or("is not a list of choice names")).collect()
        }
        Json::String(s) => Ok(s.split_whitespace().collect()),
        _ => Err("is not a list of choice names"),
    }
}

/// A geopoint answer: the `{lat, lon, alt, accuracy}` object the session outputs, or the
/// XForms string `"lat lon alt accuracy"`.
pub(super) fn geopoint(v: &Json) -> Option<GeoPoint> {
    match v {
        Json::String(s) => GeoPoint::parse(s),
        Json::Object(o) => {
            let num = |k: &str| o.get(k).and_then(Json::as_f64);
            Some(GeoPoint {
                lat: num("lat")?,
                lon: num("lon")?,
                alt: num("alt").unwrap_or(0.0),
                accuracy: num("accuracy").unwrap_or(0.0),
            })
        }
        _ => None,
    }
    .filter(|p| {
        p.lat.is_finite() && p.lon.is_finite() && p.lat.abs() <= 90.0 && p.lon.abs() <= 180.0
    })
}

/// What the metadata and trailing columns show, read once per record.
struct Facts<'a> {
    offset: i32,
    lang: Language,
    household_code: Option<&'a str>,
    revision: Option<f64>,
    revision_of: Option<&'a str>,
    device_id: Option<&'a str>,
    owner_id: Option<&'a str>,
    created_at_ms: Option<i64>,
    finalized_at_ms: Option<i64>,
    instance_name: Option<&'a str>,
    review_state: &'a str,
    level: Option<Level>,
    points: Option<f64>,
    due_at_ms: Option<i64>,
    rules: Vec<&'a str>,
    reasons: Vec<&'a str>,
    flags: Vec<&'a str>,
    flag_reasons: Vec<&'a str>,
    unchecked: Vec<String>,
    record: &'a ExportRecord,
}

impl<'a> Facts<'a> {
    fn read(rows: &RecordRows<'a>, sub: &'a Json) -> Result<Facts<'a>, ExportError> {
        let err = |field: &str, problem: &str| rows.err(field, problem);
        let opt_str = |v: &'a Json, field: &str| -> Result<Option<&'a str>, ExportError> {
            match v.get(field) {
                None | Some(Json::Null) => Ok(None),
                Some(Json::String(s)) => Ok(Some(s.as_str())),
                Some(_) => Err(err(field, "is not text")),
            }
        };
        let opt_ms = |v: &'a Json, field: &str| -> Result<Option<i64>, ExportError> {
            match v.get(field) {
                None | Some(Json::Null) => Ok(None),
                Some(n) => {
                    n.as_i64().map(Some).ok_or_else(|| err(field, "is not a time in milliseconds"))
                }
            }
        };
        let opt_num = |v: &'a Json, field: &str| -> Result<Option<f64>, ExportError> {
            match v.get(field) {
                None | Some(Json::Null) => Ok(None),
                Some(n) => n.as_f64().map(Some).ok_or_else(|| err(field, "is not a number")),
            }
        };
        let lang = rows.options.language;
        let mut facts = Facts {
            offset: rows.options.utc_offset_minutes,
            lang,
            household_code: opt_str(sub, "household_code")?,
            revision: opt_num(sub, "revision")?,
            revision_of: opt_str(sub, "revision_of")?,
            device_id: opt_str(sub, "device_id")?,
            owner_id: opt_str(sub, "owner_id")?,
            created_at_ms: opt_ms(sub, "created_at_ms")?,
            finalized_at_ms: opt_ms(sub, "finalized_at_ms")?,
            instance_name: opt_str(sub, "instance_name")?,
            review_state: &rows.record.review_state,
            level: None,
            points: None,
            due_at_ms: None,
            rules: Vec::new(),
            reasons: Vec::new(),
            flags: Vec::new(),
            flag_reasons: Vec::new(),
            unchecked: Vec::new(),
            record: rows.record,
        };
        match sub.get("assessment") {
            None | Some(Json::Null) => {}
            Some(a @ Json::Object(_)) => {
                facts.level = Some(match a.get("level").and_then(Json::as_str) {
                    Some("low") => Level::Low,
                    Some("medium") => Level::Medium,
                    Some("high") => Level::High,
                    Some("urgent") => Level::Urgent,
                    _ => return Err(err("assessment/level", "is not a risk level")),
                });
                facts.points = opt_num(a, "total_points")
                    .map_err(|_| err("assessment/total_points", "is not a number"))?;
                facts.due_at_ms = opt_ms(a, "due_at_ms")
                    .map_err(|_| err("assessment/due_at_ms", "is not a time"))?;
                for (i, t) in list(a, "triggered")
                    .map_err(|p| err("assessment/triggered", p))?
                    .iter()
                    .enumerate()
                {
                    let field = |f: &str| format!("assessment/triggered[{}]/{f}", i + 1);
                    match (
                        t.get("rule_id").and_then(Json::as_str),
                        t.get("reason").and_then(Json::as_str),
                    ) {
                        (Some(rule), Some(reason)) => {
                            facts.rules.push(rule);
                            facts.reasons.push(reason);
                        }
                        (None, _) => return Err(err(&field("rule_id"), "is missing or not text")),
                        (_, None) => return Err(err(&field("reason"), "is missing or not text")),
                    }
                }
            }
            Some(_) => return Err(err("assessment", "is not a JSON object")),
        }
        match sub.get("location") {
            None | Some(Json::Null) => {}
            Some(l @ Json::Object(_)) => {
                let reason_key = match lang {
                    Language::Vi => "reason_vi",
                    Language::En => "reason_en",
                };
                for (i, f) in
                    list(l, "flags").map_err(|p| err("location/flags", p))?.iter().enumerate()
                {
                    let Some(code) = f.get("code").and_then(Json::as_str) else {
                        return Err(err(
                            &format!("location/flags[{}]/code", i + 1),
                            "is missing or not text",
                        ));
                    };
                    facts.flags.push(code);
                    facts
                        .flag_reasons
                        .push(f.get(reason_key).and_then(Json::as_str).unwrap_or(code));
                }
                for (i, s) in list(l, "skipped_checks")
                    .map_err(|p| err("location/skipped_checks", p))?
                    .iter()
                    .enumerate()
                {
                    match (
                        s.get("check").and_then(Json::as_str),
                        s.get("reason").and_then(Json::as_str),
                    ) {
                        (Some(check), Some(reason)) => {
                            facts.unchecked.push(format!("{check} ({reason})"))
                        }
                        _ => {
                            return Err(err(
                                &format!("location/skipped_checks[{}]", i + 1),
                                "has no check or reason",
                            ));
                        }
                    }
                }
            }
            Some(_) => return Err(err("location", "is not a JSON object")),
        }
        Ok(facts)
    }

    fn time(&self, ms: Option<i64>) -> Cell<'a> {
        ms.map_or(Cell::Empty, |ms| Cell::text(format_iso_datetime(ms, self.offset)))
    }

    fn meta(&self, m: Meta) -> Cell<'a> {
        let text = |s: Option<&'a str>| s.map_or(Cell::Empty, Cell::text);
        match m {
            Meta::HouseholdCode => text(self.household_code),
            Meta::Revision => self.revision.map_or(Cell::Empty, Cell::Number),
            Meta::RevisionOf => text(self.revision_of),
            Meta::DeviceId => text(self.device_id),
            Meta::OwnerId => text(self.owner_id),
            Meta::CreatedAt => self.time(self.created_at_ms),
            Meta::FinalizedAt => self.time(self.finalized_at_ms),
            Meta::ReviewState => Cell::text(self.review_state),
            Meta::InstanceName => text(self.instance_name),
        }
    }

    fn trailer(&self, t: Trailer) -> Cell<'a> {
        let joined = |v: &[&str], sep: &str| {
            if v.is_empty() { Cell::Empty } else { Cell::text(v.join(sep)) }
        };
        let decisions = &self.record.decisions;
        let last = decisions.last();
        match t {
            Trailer::RiskLevel => self.level.map_or(Cell::Empty, |l| Cell::text(l.as_str())),
            Trailer::RiskLevelLabel => self.level.map_or(Cell::Empty, |l| {
                Cell::text(match self.lang {
                    Language::Vi => l.label_vi(),
                    Language::En => match l {
                        Level::Low => "Low",
                        Level::Medium => "Medium",
                        Level::High => "High",
                        Level::Urgent => "Urgent",
                    },
                })
            }),
            Trailer::RiskPoints => self.points.map_or(Cell::Empty, Cell::Number),
            Trailer::RiskDueAt => self.time(self.due_at_ms),
            Trailer::RiskRules => joined(&self.rules, " "),
            // Reasons are in the language the visit was filled in (finalize renders them with
            // the answers filled in); `risk_rules` holds their language-neutral ids.
            Trailer::RiskReasons => joined(&self.reasons, "\n"),
            Trailer::LocationFlags => joined(&self.flags, " "),
            Trailer::LocationFlagReasons => joined(&self.flag_reasons, "\n"),
            Trailer::LocationUnchecked => {
                if self.unchecked.is_empty() {
                    Cell::Empty
                } else {
                    Cell::text(self.unchecked.join("; "))
                }
            }
            Trailer::DecisionCount => Cell::Number(decisions.len() as f64),
            Trailer::LastDecision => last.map_or(Cell::Empty, |d| Cell::text(d.kind.as_str())),
            Trailer::LastDecisionAt => self.time(last.map(|d| d.at_ms)),
            Trailer::LastDecisionBy => {
                last.map_or(Cell::Empty, |d| Cell::text(d.by_device.as_str()))
            }
            Trailer::LastDecisionNote => {
                last.and_then(|d| d.note.as_deref()).map_or(Cell::Empty, Cell::text)
            }
            Trailer::DecisionHistory => {
                if decisions.is_empty() {
                    return Cell::Empty;
                }
                let lines: Vec<String> = decisions
                    .iter()
                    .map(|d| {
                        let at = format_iso_datetime(d.at_ms, self.offset);
                        match &d.note {
                            Some(n) if !n.is_empty() => {
                                format!("{at} {} ({}): {n}", d.kind, d.by_device)
                            }
                            _ => format!("{at} {} ({})", d.kind, d.by_device),
                        }
                    })
                    .collect();
                Cell::text(lines.join("\n"))
            }
        }
    }
}

/// An optional list of objects inside `v`.
fn list<'a>(v: &'a Json, key: &str) -> Result<&'a [Json], &'static str> {
    match v.get(key) {
        None | Some(Json::Null) => Ok(&[]),
        Some(Json::Array(items)) if items.iter().all(Json::is_object) => Ok(items),
        Some(_) => Err("is not a list of objects"),
    }
}
