//! xlsx output: one workbook, one sheet per table, each in rust_xlsxwriter's constant-memory
//! mode: a row goes to the sheet's temporary file (in the output directory, not the system
//! temp dir, which may be small or in memory) as soon as the next one starts, so memory does
//! not grow with the number of records. Text is written as inline strings: no shared string
//! table held until the end.
//!
//! Text is always written as a string cell, never as a formula, so formula-like answers need
//! no prefix here (unlike CSV).

use std::path::{Path, PathBuf};

use rust_xlsxwriter::{Format, Workbook, XlsxError};

use super::cell::Cell;
use super::layout::Column;
use super::names::Names;
use super::{CODEBOOK, CodebookRow, ExportError, Finished, Sink, TableName};

/// Excel's limits: rows per sheet and characters per cell.
const MAX_ROWS: u32 = 1_048_576;
const MAX_CELL_CHARS: usize = 32_767;

/// The workbook's file name in the output directory.
pub(super) const FILE_NAME: &str = "export.xlsx";

pub(super) struct XlsxSink {
    workbook: Workbook,
    path: PathBuf,
    part: PathBuf,
    names: Names,
    sheets: Vec<Sheet>,
    bold: Format,
    truncated: usize,
}

struct Sheet {
    name: String,
    next_row: u32,
}

fn xl(sheet: &str) -> impl Fn(XlsxError) -> ExportError + '_ {
    move |source| ExportError::Xlsx { sheet: sheet.to_string(), source }
}

impl XlsxSink {
    pub(super) fn new(dir: &Path) -> Result<XlsxSink, ExportError> {
        let mut workbook = Workbook::new();
        workbook.set_tempdir(dir).map_err(xl("(workbook)"))?;
        let mut names = Names::default();
        names.reserve(CODEBOOK);
        Ok(XlsxSink {
            workbook,
            path: dir.join(FILE_NAME),
            part: dir.join(format!("{FILE_NAME}.part")),
            names,
            sheets: Vec::new(),
            bold: Format::new().set_bold(),
            truncated: 0,
        })
    }

    /// A new constant-memory sheet with two header rows (paths, then labels), frozen with the
    /// key column so both stay in view.
    fn add_sheet(
        &mut self,
        name: String,
        header: &[&str],
        labels: Option<&[&str]>,
    ) -> Result<(), ExportError> {
        let ws = self.workbook.add_worksheet_with_constant_memory().map_err(xl(&name))?;
        ws.set_name(name.as_str()).map_err(xl(&name))?;
        // Row by row: in constant-memory mode a row is flushed once the next one is written
        // to, and a later write to it is dropped.
        for (c, h) in header.iter().enumerate() {
            ws.write_string_with_format(0, col(c, &name)?, *h, &self.bold).map_err(xl(&name))?;
        }
        for (c, l) in labels.unwrap_or_default().iter().enumerate() {
            ws.write_string(1, col(c, &name)?, *l).map_err(xl(&name))?;
        }
        let rows = if labels.is_some() { 2 } else { 1 };
        ws.set_freeze_panes(rows, 1).map_err(xl(&name))?;
        self.sheets.push(Sheet { name, next_row: rows });
        Ok(())
    }

    fn write(&mut self, table: usize, cells: &[Cell<'_>]) -> Result<(), ExportError> {
        let Some(sheet) = self.sheets.get_mut(table) else { return Ok(()) };
        if sheet.next_row >= MAX_ROWS {
            return Err(ExportError::TooManyRows { sheet: sheet.name.clone(), max: MAX_ROWS });
        }
        let row = sheet.next_row;
        sheet.next_row += 1;
        let name = sheet.name.as_str();
        let ws = self.workbook.worksheet_from_index(table).map_err(xl(name))?;
        for (c, cell) in cells.iter().enumerate() {
            let c = col(c, name)?;
            match cell {
                Cell::Empty => {}
                Cell::Number(n) => {
                    ws.write_number(row, c, *n).map_err(xl(name))?;
                }
                Cell::Text(t) => {
                    // Excel refuses longer cells; cut at a character boundary and count it.
                    let t: &str = t;
                    let t = match t.char_indices().nth(MAX_CELL_CHARS) {
                        Some((cut, _)) => {
                            self.truncated += 1;
                            &t[..cut]
                        }
                        None => t,
                    };
                    ws.write_string(row, c, t).map_err(xl(name))?;
                }
            }
        }
        Ok(())
    }
}

fn col(c: usize, sheet: &str) -> Result<u16, ExportError> {
    // Excel's last column is XFD (16,384); rust_xlsxwriter refuses beyond it too.
    u16::try_from(c).map_err(|_| ExportError::Xlsx {
        sheet: sheet.into(),
        source: XlsxError::RowColumnLimitError,
    })
}

impl Sink for XlsxSink {
    fn add_table(
        &mut self,
        name: &TableName<'_>,
        columns: &[Column],
    ) -> Result<String, ExportError> {
        // 31 characters are too few for form, version and repeat: a repeat's sheet is named
        // after the repeat and its form (a second version gets `~2`); the codebook sheet and
        // the summary say which form version each sheet holds.
        let wanted = match name.repeat {
            None => format!("{} {}", name.form_id, name.form_version),
            Some(r) => format!("{r} ({})", name.form_id),
        };
        let sheet = self.names.sheet(&wanted);
        let header: Vec<&str> = columns.iter().map(|c| c.header.as_str()).collect();
        let labels: Vec<&str> = columns.iter().map(|c| c.label.as_str()).collect();
        self.add_sheet(sheet.clone(), &header, Some(&labels))?;
        Ok(sheet)
    }

    fn row(&mut self, table: usize, cells: &[Cell<'_>]) -> Result<(), ExportError> {
        self.write(table, cells)
    }

    fn finish(&mut self, codebook: &[CodebookRow]) -> Result<Finished, ExportError> {
        let index = self.sheets.len();
        self.add_sheet(CODEBOOK.to_string(), &["table", "column", "label", "content"], None)?;
        for r in codebook {
            let cells = [&r.table, &r.column, &r.label, &r.content].map(|s| Cell::text(s.as_str()));
            self.write(index, &cells)?;
        }
        self.workbook.save(&self.part).map_err(xl("(workbook)"))?;
        std::fs::rename(&self.part, &self.path)
            .map_err(|source| ExportError::Io { path: self.path.clone(), source })?;
        Ok(Finished { files: vec![self.path.clone()], truncated_cells: self.truncated })
    }

    fn abort(&mut self) {
        // The sheets' temporary files go with the workbook; only a saved part may remain.
        let _ = std::fs::remove_file(&self.part);
    }
}
