//! The analyst export: decrypted submissions to spreadsheets, modelled on ODK Central's CSV
//! export (`docs/export.md`).
//!
//! One table per form version (a row per record) and one per repeat (a row per repeat
//! instance, nested repeats too), linked by `KEY` / `PARENT_KEY`; labels and choice labels in
//! Vietnamese or English; risk level and reasons, location quality flags and the review's
//! decisions on every record's row. Output as one xlsx workbook or one CSV file per table, plus
//! an optional `households.geojson` with coordinates rounded.
//!
//! Streaming: records are read one at a time from an iterator and their rows written at once
//! (xlsx sheets in constant-memory mode), so memory grows with the number of forms and
//! households, not records. The module knows nothing of the store: the caller decrypts and
//! hands over [`ExportRecord`]s, and looks forms up by id and version.
//!
//! - `layout`: the tables and columns of a form version.
//! - `rows`: one record's rows, with typed errors for malformed submissions.
//! - `csv`, `xlsx`: the two writers; `geojson`: the household map.
//! - `cell`: cells and formula neutralisation; `names`: sheet and file names.

mod cell;
mod csv;
mod geojson;
mod layout;
mod names;
mod rows;
mod xlsx;

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::form::check::CheckedForm;
use cell::Cell;
use layout::{Column, FormLayout};

/// One decrypted record to export.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportRecord {
    /// The signed submission document, as finalize writes it (schema
    /// `safehome.submission.v1`: record_id, kind, revision, revision_of, form {id, version},
    /// household_code, device_id, owner_id, created_at_ms, finalized_at_ms, instance_name,
    /// data, attachments, assessment, location, timings, state).
    pub submission: serde_json::Value,
    /// Where the supervisor's review stands: "received", "approved", "returned", "escalated",
    /// "superseded", ...
    pub review_state: String,
    /// Decision history, oldest first.
    pub decisions: Vec<ExportDecision>,
}

/// One supervisor decision on a record.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportDecision {
    pub at_ms: i64,
    /// "approved", "returned", "escalated", "acted", ...
    pub kind: String,
    pub by_device: String,
    pub note: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExportFormat {
    /// One workbook, `export.xlsx`.
    #[default]
    Xlsx,
    /// One file per table, plus `codebook.csv`.
    Csv,
}

/// The language of labels and choice labels. Vietnamese first, as the templates are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Language {
    #[default]
    Vi,
    En,
}

