//! The device's local time as an offset from UTC (`--utc-offset`, `SAFEHOME_UTC_OFFSET`): what
//! `today()` is, how a date or time written without an offset is read, and the offset the
//! store's clock reports. The default is Vietnam's (+07:00), where the teams work; an app passes
//! the phone's own offset instead.

use std::str::FromStr;

/// Minutes east of UTC, within the offsets in use (−12:00 to +14:00).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtcOffset(i32);

/// Vietnam (Indochina Time, no daylight saving).
pub const VIETNAM: UtcOffset = UtcOffset(7 * 60);

/// The default of `--utc-offset`, spelled as clap shows it.
pub const DEFAULT: &str = "+07:00";

const WEST_MOST: i32 = -12 * 60;
const EAST_MOST: i32 = 14 * 60;

impl UtcOffset {
    pub fn minutes(self) -> i32 {
        self.0
    }
}

impl FromStr for UtcOffset {
    type Err = String;

    /// `+07:00`, `-03:30`, `+5:45` (a sign, hours, two-digit minutes), or whole minutes: `420`,
    /// `-180`. A bare number is minutes, never hours, so `7` is refused as too ambiguous to guess.
    fn from_str(s: &str) -> Result<Self, String> {
        let minutes = parse(s).ok_or_else(|| {
            format!("`{s}` is not an offset: write ±HH:MM (+07:00) or minutes east of UTC (420)")
        })?;
        if !(WEST_MOST..=EAST_MOST).contains(&minutes) {
            return Err(format!("`{s}` is outside the offsets in use, -12:00 to +14:00"));
        }
        // No offset in use is under an hour but zero: `7` means hours written as minutes.
        if minutes.unsigned_abs() < 60 && minutes != 0 && !s.contains(':') {
            let sign = if s.starts_with(['+', '-']) { "" } else { "+" };
            return Err(format!(
                "`{s}` minutes is not an offset in use: did you mean `{sign}{s}:00`?"
            ));
        }
        Ok(UtcOffset(minutes))
    }
}

fn parse(s: &str) -> Option<i32> {
    let (sign, rest) = match (s.strip_prefix('+'), s.strip_prefix('-')) {
        (Some(rest), _) => (1, rest),
        (_, Some(rest)) => (-1, rest),
        _ => (1, s),
    };
    let digits = |t: &str, max_len: usize| {
        (1..=max_len).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_digit())
    };
    let magnitude = match rest.split_once(':') {
        // An ISO 8601 offset has a sign; `07:00` alone reads as a time of day.
        Some((h, m)) if s.len() > rest.len() && digits(h, 2) && m.len() == 2 && digits(m, 2) => {
            let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
            if m >= 60 {
                return None;
            }
            h * 60 + m
        }
        Some(_) => return None,
        None if digits(rest, 4) => rest.parse().ok()?,
        None => return None,
    };
    Some(sign * magnitude)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minutes(s: &str) -> Result<i32, String> {
        s.parse::<UtcOffset>().map(UtcOffset::minutes)
    }

    #[test]
    fn reads_iso_offsets_and_minutes() {
        assert_eq!(minutes("+07:00"), Ok(420));
        assert_eq!(minutes(DEFAULT), Ok(VIETNAM.minutes()));
        assert_eq!(minutes("-03:30"), Ok(-210));
        assert_eq!(minutes("+5:45"), Ok(345));
        assert_eq!(minutes("+00:00"), Ok(0));
        assert_eq!(minutes("-00:00"), Ok(0));
        assert_eq!(minutes("0"), Ok(0));
        assert_eq!(minutes("420"), Ok(420));
        assert_eq!(minutes("+420"), Ok(420));
        assert_eq!(minutes("-300"), Ok(-300));
        assert_eq!(minutes("-12:00"), Ok(-720));
        assert_eq!(minutes("+14:00"), Ok(840));
    }

    #[test]
    fn refuses_malformed_and_out_of_range_offsets() {
        for bad in ["", "+", "07:00", "+07", "+07:0", "+07:60", "+007:00", "+07:00:00", "UTC", "Z"]
        {
            let e = minutes(bad).unwrap_err();
            assert!(e.contains("is not an offset"), "{bad}: {e}");
        }
        for bad in ["+14:01", "-12:30", "841", "-721", "+99:00", "9999"] {
            let e = minutes(bad).unwrap_err();
            assert!(e.contains("outside the offsets in use, -12:00 to +14:00"), "{bad}: {e}");
        }
        // Hours written as minutes: refused rather than read as 7 minutes.
        let e = minutes("7").unwrap_err();
        assert!(e.contains("did you mean `+7:00`"), "{e}");
        let e = minutes("-5").unwrap_err();
        assert!(e.contains("did you mean `-5:00`"), "{e}");
    }
}
