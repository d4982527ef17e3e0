//! Calendar arithmetic, ISO 8601 parsing and formatting, without a date crate: the expression
//! language's dates and times (re-exported from `form::expr`) and the timestamps of exports
//! (`location::export`). Dates are days since 1970-01-01 in the proleptic Gregorian calendar;
//! instants are milliseconds since the Unix epoch (UTC) plus the offset they are shown in.
//! Depends on nothing else in the crate.
//!
//! Every function is total: out-of-range input is refused with `None` or clamped, never a panic.

/// Milliseconds in a day.
pub const MS_PER_DAY: i64 = 86_400_000;

const MS_PER_HOUR: i64 = 3_600_000;
const MS_PER_MINUTE: i64 = 60_000;

/// Short English month names for `%b`.
const MONTHS: [&str; 12] =
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
/// Short English day names for `%a`, Sunday first.
const WEEKDAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

fn clamp_i32(v: i64) -> i32 {
    i32::try_from(v).unwrap_or(if v < 0 { i32::MIN } else { i32::MAX })
}

/// Days since 1970-01-01 of the civil date `y-m-d` (proleptic Gregorian; `m` 1–12). Fields
/// out of range are not checked here (use [`parse_date`] for validated input); the result
/// saturates at the `i32` range.
pub fn days_from_civil(y: i32, m: u32, d: u32) -> i32 {
    // Shift the year so it starts in March: the leap day is then the last day of the year.
    let m = i64::from(m);
    let d = i64::from(d);
    let y = i64::from(y) - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400; // 0..=399
    let month_from_march = (m + 9).rem_euclid(12); // March = 0
    let day_of_year = (153 * month_from_march + 2) / 5 + d - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    clamp_i32(era * 146_097 + day_of_era - 719_468)
}

/// The civil date `(year, month 1–12, day 1–31)` of a day number (days since 1970-01-01).
pub fn civil_from_days(days: i32) -> (i32, u32, u32) {
    let z = i64::from(days) + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097; // 0..=146096
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153; // 0..=11
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1; // 1..=31
    let month = if month_from_march < 10 { month_from_march + 3 } else { month_from_march - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    // The ranges above make these conversions exact; the fallbacks are unreachable.
    (clamp_i32(year), u32::try_from(month).unwrap_or(1), u32::try_from(day).unwrap_or(1))
}

/// Whether `y` is a leap year in the Gregorian calendar.
pub fn is_leap_year(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// Number of days in month `m` (1–12) of year `y`; 0 for an invalid month.
pub fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(y) => 29,
        2 => 28,
        _ => 0,
    }
}

/// XPath whitespace plus other Unicode white space (spreadsheets like to add U+00A0).
fn trim(s: &str) -> &str {
    s.trim_matches(char::is_whitespace)
}

/// A cursor over ASCII bytes for the fixed-width ISO formats.
struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn new(s: &'a str) -> Self {
        Cursor { b: s.as_bytes(), i: 0 }
    }
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }
    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    /// Exactly `n` ASCII digits as a number.
    fn digits(&mut self, n: usize) -> Option<u32> {
        let mut v: u32 = 0;
        for _ in 0..n {
            let c = self.peek()?;
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + u32::from(c - b'0');
            self.i += 1;
        }
        Some(v)
    }
    fn at_end(&self) -> bool {
        self.i >= self.b.len()
    }
}

fn date_part(c: &mut Cursor<'_>) -> Option<i32> {
    let y = c.digits(4)?;
    if !c.eat(b'-') {
        return None;
    }
    let m = c.digits(2)?;
    if !c.eat(b'-') {
        return None;
    }
    let d = c.digits(2)?;
    let y = i32::try_from(y).ok()?;
    if !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
        return None;
    }
    Some(days_from_civil(y, m, d))
}