impl Language {
    /// The form's language code.
    pub fn code(self) -> &'static str {
        match self {
            Language::Vi => "vi",
            Language::En => "en",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportOptions {
    pub format: ExportFormat,
    pub language: Language,
    /// Offset of the local times written (created, finalized, decisions, due), in minutes;
    /// +420 is Vietnam (UTC+7).
    pub utc_offset_minutes: i32,
    /// Also write `households.geojson`.
    pub geojson: bool,
    /// Decimal places kept in the GeoJSON's coordinates (0–8): 4 is about 11 m, 3 about 110 m.
    /// The tables keep the answers' full precision; the map is what travels further.
    pub coordinate_decimals: u8,
}

impl Default for ExportOptions {
    fn default() -> Self {
        ExportOptions {
            format: ExportFormat::Xlsx,
            language: Language::Vi,
            utc_offset_minutes: 420,
            geojson: false,
            coordinate_decimals: 4,
        }
    }
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExportSummary {
    /// Records written (skipped ones not included).
    pub records: usize,
    /// Every table, in the order created: sheets of the workbook or CSV files.
    pub tables: Vec<TableSummary>,
    /// Records left out because their form version is unknown.
    pub skipped: Vec<SkippedRecord>,
    /// Files written, the codebook and GeoJSON included.
    pub files: Vec<PathBuf>,
    /// Households in `households.geojson`, when it was asked for.
    pub households: Option<usize>,
    /// xlsx cells cut to Excel's 32,767 characters.
    pub truncated_cells: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSummary {
    /// Sheet name (xlsx) or file name (CSV).
    pub name: String,
    pub form_id: String,
    pub form_version: String,
    /// The repeat's path in the form (`household/roster/children`); `None` for the main table.
    pub repeat: Option<String>,
    pub rows: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedRecord {
    pub record_id: String,
    pub form_id: String,
    pub form_version: String,
}

/// Why an export stopped. Messages name the record and field, never an answer's content.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("export options: {0}")]
    Options(String),
    /// The caller's iterator failed on record number `index` (1-based).
    #[error("record #{index} could not be read: {source}")]
    Source {
        index: usize,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("record {record}: `{field}` {problem}")]
    Malformed { record: String, field: String, problem: String },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("xlsx sheet {sheet}: {source}")]
    Xlsx {
        sheet: String,
        #[source]
        source: rust_xlsxwriter::XlsxError,
    },
    #[error("sheet {sheet} is full: Excel allows {max} rows; export as CSV")]
    TooManyRows { sheet: String, max: u32 },
    #[error("households.geojson: {0}")]
    GeoJson(#[from] crate::location::ExportError),
}

/// Write `records` to `out_dir` (created if missing). `forms` finds a form by id and version
/// (e.g. `|id, v| store.form(id, v).ok()`); a record whose form it does not find is skipped
/// and listed in the summary. The first malformed record stops the export with its id and
/// field, and the partial files are removed.
pub fn export<I, E>(
    records: I,
    forms: &dyn Fn(&str, &str) -> Option<Arc<CheckedForm>>,
    options: &ExportOptions,
    out_dir: &Path,
) -> Result<ExportSummary, ExportError>
where
    I: IntoIterator<Item = Result<ExportRecord, E>>,
    E: std::error::Error + Send + Sync + 'static,
{
    if options.coordinate_decimals > 8 {
        return Err(ExportError::Options(format!(
            "coordinate_decimals must be at most 8, got {}",
            options.coordinate_decimals
        )));
    }
    if options.utc_offset_minutes.abs() > 18 * 60 {
        return Err(ExportError::Options(format!(
            "utc_offset_minutes must be within ±1080, got {}",
            options.utc_offset_minutes
        )));
    }
    std::fs::create_dir_all(out_dir)
        .map_err(|source| ExportError::Io { path: out_dir.to_path_buf(), source })?;
    let mut sink: Box<dyn Sink> = match options.format {
        ExportFormat::Xlsx => Box::new(xlsx::XlsxSink::new(out_dir)?),
        ExportFormat::Csv => Box::new(csv::CsvSink::new(out_dir)),
    };
    let mut run = Run {
        options,
        forms,
        sink: sink.as_mut(),
        layouts: HashMap::new(),
        summary: ExportSummary::default(),
        codebook: Vec::new(),
        households: geojson::Households::default(),
    };
    match run.all(records, out_dir) {
        Ok(summary) => Ok(summary),
        Err(e) => {
            sink.abort();
            Err(e)
        }
    }
}

/// The name pieces a writer makes a sheet or file name of.
struct TableName<'a> {
    pub form_id: &'a str,
    pub form_version: &'a str,
    /// The repeat's name, for a repeat table.
    pub repeat: Option<&'a str>,
}

/// One row of the codebook: what a column of a table holds.
struct CodebookRow {
    pub table: String,
    pub column: String,
    pub label: String,
    pub content: String,
}

/// What a writer leaves behind.
struct Finished {
    pub files: Vec<PathBuf>,
    pub truncated_cells: usize,
}

/// The codebook's sheet or file name (without extension).
const CODEBOOK: &str = "codebook";

/// A writer of tables: tables are added as their forms are first seen, rows go to any table
/// at any time (each table's rows in order).
trait Sink {
    /// Start a table with these columns; returns the sheet or file name given to it.
    fn add_table(
        &mut self,
        name: &TableName<'_>,
        columns: &[Column],
    ) -> Result<String, ExportError>;
    /// Append a row to table `table` (numbered from 0 in the order added).
    fn row(&mut self, table: usize, cells: &[Cell<'_>]) -> Result<(), ExportError>;
    /// Write the codebook and complete the files.
    fn finish(&mut self, codebook: &[CodebookRow]) -> Result<Finished, ExportError>;
    /// Remove what a failed export wrote.
    fn abort(&mut self);
}

/// A form version's layout and where its tables start among the sink's tables.
struct Placed {
    layout: FormLayout,
    first: usize,
}

/// One export in progress.
struct Run<'a> {
    options: &'a ExportOptions,
    forms: &'a dyn Fn(&str, &str) -> Option<Arc<CheckedForm>>,
    sink: &'a mut dyn Sink,
    /// By (form id, version); `None` when the form is unknown.
    layouts: HashMap<(String, String), Option<Placed>>,
    summary: ExportSummary,
    codebook: Vec<CodebookRow>,
    households: geojson::Households,
}

impl<'a> Run<'a> {
    fn all<I, E>(&mut self, records: I, out_dir: &Path) -> Result<ExportSummary, ExportError>
    where
        I: IntoIterator<Item = Result<ExportRecord, E>>,
        E: std::error::Error + Send + Sync + 'static,
    {
        for (i, item) in records.into_iter().enumerate() {
            let index = i + 1;
            let record = item.map_err(|e| ExportError::Source { index, source: Box::new(e) })?;
            self.one(&record, index)?;
        }
        let finished = self.sink.finish(&self.codebook)?;
        let mut summary = std::mem::take(&mut self.summary);
        summary.files = finished.files;
        summary.truncated_cells = finished.truncated_cells;
        if self.options.geojson {
            let households = std::mem::take(&mut self.households);
            let (path, n) = households.write(
                out_dir,
                self.options.coordinate_decimals,
                self.options.utc_offset_minutes,
            )?;
            summary.files.push(path);
            summary.households = Some(n);
        }
        Ok(summary)
    }

    fn one(&mut self, record: &ExportRecord, index: usize) -> Result<(), ExportError> {
        let head = rows::head(&record.submission, index)?;
        let key = (head.form_id.clone(), head.form_version.clone());
        let placed = match self.layouts.entry(key) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => {
                let placed = match (self.forms)(&head.form_id, &head.form_version) {
                    Some(form) => Some(place(
                        form,
                        &head,
                        self.options,
                        self.sink,
                        &mut self.summary,
                        &mut self.codebook,
                    )?),
                    None => None,
                };
                e.insert(placed)
            }
        };
        let Some(placed) = placed else {
            self.summary.skipped.push(SkippedRecord {
                record_id: head.record_id,
                form_id: head.form_id,
                form_version: head.form_version,
            });
            return Ok(());
        };
        let mut counter = RowCounter { inner: &mut *self.sink, tables: &mut self.summary.tables };
        rows::RecordRows {
            layout: &placed.layout,
            first: placed.first,
            options: self.options,
            record,
            record_id: &head.record_id,
        }
        .write(&mut counter)?;
        if self.options.geojson {
            self.households.add(&placed.layout.form, record);
        }
        self.summary.records += 1;
        Ok(())
    }
}

/// Lay out a newly seen form version and start its tables.
fn place(
    form: Arc<CheckedForm>,
    head: &rows::Head,
    options: &ExportOptions,
    sink: &mut dyn Sink,
    summary: &mut ExportSummary,
    codebook: &mut Vec<CodebookRow>,
) -> Result<Placed, ExportError> {
    let layout = FormLayout::new(form, options.language);
    let first = summary.tables.len();
    for table in &layout.tables {
        let repeat = table.repeat.map(|r| layout.form.field(r));
        let name = sink.add_table(
            &TableName {
                form_id: &head.form_id,
                form_version: &head.form_version,
                repeat: repeat.map(|r| r.name()),
            },
            &table.columns,
        )?;
        for c in &table.columns {
            codebook.push(CodebookRow {
                table: name.clone(),
                column: c.header.clone(),
                label: c.label.clone(),
                content: layout.describe(c.kind),
            });
        }
        summary.tables.push(TableSummary {
            name,
            form_id: head.form_id.clone(),
            form_version: head.form_version.clone(),
            repeat: repeat.map(|r| r.path.clone()),
            rows: 0,
        });
    }
    Ok(Placed { layout, first })
}

/// Counts each table's rows for the summary on their way to the writer.
struct RowCounter<'s> {
    inner: &'s mut dyn Sink,
    tables: &'s mut Vec<TableSummary>,
}

impl Sink for RowCounter<'_> {
    fn add_table(
        &mut self,
        name: &TableName<'_>,
        columns: &[Column],
    ) -> Result<String, ExportError> {
        self.inner.add_table(name, columns)
    }
    fn row(&mut self, table: usize, cells: &[Cell<'_>]) -> Result<(), ExportError> {
        self.inner.row(table, cells)?;
        if let Some(t) = self.tables.get_mut(table) {
            t.rows += 1;
        }
        Ok(())
    }
    fn finish(&mut self, codebook: &[CodebookRow]) -> Result<Finished, ExportError> {
        self.inner.finish(codebook)
    }
    fn abort(&mut self) {
        self.inner.abort();
    }
}
