//! Reading an .xlsx within bounds. A spreadsheet is untrusted input: a few kilobytes of zip can
//! decompress to gigabytes (a zip bomb), and a sheet can declare a million rows. Before calamine
//! parses anything, every entry of the archive is decompressed once into a counter, stopping at
//! the limit; then each sheet is streamed cell by cell and only its first `MAX_SHEET_ROWS`
//! non-empty rows are kept.

use std::io::{Cursor, Read};
use std::path::Path;

use calamine::{DataRef, Reader, Xlsx};
use unicode_normalization::UnicodeNormalization;

use super::XlsformError;
use super::cells;

/// The largest .xlsx file read (a form with thousands of rows is well under 1 MiB).
pub const MAX_FILE_BYTES: u64 = 32 << 20;
/// The most bytes the whole archive may decompress to.
pub const MAX_UNPACKED_BYTES: u64 = 64 << 20;
/// The most entries in the archive (a workbook has a dozen or two).
pub const MAX_ENTRIES: usize = 4096;
/// The most non-empty rows kept per sheet; a longer sheet is refused.
pub const MAX_SHEET_ROWS: usize = 50_000;
/// Cells right of this column are refused (XLSForm uses a few dozen columns).
pub const MAX_COLUMNS: u32 = 1024;

/// One non-empty row: its 1-based spreadsheet row number and its non-empty cells as text,
/// trimmed and in Unicode NFC, with their 0-based column.
#[derive(Debug, Clone)]
pub struct Row {
    pub number: u32,
    pub cells: Vec<(u32, String)>,
}

impl Row {
    pub fn get(&self, col: u32) -> Option<&str> {
        self.cells.iter().find(|(c, _)| *c == col).map(|(_, v)| v.as_str())
    }
}

/// A sheet's non-empty rows, in order.
#[derive(Debug, Clone)]
pub struct Sheet {
    /// As the workbook spells it (`Choices`).
    pub name: String,
    pub rows: Vec<Row>,
    /// Cells that hold a formula error (`#DIV/0!`) or are outside the column limit.
    pub bad_cells: Vec<(u32, u32, String)>,
}

/// The sheets of a workbook, read and bounded.
#[derive(Debug, Clone)]
pub struct Workbook {
    pub sheets: Vec<Sheet>,
}

impl Workbook {
    /// The sheet called `name`, compared without case (as pyxform does).
    pub fn sheet(&self, name: &str) -> Option<&Sheet> {
        self.sheets.iter().find(|s| s.name.trim().eq_ignore_ascii_case(name))
    }

    pub fn read(bytes: &[u8]) -> Result<Workbook, XlsformError> {
        if bytes.len() as u64 > MAX_FILE_BYTES {
            return Err(unreadable(format!(
                "the file is {} bytes, over the limit of {MAX_FILE_BYTES} (MAX_FILE_BYTES)",
                bytes.len()
            )));
        }
        if bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
            return Err(unreadable(
                "an old Excel .xls (or other OLE) file: save it as .xlsx (Excel Workbook)".into(),
            ));
        }
        if !bytes.starts_with(b"PK") {
            return Err(unreadable("not an .xlsx file (not a zip archive)".into()));
        }
        check_archive(bytes)?;
        let mut xlsx: Xlsx<_> = Xlsx::new(Cursor::new(bytes))
            .map_err(|e| unreadable(format!("not a readable .xlsx workbook: {e}")))?;
        let names = xlsx.sheet_names();
        let mut sheets = Vec::with_capacity(names.len());
        for name in names {
            sheets.push(read_sheet(&mut xlsx, &name)?);
        }
        Ok(Workbook { sheets })
    }
}

fn unreadable(message: String) -> XlsformError {
    XlsformError::Unreadable(message)
}

/// Read a file named by the user, refusing one over `MAX_FILE_BYTES` without reading past it.
pub fn read_file(path: &Path) -> Result<Vec<u8>, XlsformError> {
    let f = std::fs::File::open(path)
        .map_err(|e| unreadable(format!("{}: cannot read: {e}", path.display())))?;
    let mut bytes = Vec::new();
    f.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| unreadable(format!("{}: cannot read: {e}", path.display())))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(unreadable(format!(
            "{}: over {MAX_FILE_BYTES} bytes (MAX_FILE_BYTES), not a form spreadsheet",
            path.display()
        )));
    }
    Ok(bytes)
}

