//! The EXIF facts the pipeline keeps: orientation, capture time and GPS position.
//!
//! They are read from the original's EXIF block before anything else, kept for the sealed
//! metadata, and never written into the processed photo. A broken EXIF block does not make a
//! photo unusable: the facts it could not give are simply absent and `status` says why.

use exif::{In, Reader, Tag, Value};
use serde::{Deserialize, Serialize};

/// Largest EXIF block read; bigger blocks are ignored as hostile (JPEG APP1 is at most 64 KiB).
pub const MAX_EXIF_BYTES: usize = 1 << 20;

/// Whether the original had EXIF and whether it could be read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExifStatus {
    /// No EXIF block.
    #[default]
    Absent,
    /// Read in full.
    Read,
    /// Read in part: some entries were broken and skipped.
    Partial,
    /// Present but unreadable (or over [`MAX_EXIF_BYTES`]); no facts taken from it.
    Unreadable,
}

/// A GPS position from EXIF (WGS 84 degrees).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GpsPoint {
    pub latitude: f64,
    pub longitude: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub altitude_m: Option<f64>,
    /// GPS time (UTC), milliseconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_ms: Option<i64>,
}

/// What the pipeline learnt from the original's EXIF block.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExifFacts {
    pub status: ExifStatus,
    /// The stored Orientation value (1–8); `None` when absent or out of range (treated as 1).
    pub orientation: Option<u16>,
    /// DateTimeOriginal as written by the camera, `YYYY-MM-DDTHH:MM:SS` local time.
    pub captured_local: Option<String>,
    /// OffsetTimeOriginal, minutes east of UTC, when the camera recorded it.
    pub captured_offset_minutes: Option<i32>,
    /// The capture instant, when it is known: DateTimeOriginal with its offset, else GPS time.
    pub captured_at_ms: Option<i64>,
    pub gps: Option<GpsPoint>,
}

impl ExifFacts {
    /// The orientation to apply (1 when absent or invalid).
    pub fn orientation_or_default(&self) -> u16 {
        self.orientation.unwrap_or(1)
    }
}

/// Read the facts from a TIFF-structured EXIF block (the bytes after `Exif\0\0`).
pub fn read_facts(tiff: &[u8]) -> ExifFacts {
    let tiff = tiff.strip_prefix(b"Exif\0\0").unwrap_or(tiff);
    if tiff.len() > MAX_EXIF_BYTES {
        return ExifFacts { status: ExifStatus::Unreadable, ..ExifFacts::default() };
    }
    let mut reader = Reader::new();
    reader.continue_on_error(true);
    let (exif, status) = match reader.read_raw(tiff.to_vec()) {
        Ok(e) => (e, ExifStatus::Read),
        Err(exif::Error::PartialResult(p)) => {
            let exif = p.into_inner().0;
            if exif.fields().next().is_none() {
                return ExifFacts { status: ExifStatus::Unreadable, ..ExifFacts::default() };
            }
            (exif, ExifStatus::Partial)
        }
        Err(_) => return ExifFacts { status: ExifStatus::Unreadable, ..ExifFacts::default() },
    };
    let orientation = exif
        .get_field(Tag::Orientation, In::PRIMARY)
        .and_then(|f| f.value.get_uint(0))
        .and_then(|v| u16::try_from(v).ok())
        .filter(|v| (1..=8).contains(v));
    let mut captured_local = None;
    let mut captured_offset_minutes = None;
    let mut captured_at_ms = None;
    if let Some(dt) = ascii(&exif, Tag::DateTimeOriginal).or_else(|| ascii(&exif, Tag::DateTime))
        && let Some((days, secs)) = parse_exif_datetime(dt)
    {
        let local_ms = (days * 86_400 + secs) * 1000;
        captured_local = Some(format_local(days, secs));
        captured_offset_minutes =
            ascii(&exif, Tag::OffsetTimeOriginal).and_then(parse_offset_minutes);
        captured_at_ms = captured_offset_minutes.map(|off| local_ms - i64::from(off) * 60_000);
    }
    let gps = read_gps(&exif);
    if captured_at_ms.is_none() {
        captured_at_ms = gps.and_then(|g| g.time_ms);
    }
    ExifFacts { status, orientation, captured_local, captured_offset_minutes, captured_at_ms, gps }
}

fn ascii(exif: &exif::Exif, tag: Tag) -> Option<&[u8]> {
    let f = exif.get_field(tag, In::PRIMARY)?;
    match &f.value {
        Value::Ascii(v) => v.first().map(Vec::as_slice),
        _ => None,
    }
}

fn rationals(exif: &exif::Exif, tag: Tag) -> Option<Vec<f64>> {
    let f = exif.get_field(tag, In::PRIMARY)?;
    match &f.value {
        Value::Rational(v) => v
            .iter()
            .map(|r| if r.denom == 0 { None } else { Some(r.to_f64()) })
            .collect::<Option<Vec<f64>>>(),
        // Some phones (HMD/Nokia) write GPS coordinates as signed rationals.
        Value::SRational(v) => v
            .iter()
            .map(|r| if r.denom == 0 { None } else { Some(r.to_f64().abs()) })
            .collect::<Option<Vec<f64>>>(),
        _ => None,
    }
}

