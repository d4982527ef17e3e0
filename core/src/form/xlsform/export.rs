//! A [`Form`] as an XLSForm spreadsheet, which [`super::import_bytes`] reads back to the same
//! form. Every cell is written as text (so `1` stays `1`, not `1.0`), languages as
//! `label::Tiếng Việt (vi)` columns, and the file's creation time is fixed, so the same form gives
//! the same bytes (the built-in templates' spreadsheets in `docs/forms/` are checked to be
//! current that way).

use std::collections::BTreeSet;

use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook, Worksheet, XlsxError};

use super::import::default_expression;
use super::names::{self, Column};
use crate::form::model::{Condition, Field, FieldKind, Form, Text};
use crate::form::risk::RiskSpec;

/// The spreadsheet could not be written (rust_xlsxwriter's error, e.g. a cell over Excel's
/// 32,767 characters or a sheet over its row limit).
#[derive(Debug, thiserror::Error)]
#[error("cannot write the spreadsheet: {0}")]
pub struct ExportError(#[from] XlsxError);

/// The .xlsx bytes of `form`.
pub fn export(form: &Form) -> Result<Vec<u8>, ExportError> {
    let mut book = Workbook::new();
    let fixed = ExcelDateTime::from_ymd(2026, 1, 1)?;
    book.set_properties(&DocProperties::new().set_creation_datetime(&fixed));
    let bold = Format::new().set_bold();
    let langs: Vec<(String, String)> =
        form.languages.iter().map(|l| (l.clone(), names::language_header(l))).collect();

    let survey = book.add_worksheet().set_name("survey")?;
    write_table(survey, &bold, &survey_table(form, &langs))?;
    let choices = book.add_worksheet().set_name("choices")?;
    write_table(choices, &bold, &choices_table(form, &langs))?;
    let settings = book.add_worksheet().set_name("settings")?;
    write_table(settings, &bold, &settings_table(form, &langs))?;
    if let Some(risk) = &form.risk {
        let sheet = book.add_worksheet().set_name("risk")?;
        write_table(sheet, &bold, &risk_table(risk, &langs))?;
    }
    Ok(book.save_to_buffer()?)
}

/// A header row and data rows of optional text cells.
struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<Option<String>>>,
}

impl Table {
    /// Drop the columns that no row fills, except the ones always written.
    fn without_empty_columns(mut self, keep: usize) -> Table {
        let used: Vec<bool> = (0..self.headers.len())
            .map(|c| c < keep || self.rows.iter().any(|r| r.get(c).is_some_and(Option::is_some)))
            .collect();
        let pick = |v: Vec<Option<String>>| -> Vec<Option<String>> {
            v.into_iter().zip(&used).filter(|(_, u)| **u).map(|(x, _)| x).collect()
        };
        self.headers =
            self.headers.into_iter().zip(&used).filter(|(_, u)| **u).map(|(h, _)| h).collect();
        self.rows = self.rows.into_iter().map(pick).collect();
        self
    }
}

fn write_table(sheet: &mut Worksheet, bold: &Format, table: &Table) -> Result<(), XlsxError> {
    for (c, h) in table.headers.iter().enumerate() {
        sheet.write_string_with_format(0, col(c), h, bold)?;
        sheet.set_column_width(col(c), if h.starts_with("label") { 40 } else { 16 })?;
    }
    for (r, row) in table.rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            if let Some(v) = cell {
                sheet.write_string(r as u32 + 1, col(c), v)?;
            }
        }
    }
    sheet.set_freeze_panes(1, 0)?;
    Ok(())
}

fn col(c: usize) -> u16 {
    u16::try_from(c).unwrap_or(u16::MAX)
}

const SURVEY_COLUMNS: &[Column] = &[
    Column::Type,
    Column::Name,
    Column::Label,
    Column::Hint,
    Column::Required,
    Column::RequiredMessage,
    Column::Relevant,
    Column::Constraint,
    Column::ConstraintMessage,
    Column::Calculation,
    Column::Default,
    Column::ReadOnly,
    Column::Appearance,
    Column::ChoiceFilter,
    Column::RepeatCount,
    Column::Parameters,
];

fn survey_table(form: &Form, langs: &[(String, String)]) -> Table {
    let mut columns: Vec<(Column, Option<&str>)> = Vec::new();
    for &c in SURVEY_COLUMNS {
        if c.translated() {
            columns.extend(langs.iter().map(|(code, _)| (c, Some(code.as_str()))));
        } else {
            columns.push((c, None));
        }
    }
    let headers = columns
        .iter()
        .map(|(c, lang)| match lang {
            Some(code) => format!("{}::{}", c.header(), names::language_header(code)),
            None => c.header().to_string(),
        })
        .collect();
    let mut rows = Vec::new();
    for f in &form.fields {
        field_rows(f, &columns, &mut rows);
    }
    Table { headers, rows }.without_empty_columns(2)
}

fn field_rows(f: &Field, columns: &[(Column, Option<&str>)], rows: &mut Vec<Vec<Option<String>>>) {
    let row = columns.iter().map(|(c, lang)| cell(f, *c, *lang)).collect();
    rows.push(row);
    if f.kind.is_container() {
        for child in &f.children {
            field_rows(child, columns, rows);
        }
        let mut end = vec![None; columns.len()];
        if let Some(first) = end.first_mut() {
            *first = Some(format!("end {}", f.kind.as_str()));
        }
        rows.push(end);
    }
}