/// Decompress every entry into a counter, refusing the archive as soon as the total passes
/// `MAX_UNPACKED_BYTES`: what an entry header declares is not trusted.
fn check_archive(bytes: &[u8]) -> Result<(), XlsformError> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| unreadable(format!("not an .xlsx file (corrupt zip archive: {e})")))?;
    if zip.len() > MAX_ENTRIES {
        return Err(unreadable(format!(
            "the archive has {} entries, over the limit of {MAX_ENTRIES} (MAX_ENTRIES)",
            zip.len()
        )));
    }
    // What the headers declare first (free to check); then what the entries really inflate to.
    let declared: u64 = (0..zip.len())
        .filter_map(|i| zip.by_index_raw(i).ok().map(|e| e.size()))
        .fold(0u64, u64::saturating_add);
    if declared > MAX_UNPACKED_BYTES {
        return Err(unreadable(format!(
            "the workbook declares {declared} bytes once decompressed, over the limit of \
             {MAX_UNPACKED_BYTES} (MAX_UNPACKED_BYTES): not a form spreadsheet"
        )));
    }
    let mut total: u64 = 0;
    for i in 0..zip.len() {
        let mut entry = zip
            .by_index(i)
            .map_err(|e| unreadable(format!("not a readable .xlsx (zip entry {i}: {e})")))?;
        let name = entry.name().map(|n| n.to_string()).unwrap_or_else(|_| format!("entry {i}"));
        let room = MAX_UNPACKED_BYTES - total;
        let n = std::io::copy(&mut (&mut entry).take(room + 1), &mut std::io::sink())
            .map_err(|e| unreadable(format!("not a readable .xlsx ({name}: {e})")))?;
        if n > room {
            return Err(unreadable(format!(
                "the workbook decompresses to over {MAX_UNPACKED_BYTES} bytes (at {name}; \
                 MAX_UNPACKED_BYTES): not a form spreadsheet"
            )));
        }
        total += n;
    }
    Ok(())
}

fn read_sheet<R: Read + std::io::Seek>(
    xlsx: &mut Xlsx<R>,
    name: &str,
) -> Result<Sheet, XlsformError> {
    let mut reader = xlsx
        .worksheet_cells_reader(name)
        .map_err(|e| unreadable(format!("sheet `{name}` cannot be read: {e}")))?;
    let mut rows: Vec<Row> = Vec::new();
    let mut bad_cells = Vec::new();
    loop {
        let cell = match reader.next_cell() {
            Ok(Some(c)) => c,
            Ok(None) => break,
            Err(e) => return Err(unreadable(format!("sheet `{name}` cannot be read: {e}"))),
        };
        let (r, c) = cell.get_position();
        let text = match cell.get_value() {
            DataRef::Error(e) => {
                bad_cells.push((r, c, format!("the cell holds a formula error ({e})")));
                continue;
            }
            v => cells::text(v.clone()),
        };
        let text: String = text.trim().nfc().collect();
        if text.is_empty() {
            continue;
        }
        if c >= MAX_COLUMNS {
            if bad_cells.len() < 100 {
                bad_cells.push((
                    r,
                    c,
                    format!("a cell right of column {MAX_COLUMNS} (MAX_COLUMNS)"),
                ));
            }
            continue;
        }
        let number = r.saturating_add(1);
        match rows.last_mut() {
            // A row holds at most one cell per column; a writer repeating a cell is refused
            // before the repeats add up.
            Some(last) if last.number == number => {
                if last.cells.len() >= MAX_COLUMNS as usize {
                    return Err(unreadable(format!(
                        "sheet `{name}` row {number} has over {MAX_COLUMNS} cells (MAX_COLUMNS)"
                    )));
                }
                last.cells.push((c, text));
            }
            _ => {
                if rows.len() >= MAX_SHEET_ROWS {
                    return Err(unreadable(format!(
                        "sheet `{name}` has over {MAX_SHEET_ROWS} non-empty rows \
                         (MAX_SHEET_ROWS): not a form"
                    )));
                }
                rows.push(Row { number, cells: vec![(c, text)] });
            }
        }
    }
    // Cells arrive row by row in a well-formed sheet; a writer may still list rows out of order.
    rows.sort_by_key(|r| r.number);
    let mut merged: Vec<Row> = Vec::with_capacity(rows.len());
    for row in rows {
        match merged.last_mut() {
            Some(last) if last.number == row.number => last.cells.extend(row.cells),
            _ => merged.push(row),
        }
    }
    Ok(Sheet { name: name.to_string(), rows: merged, bad_cells })
}
