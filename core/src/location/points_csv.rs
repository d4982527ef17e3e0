//! Points from a CSV file (`id,lat,lon` in any column order, a header naming them): what
//! `safehome geo locate` reads from a district office's spreadsheet export. RFC 4180 quoting
//! on one line (no newlines inside fields); a UTF-8 byte order mark and blank lines are
//! skipped. Every error names its line.

use super::LatLon;

/// Most points in one file: a province's households, with room to spare. A longer file is
/// refused before the rest is parsed.
pub const MAX_POINTS: usize = 1_000_000;

/// Longest id kept, in bytes.
pub const MAX_ID_BYTES: usize = 256;

/// One point as read: its id (trimmed) and position.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub id: String,
    pub at: LatLon,
}

/// Why a points file was refused, with the 1-based line.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PointsCsvError {
    #[error("the file is empty")]
    Empty,
    #[error("line 1: no `{0}` column (columns id, lat, lon)")]
    MissingColumn(&'static str),
    #[error("line {line}: {message}")]
    Line { line: usize, message: String },
    #[error("more than {MAX_POINTS} points (MAX_POINTS)")]
    TooMany,
}

fn at_line(line: usize, message: impl Into<String>) -> PointsCsvError {
    PointsCsvError::Line { line, message: message.into() }
}

/// Split one CSV line into fields (RFC 4180 quoting; no newlines inside fields).
pub fn fields(line: &str) -> Result<Vec<String>, &'static str> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut at_start = true;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (false, '"') if at_start => {
                quoted = true;
                at_start = false;
            }
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cur.push('"');
            }
            (true, '"') => {
                quoted = false;
                if !matches!(chars.peek(), None | Some(',')) {
                    return Err("text after a closing quote");
                }
            }
            (false, ',') => {
                out.push(std::mem::take(&mut cur));
                at_start = true;
            }
            (_, c) => {
                cur.push(c);
                at_start = false;
            }
        }
    }
    if quoted {
        return Err("unterminated quote");
    }
    out.push(cur);
    Ok(out)
}

/// A field quoted for CSV output when it needs to be.
pub fn quote(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.into()
    }
}

/// Read every point of `text`.
pub fn read(text: &str) -> Result<Vec<Point>, PointsCsvError> {
    let mut lines = text
        .trim_start_matches('\u{feff}')
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((n, header)) = lines.next() else { return Err(PointsCsvError::Empty) };
    let header = fields(header).map_err(|e| at_line(n, e))?;
    let col = |name: &'static str| {
        header
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case(name))
            .ok_or(PointsCsvError::MissingColumn(name))
    };
    let (ci, clat, clon) = (col("id")?, col("lat")?, col("lon")?);
    let mut out = Vec::new();
    for (n, line) in lines {
        if out.len() == MAX_POINTS {
            return Err(PointsCsvError::TooMany);
        }
        let f = fields(line).map_err(|e| at_line(n, e))?;
        if f.len() != header.len() {
            return Err(at_line(n, format!("{} fields, the header has {}", f.len(), header.len())));
        }
        let num = |c: usize, what: &str| {
            f[c].trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| at_line(n, format!("{what} is not a number")))
        };
        let at = LatLon::new(num(clat, "lat")?, num(clon, "lon")?);
        if !at.is_valid() {
            return Err(at_line(n, "lat must be within ±90 and lon within ±180"));
        }
        let id = f[ci].trim();
        if id.len() > MAX_ID_BYTES {
            return Err(at_line(n, format!("the id is over {MAX_ID_BYTES} bytes")));
        }
        out.push(Point { id: id.to_string(), at });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_in_any_order_quotes_and_a_bom() {
        let text = "\u{feff}lon,\"id\",lat\n\n105.6,\"nhà \"\"A\"\", thôn 3\",21.9\n";
        let p = read(text).unwrap();
        assert_eq!(p, [Point { id: "nhà \"A\", thôn 3".into(), at: LatLon::new(21.9, 105.6) }]);
        assert_eq!(fields(&quote(&p[0].id)).unwrap(), [p[0].id.clone()]);
    }

    #[test]
    fn every_error_names_its_line() {
        let cases: [(&str, PointsCsvError); 6] = [
            ("", PointsCsvError::Empty),
            ("id,lat\n", PointsCsvError::MissingColumn("lon")),
            ("id,lat,lon\na,1\n", at_line(2, "2 fields, the header has 3")),
            ("id,lat,lon\n\na,x,1\n", at_line(3, "lat is not a number")),
            ("id,lat,lon\na,91,1\n", at_line(2, "lat must be within ±90 and lon within ±180")),
            ("id,lat,lon\n\"a,1,1\n", at_line(2, "unterminated quote")),
        ];
        for (text, want) in cases {
            assert_eq!(read(text).unwrap_err(), want, "{text:?}");
        }
        assert!(matches!(read("id,lat,lon\na,NaN,1"), Err(PointsCsvError::Line { line: 2, .. })));
    }
}
