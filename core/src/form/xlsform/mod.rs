//! XLSForm in and out: a form written as a spreadsheet (the `survey`, `choices` and `settings`
//! sheets of ODK, KoboToolbox and pyxform, plus SafeHome's `risk` sheet) becomes a [`Form`], and a
//! [`Form`] becomes a spreadsheet again. The format, and what is refused, is in `docs/forms.md`.
//!
//! Reading is bounded before anything is parsed ([`workbook`]): the file's size, the number of
//! entries in its zip archive and what each decompresses to, then the rows of each sheet. Every
//! problem with the content is reported at once, each naming its cell (`survey!F14: ...`).

mod cells;
mod export;
mod import;
mod names;
mod workbook;

use std::fmt;
use std::path::Path;

pub use export::{ExportError, export};
pub use workbook::{MAX_COLUMNS, MAX_ENTRIES, MAX_FILE_BYTES, MAX_SHEET_ROWS, MAX_UNPACKED_BYTES};

use super::check::CheckedForm;

/// One problem in a spreadsheet, at a sheet and (usually) a cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The sheet's name as the spreadsheet spells it (`survey`, `Choices`).
    pub sheet: String,
    /// The cell in A1 notation (`F14`); empty when the problem is the sheet as a whole.
    pub cell: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.cell.is_empty() {
            write!(f, "{}: {}", self.sheet, self.message)
        } else {
            write!(f, "{}!{}: {}", self.sheet, self.cell, self.message)
        }
    }
}

/// Why a spreadsheet did not become a form.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum XlsformError {
    /// The file is not a readable .xlsx (missing, corrupt, not a zip, an old .xls, or larger
    /// than the limits allow once decompressed): nothing in it was read.
    #[error("{0}")]
    Unreadable(String),
    /// The workbook was read, and its content has these problems (all of them, in sheet order).
    #[error("{} problem(s) in the spreadsheet; first: {}", .0.len(), first(.0))]
    Problems(Vec<Problem>),
}

fn first(problems: &[Problem]) -> String {
    problems.first().map(ToString::to_string).unwrap_or_default()
}

/// Import the .xlsx at `path` and check the form. The form id defaults to the file name
/// without its extension (as pyxform does) when the settings sheet names none.
pub fn import_path(path: &Path) -> Result<CheckedForm, XlsformError> {
    let bytes = workbook::read_file(path)?;
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("form");
    import_bytes(&bytes, stem)
}

/// Import an .xlsx held in memory and check the form; `default_id` is the form id when the
/// settings name none. The definition check's problems are reported at the cells they come
/// from, together with the spreadsheet's own.
pub fn import_bytes(bytes: &[u8], default_id: &str) -> Result<CheckedForm, XlsformError> {
    let book = workbook::Workbook::read(bytes)?;
    import::build(&book, default_id).finish()
}

/// Whether `path` names a spreadsheet by its extension (`.xlsx`, any case).
pub fn is_xlsx_path(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| e.eq_ignore_ascii_case("xlsx"))
}
