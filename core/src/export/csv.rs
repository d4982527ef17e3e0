//! CSV output: one file per table, UTF-8 with a byte-order mark (without it Excel reads the
//! file in the system code page and garbles Vietnamese), RFC 4180 quoting, CRLF line ends.
//!
//! Files are written as `NAME.csv.part` and renamed when the export succeeds, so a failed
//! export never leaves a half-written file that looks complete.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::cell::{Cell, format_number, neutralise};
use super::layout::Column;
use super::names::Names;
use super::{CODEBOOK, CodebookRow, ExportError, Finished, Sink, TableName};

pub(super) struct CsvSink {
    dir: PathBuf,
    names: Names,
    files: Vec<CsvFile>,
}

struct CsvFile {
    path: PathBuf,
    part: PathBuf,
    out: BufWriter<File>,
}

impl CsvSink {
    pub(super) fn new(dir: &Path) -> CsvSink {
        let mut names = Names::default();
        names.reserve(&format!("{CODEBOOK}.csv"));
        CsvSink { dir: dir.to_path_buf(), names, files: Vec::new() }
    }

    fn open(&mut self, file_name: &str) -> Result<CsvFile, ExportError> {
        let path = self.dir.join(file_name);
        let part = self.dir.join(format!("{file_name}.part"));
        let file = File::create(&part).map_err(|e| io(&part, e))?;
        let mut out = BufWriter::with_capacity(64 * 1024, file);
        out.write_all("\u{FEFF}".as_bytes()).map_err(|e| io(&part, e))?;
        Ok(CsvFile { path, part, out })
    }
}

fn io(path: &Path, source: std::io::Error) -> ExportError {
    ExportError::Io { path: path.to_path_buf(), source }
}

impl Sink for CsvSink {
    fn add_table(
        &mut self,
        name: &TableName<'_>,
        columns: &[Column],
    ) -> Result<String, ExportError> {
        let stem = match name.repeat {
            None => format!("{}-{}", name.form_id, name.form_version),
            Some(r) => format!("{}-{}-{r}", name.form_id, name.form_version),
        };
        let file_name = self.names.file(&stem, "csv");
        let mut f = self.open(&file_name)?;
        // One header row (the column paths) so the file loads as-is in R, pandas or Stata;
        // the labels are in codebook.csv.
        let headers: Vec<Cell<'_>> =
            columns.iter().map(|c| Cell::text(c.header.as_str())).collect();
        write_row(&mut f.out, &headers).map_err(|e| io(&f.part, e))?;
        self.files.push(f);
        Ok(file_name)
    }

    fn row(&mut self, table: usize, cells: &[Cell<'_>]) -> Result<(), ExportError> {
        let Some(f) = self.files.get_mut(table) else { return Ok(()) };
        write_row(&mut f.out, cells).map_err(|e| io(&f.part, e))
    }

    fn finish(&mut self, codebook: &[CodebookRow]) -> Result<Finished, ExportError> {
        let mut book = self.open(&format!("{CODEBOOK}.csv"))?;
        let header = ["table", "column", "label", "content"].map(Cell::text);
        write_row(&mut book.out, &header).map_err(|e| io(&book.part, e))?;
        for r in codebook {
            let cells = [&r.table, &r.column, &r.label, &r.content].map(|s| Cell::text(s.as_str()));
            write_row(&mut book.out, &cells).map_err(|e| io(&book.part, e))?;
        }
        self.files.push(book);
        let mut paths = Vec::with_capacity(self.files.len());
        for f in &mut self.files {
            f.out.flush().map_err(|e| io(&f.part, e))?;
            f.out.get_ref().sync_all().map_err(|e| io(&f.part, e))?;
        }
        for f in self.files.drain(..) {
            drop(f.out);
            std::fs::rename(&f.part, &f.path).map_err(|e| io(&f.path, e))?;
            paths.push(f.path);
        }
        Ok(Finished { files: paths, truncated_cells: 0 })
    }

    fn abort(&mut self) {
        for f in self.files.drain(..) {
            drop(f.out);
            let _ = std::fs::remove_file(&f.part);
        }
    }
}

/// One CSV record: fields quoted when they hold a comma, quote or line break (RFC 4180), and
/// formula-like text neutralised.
fn write_row(out: &mut impl Write, cells: &[Cell<'_>]) -> std::io::Result<()> {
    for (i, cell) in cells.iter().enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        match cell {
            Cell::Empty => {}
            Cell::Number(n) => out.write_all(format_number(*n).as_bytes())?,
            Cell::Text(t) => {
                let t = neutralise(t);
                if t.contains([',', '"', '\r', '\n']) {
                    out.write_all(b"\"")?;
                    out.write_all(t.replace('"', "\"\"").as_bytes())?;
                    out.write_all(b"\"")?;
                } else {
                    out.write_all(t.as_bytes())?;
                }
            }
        }
    }
    out.write_all(b"\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(cells: &[Cell<'_>]) -> String {
        let mut v = Vec::new();
        write_row(&mut v, cells).unwrap_or_default();
        String::from_utf8(v).unwrap_or_default()
    }

    #[test]
    fn quoting_follows_rfc_4180() {
        let cells = [
            Cell::text("plain"),
            Cell::text("a,b"),
            Cell::text("say \"hi\""),
            Cell::text("two\nlines"),
            Cell::Empty,
            Cell::Number(2.5),
            Cell::text("=HYPERLINK(\"x\")"),
        ];
        assert_eq!(
            line(&cells),
            "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",,2.5,\"'=HYPERLINK(\"\"x\"\")\"\r\n"
        );
    }
}