fn cell(f: &Field, column: Column, lang: Option<&str>) -> Option<String> {
    let text = |t: &Text| lang.and_then(|l| t.get(l)).cloned();
    let cond = |c: &Condition| match c {
        Condition::Always(false) => None,
        Condition::Always(true) => Some("yes".to_string()),
        Condition::When(e) => Some(e.clone()),
    };
    match column {
        Column::Type => Some(match (f.kind, &f.choices) {
            (FieldKind::Group | FieldKind::Repeat, _) => format!("begin {}", f.kind.as_str()),
            (k, Some(list)) if k.is_select() => format!("{} {list}", k.as_str()),
            (k, _) => k.as_str().to_string(),
        }),
        Column::Name => Some(f.name.clone()),
        Column::Label => text(&f.label),
        Column::Hint => text(&f.hint),
        Column::RequiredMessage => text(&f.required_message),
        Column::ConstraintMessage => text(&f.constraint_message),
        Column::Required => cond(&f.required),
        Column::ReadOnly => cond(&f.read_only),
        Column::Relevant => f.relevant.clone(),
        Column::Constraint => f.constraint.clone(),
        Column::Calculation => f.calculation.clone(),
        Column::Default => f.default.as_deref().map(default_cell),
        Column::Appearance => f.appearance.clone(),
        Column::ChoiceFilter => f.choice_filter.clone(),
        Column::RepeatCount => f.repeat_count.clone(),
        Column::Parameters => parameters(f),
    }
}

/// The spreadsheet's spelling of a default: a quoted literal is written bare when the importer
/// would quote it back the same way (XLSForm authors write `no`, not `'no'`).
fn default_cell(default: &str) -> String {
    let t = default.trim();
    for q in ['\'', '"'] {
        if let Some(inner) = t.strip_prefix(q).and_then(|r| r.strip_suffix(q)) {
            if !inner.contains(q) && default_expression(inner) == default {
                return inner.to_string();
            }
        }
    }
    default.to_string()
}

fn parameters(f: &Field) -> Option<String> {
    let mut p = Vec::new();
    if let Some(v) = f.max_pixels {
        p.push(format!("max-pixels={v}"));
    }
    if let Some(v) = f.capture_accuracy {
        p.push(format!("capture-accuracy={v}"));
    }
    if let Some(v) = f.warning_accuracy {
        p.push(format!("warning-accuracy={v}"));
    }
    if let Some(v) = f.min_repeats {
        p.push(format!("min-repeats={v}"));
    }
    if let Some(v) = f.max_repeats {
        p.push(format!("max-repeats={v}"));
    }
    if p.is_empty() { None } else { Some(p.join(" ")) }
}

fn choices_table(form: &Form, langs: &[(String, String)]) -> Table {
    let filters: BTreeSet<&str> =
        form.choices.values().flatten().flat_map(|c| c.filter.keys().map(String::as_str)).collect();
    let mut headers = vec!["list_name".to_string(), "name".to_string()];
    headers.extend(langs.iter().map(|(_, h)| format!("label::{h}")));
    headers.extend(filters.iter().map(|f| f.to_string()));
    let mut rows = Vec::new();
    for (list, choices) in &form.choices {
        for c in choices {
            let mut row = vec![Some(list.clone()), Some(c.name.clone())];
            row.extend(langs.iter().map(|(code, _)| c.label.get(code).cloned()));
            row.extend(filters.iter().map(|f| c.filter.get(*f).cloned()));
            rows.push(row);
        }
    }
    Table { headers, rows }
}

fn settings_table(form: &Form, langs: &[(String, String)]) -> Table {
    let mut headers = vec!["form_id".to_string(), "version".to_string()];
    let mut row = vec![Some(form.id.clone()), Some(form.version.clone())];
    // pyxform takes one title: the default language's is `form_title`, the others go where
    // pyxform does not look (a translated `form_title` makes it fail).
    for (i, (code, header)) in langs.iter().enumerate() {
        headers.push(if i == 0 {
            "form_title".into()
        } else {
            format!("translated_title::{header}")
        });
        row.push(form.title.get(code).cloned());
    }
    if let Some((_, header)) = langs.first() {
        headers.push("default_language".into());
        row.push(Some(header.clone()));
    }
    headers.push("instance_name".into());
    row.push(form.instance_name.clone());
    if let Some(risk) = &form.risk {
        let h = &risk.response_hours;
        let hours = |v: Option<u32>| v.map(|h| h.to_string());
        for (name, value) in [
            ("risk_medium", Some(risk.thresholds.medium.to_string())),
            ("risk_high", Some(risk.thresholds.high.to_string())),
            ("response_hours_urgent", hours(h.urgent)),
            ("response_hours_high", hours(h.high)),
            ("response_hours_medium", hours(h.medium)),
            ("response_hours_low", hours(h.low)),
        ] {
            headers.push(name.into());
            row.push(value);
        }
    }
    Table { headers, rows: vec![row] }
}

fn risk_table(risk: &RiskSpec, langs: &[(String, String)]) -> Table {
    let mut headers: Vec<String> =
        ["rule", "category", "when", "points", "urgent", "repeat", "max_points"]
            .iter()
            .map(|s| s.to_string())
            .collect();
    headers.extend(langs.iter().map(|(_, h)| format!("reason::{h}")));
    let rows = risk
        .rules
        .iter()
        .map(|r| {
            let mut row = vec![
                Some(r.id.clone()),
                Some(r.category.as_str().to_string()),
                Some(r.when.clone()),
                Some(r.points.to_string()),
                r.urgent.then(|| "yes".to_string()),
                r.repeat.clone(),
                r.max_points.map(|m| m.to_string()),
            ];
            row.extend(langs.iter().map(|(code, _)| r.reason.get(code).cloned()));
            row
        })
        .collect();
    Table { headers, rows }
}