/// `HH:MM[:SS[.fff…]]` as milliseconds since midnight.
fn time_part(c: &mut Cursor<'_>) -> Option<i64> {
    let h = c.digits(2)?;
    if !c.eat(b':') {
        return None;
    }
    let min = c.digits(2)?;
    let mut sec = 0;
    let mut ms = 0;
    if c.eat(b':') {
        sec = c.digits(2)?;
        if c.eat(b'.') || c.eat(b',') {
            let mut n = 0;
            let mut scale = 100;
            while let Some(ch) = c.peek() {
                if !ch.is_ascii_digit() {
                    break;
                }
                ms += u32::from(ch - b'0') * scale;
                scale /= 10;
                n += 1;
                c.i += 1;
            }
            if n == 0 {
                return None;
            }
        }
    }
    if h > 23 || min > 59 || sec > 59 {
        return None;
    }
    Some(
        i64::from(h) * MS_PER_HOUR
            + i64::from(min) * MS_PER_MINUTE
            + i64::from(sec) * 1000
            + i64::from(ms),
    )
}

/// `Z`, `±HH`, `±HHMM` or `±HH:MM` as minutes east of UTC; `Ok(None)` when absent.
fn zone_part(c: &mut Cursor<'_>) -> Result<Option<i32>, ()> {
    if c.at_end() {
        return Ok(None);
    }
    if c.eat(b'Z') || c.eat(b'z') {
        return Ok(Some(0));
    }
    let sign = if c.eat(b'+') {
        1
    } else if c.eat(b'-') {
        -1
    } else {
        return Err(());
    };
    let h = c.digits(2).ok_or(())?;
    let m = if c.at_end() {
        0
    } else {
        c.eat(b':');
        c.digits(2).ok_or(())?
    };
    if h > 23 || m > 59 {
        return Err(());
    }
    let total = i32::try_from(h * 60 + m).map_err(|_| ())?;
    Ok(Some(sign * total))
}

/// A calendar date `YYYY-MM-DD` (surrounding white space allowed) as days since 1970-01-01.
/// The day must exist: `2023-02-29` is refused.
pub fn parse_date(s: &str) -> Option<i32> {
    let mut c = Cursor::new(trim(s));
    let days = date_part(&mut c)?;
    c.at_end().then_some(days)
}

/// An ISO 8601 date-time `YYYY-MM-DDTHH:MM[:SS[.fff]][Z|±HH[:MM]]` as (milliseconds since the
/// epoch in UTC, offset in minutes). Without an offset the time is read in `default_offset_min`.
/// A bare date `YYYY-MM-DD` is accepted too and means its local midnight.
pub fn parse_datetime(s: &str, default_offset_min: i32) -> Option<(i64, i32)> {
    let mut c = Cursor::new(trim(s));
    let days = date_part(&mut c)?;
    let mut local = i64::from(days) * MS_PER_DAY;
    let mut offset = default_offset_min;
    if !c.at_end() {
        if !(c.eat(b'T') || c.eat(b't') || c.eat(b' ')) {
            return None;
        }
        local += time_part(&mut c)?;
        if let Some(o) = zone_part(&mut c).ok()? {
            offset = o;
        }
        if !c.at_end() {
            return None;
        }
    }
    Some((local - i64::from(offset) * MS_PER_MINUTE, offset))
}

/// A time of day `HH:MM[:SS[.fff]][Z|±HH[:MM]]` as milliseconds since midnight, as written
/// (any offset is ignored; see [`parse_time_with_offset`]).
pub fn parse_time(s: &str) -> Option<i64> {
    parse_time_with_offset(s).map(|(ms, _)| ms)
}

/// A time of day as milliseconds since midnight as written, and the offset it carries, if any.
pub fn parse_time_with_offset(s: &str) -> Option<(i64, Option<i32>)> {
    let mut c = Cursor::new(trim(s));
    let ms = time_part(&mut c)?;
    let zone = zone_part(&mut c).ok()?;
    c.at_end().then_some((ms, zone))
}

/// Milliseconds since the epoch shifted into local wall-clock time.
pub fn local_ms(ms: i64, offset_min: i32) -> i64 {
    ms.saturating_add(i64::from(offset_min) * MS_PER_MINUTE)
}

/// The local calendar day (days since 1970-01-01) of an instant.
pub fn local_day(ms: i64, offset_min: i32) -> i32 {
    clamp_i32(local_ms(ms, offset_min).div_euclid(MS_PER_DAY))
}