fn dms(v: &[f64]) -> Option<f64> {
    let deg = *v.first()?;
    let min = v.get(1).copied().unwrap_or(0.0);
    let sec = v.get(2).copied().unwrap_or(0.0);
    let d = deg + min / 60.0 + sec / 3600.0;
    d.is_finite().then_some(d)
}

fn read_gps(exif: &exif::Exif) -> Option<GpsPoint> {
    let lat = dms(&rationals(exif, Tag::GPSLatitude)?)?;
    let lon = dms(&rationals(exif, Tag::GPSLongitude)?)?;
    let lat = match ascii(exif, Tag::GPSLatitudeRef) {
        Some(b"S") => -lat,
        _ => lat,
    };
    let lon = match ascii(exif, Tag::GPSLongitudeRef) {
        Some(b"W") => -lon,
        _ => lon,
    };
    if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
        return None;
    }
    // Many cameras write 0/0 coordinates when they have no fix.
    if lat == 0.0 && lon == 0.0 {
        return None;
    }
    let below = exif
        .get_field(Tag::GPSAltitudeRef, In::PRIMARY)
        .and_then(|f| f.value.get_uint(0))
        .is_some_and(|v| v == 1);
    let altitude_m = rationals(exif, Tag::GPSAltitude)
        .and_then(|v| v.first().copied())
        .filter(|a| a.is_finite() && *a < 100_000.0)
        .map(|a| if below { -a } else { a });
    let time_ms = gps_time(exif);
    Some(GpsPoint { latitude: lat, longitude: lon, altitude_m, time_ms })
}

fn gps_time(exif: &exif::Exif) -> Option<i64> {
    let date = ascii(exif, Tag::GPSDateStamp)?;
    let t = rationals(exif, Tag::GPSTimeStamp)?;
    let (days, _) = parse_exif_datetime(&[date, b" 00:00:00"].concat())?;
    let (h, m, s) = (*t.first()?, *t.get(1)?, *t.get(2)?);
    if !(0.0..24.0).contains(&h) || !(0.0..60.0).contains(&m) || !(0.0..61.0).contains(&s) {
        return None;
    }
    let ms = ((h.trunc() * 3600.0 + m.trunc() * 60.0 + s) * 1000.0).round() as i64;
    Some(days * 86_400_000 + ms)
}

/// `YYYY:MM:DD HH:MM:SS` (the separators of the date may also be `-`) to days since the epoch
/// and seconds into the day; `None` for blank or impossible values.
fn parse_exif_datetime(s: &[u8]) -> Option<(i64, i64)> {
    if s.len() < 19 {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let d = s.get(r)?;
        if !d.iter().all(u8::is_ascii_digit) {
            return None;
        }
        d.iter().try_fold(0i64, |a, &c| Some(a * 10 + i64::from(c - b'0')))
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || se > 60
    {
        return None;
    }
    Some((days_from_civil(y, mo, d), h * 3600 + mi * 60 + se))
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn format_local(days: i64, secs: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

/// `+07:00` / `-05:30` to minutes east of UTC.
fn parse_offset_minutes(s: &[u8]) -> Option<i32> {
    if s.len() != 6 || s[3] != b':' {
        return None;
    }
    let sign = match s[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let two = |a: u8, b: u8| -> Option<i32> {
        (a.is_ascii_digit() && b.is_ascii_digit())
            .then(|| i32::from(a - b'0') * 10 + i32::from(b - b'0'))
    };
    let (h, m) = (two(s[1], s[2])?, two(s[4], s[5])?);
    (h <= 14 && m < 60).then_some(sign * (h * 60 + m))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(civil_from_days(11_017), (2000, 3, 1));
        assert_eq!(parse_exif_datetime(b"2024:02:29 23:59:59"), Some((19_782, 86_399)));
        assert_eq!(parse_exif_datetime(b"2023:02:29 10:00:00"), None);
        assert_eq!(parse_exif_datetime(b"    :  :     :  :  "), None);
        assert_eq!(format_local(19_782, 86_399), "2024-02-29T23:59:59");
        assert_eq!(parse_offset_minutes(b"+07:00"), Some(420));
        assert_eq!(parse_offset_minutes(b"-05:30"), Some(-330));
        assert_eq!(parse_offset_minutes(b"07:00"), None);
    }

    #[test]
    fn garbage_is_unreadable_not_a_panic() {
        assert_eq!(read_facts(b"").status, ExifStatus::Unreadable);
        assert_eq!(read_facts(b"II*\0\xff\xff\xff\xff").status, ExifStatus::Unreadable);
    }
}