fn push_year(out: &mut String, y: i32) {
    use std::fmt::Write;
    if (0..=9999).contains(&y) {
        let _ = write!(out, "{y:04}");
    } else {
        let _ = write!(out, "{y}");
    }
}

fn push_offset(out: &mut String, offset_min: i32) {
    use std::fmt::Write;
    if offset_min == 0 {
        out.push('Z');
    } else {
        let sign = if offset_min < 0 { '-' } else { '+' };
        let a = offset_min.unsigned_abs();
        let _ = write!(out, "{sign}{:02}:{:02}", a / 60, a % 60);
    }
}

fn push_time(out: &mut String, ms_of_day: i64) {
    use std::fmt::Write;
    let t = ms_of_day.rem_euclid(MS_PER_DAY);
    let _ = write!(
        out,
        "{:02}:{:02}:{:02}.{:03}",
        t / MS_PER_HOUR,
        t % MS_PER_HOUR / MS_PER_MINUTE,
        t % MS_PER_MINUTE / 1000,
        t % 1000
    );
}

/// `YYYY-MM-DD`.
pub fn format_iso_date(days: i32) -> String {
    use std::fmt::Write;
    let (y, m, d) = civil_from_days(days);
    let mut out = String::with_capacity(10);
    push_year(&mut out, y);
    let _ = write!(out, "-{m:02}-{d:02}");
    out
}

/// `YYYY-MM-DDTHH:MM:SS.mmm+HH:MM` (or `Z` for UTC), in the given offset.
pub fn format_iso_datetime(ms: i64, offset_min: i32) -> String {
    let local = local_ms(ms, offset_min);
    let mut out = format_iso_date(clamp_i32(local.div_euclid(MS_PER_DAY)));
    out.push('T');
    push_time(&mut out, local);
    push_offset(&mut out, offset_min);
    out
}

/// `HH:MM:SS.mmm+HH:MM` (or `Z`), as ODK stores time answers.
pub fn format_iso_time(ms_of_day: i64, offset_min: i32) -> String {
    let mut out = String::with_capacity(18);
    push_time(&mut out, ms_of_day);
    push_offset(&mut out, offset_min);
    out
}

/// `HH:MM:SS.mmm` without an offset.
pub fn format_plain_time(ms_of_day: i64) -> String {
    let mut out = String::with_capacity(12);
    push_time(&mut out, ms_of_day);
    out
}

/// Format a local wall-clock time (milliseconds since 1970-01-01T00:00 local) with ODK's
/// `format-date-time` codes: `%Y` year, `%y` 2-digit year, `%m` 0-padded month, `%n` month,
/// `%b` short month name, `%d` 0-padded day, `%e` day, `%a` short day name, `%H` 0-padded hour,
/// `%h` hour, `%M` 0-padded minute, `%S` 0-padded second, `%3` 0-padded milliseconds, `%%` a
/// percent sign. Other `%x` sequences are copied unchanged. Names are English.
pub fn format_date(local_ms: i64, fmt: &str) -> String {
    use std::fmt::Write;
    let days = clamp_i32(local_ms.div_euclid(MS_PER_DAY));
    let t = local_ms.rem_euclid(MS_PER_DAY);
    let (y, m, d) = civil_from_days(days);
    let weekday = usize::try_from((i64::from(days) + 4).rem_euclid(7)).unwrap_or(0);
    let month_name = usize::try_from(m).ok().and_then(|m| MONTHS.get(m.wrapping_sub(1)));
    let mut out = String::with_capacity(fmt.len() + 8);
    let mut chars = fmt.chars();
    while let Some(ch) = chars.next() {
        if ch != '%' {
            out.push(ch);
            continue;
        }
        let Some(code) = chars.next() else {
            out.push('%');
            break;
        };
        let _ = match code {
            'Y' => {
                push_year(&mut out, y);
                Ok(())
            }
            'y' => write!(out, "{:02}", y.rem_euclid(100)),
            'm' => write!(out, "{m:02}"),
            'n' => write!(out, "{m}"),
            'b' => {
                out.push_str(month_name.copied().unwrap_or(""));
                Ok(())
            }
            'd' => write!(out, "{d:02}"),
            'e' => write!(out, "{d}"),
            'a' => {
                out.push_str(WEEKDAYS.get(weekday).copied().unwrap_or(""));
                Ok(())
            }
            'H' => write!(out, "{:02}", t / MS_PER_HOUR),
            'h' => write!(out, "{}", t / MS_PER_HOUR),
            'M' => write!(out, "{:02}", t % MS_PER_HOUR / MS_PER_MINUTE),
            'S' => write!(out, "{:02}", t % MS_PER_MINUTE / 1000),
            '3' => write!(out, "{:03}", t % 1000),
            '%' => {
                out.push('%');
                Ok(())
            }
            other => {
                out.push('%');
                out.push(other);
                Ok(())
            }
        };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip_over_a_wide_range() {
        for days in (-800_000..800_000).step_by(7) {
            let (y, m, d) = civil_from_days(days);
            assert!((1..=12).contains(&m));
            assert!(d >= 1 && d <= days_in_month(y, m));
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert!(civil_from_days(i32::MAX).1 >= 1);
        assert!(civil_from_days(i32::MIN).1 >= 1);
    }

    #[test]
    fn parse_date_validates_the_calendar() {
        assert_eq!(parse_date("2024-02-29"), Some(days_from_civil(2024, 2, 29)));
        assert_eq!(parse_date(" 2026-11-29 "), Some(days_from_civil(2026, 11, 29)));
        for bad in [
            "2023-02-29",
            "2023-13-01",
            "2023-00-10",
            "2023-04-31",
            "2023-4-1",
            "20230401",
            "",
            "2023-04-01x",
            "1900-02-29",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
        assert_eq!(parse_date("2000-02-29"), Some(days_from_civil(2000, 2, 29)));
    }

    #[test]
    fn parse_datetime_handles_offsets_and_fractions() {
        let base = i64::from(days_from_civil(2026, 11, 29)) * MS_PER_DAY;
        assert_eq!(parse_datetime("2026-11-29T04:00:00Z", 420), Some((base + 4 * MS_PER_HOUR, 0)));
        assert_eq!(
            parse_datetime("2026-11-29T11:00:00.5+07:00", 0),
            Some((base + 4 * MS_PER_HOUR + 500, 420))
        );
        assert_eq!(parse_datetime("2026-11-29T11:00+0700", 0), Some((base + 4 * MS_PER_HOUR, 420)));
        assert_eq!(parse_datetime("2026-11-29T11:00:00", 420), Some((base + 4 * MS_PER_HOUR, 420)));
        assert_eq!(parse_datetime("2026-11-29", 420), Some((base - 7 * MS_PER_HOUR, 420)));
        assert_eq!(parse_datetime("2026-11-29T24:00:00Z", 0), None);
        assert_eq!(parse_datetime("2026-11-29T10:00:00.Z", 0), None);
        assert_eq!(parse_datetime("2026-11-29T10:00:00+7", 0), None);
    }

    #[test]
    fn time_parsing_and_formatting() {
        assert_eq!(parse_time("12:30"), Some(12 * MS_PER_HOUR + 30 * MS_PER_MINUTE));
        assert_eq!(
            parse_time_with_offset("06:00:00.000-07:00"),
            Some((6 * MS_PER_HOUR, Some(-420)))
        );
        assert_eq!(parse_time("25:00"), None);
        assert_eq!(format_iso_time(6 * MS_PER_HOUR + 5, 420), "06:00:00.005+07:00");
        assert_eq!(format_iso_datetime(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_iso_datetime(-1, -90), "1969-12-31T22:29:59.999-01:30");
    }

    #[test]
    fn format_codes() {
        let local = i64::from(days_from_civil(2026, 3, 5)) * MS_PER_DAY
            + 7 * MS_PER_HOUR
            + 8 * MS_PER_MINUTE
            + 9_012;
        assert_eq!(
            format_date(local, "%Y %y %m %n %b %d %e %a %H %h %M %S %3 %% %q %"),
            "2026 26 03 3 Mar 05 5 Thu 07 7 08 09 012 % %q %"
        );
    }
}
