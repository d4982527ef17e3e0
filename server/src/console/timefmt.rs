//! Dates as the console shows them, in Vietnam's time (UTC+7, no daylight saving), without a
//! calendar crate: the civil-date conversions of Howard Hinnant's `days_from_civil` algorithm.

use super::data::VN_OFFSET_MS;
use super::i18n::Lang;

const DAY_MS: i64 = 86_400_000;

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date (year, month, day) of an instant `ms` since the epoch (already shifted to the local
/// time by the caller).
pub fn civil(ms: i64) -> (i64, i64, i64) {
    let z = ms.div_euclid(DAY_MS) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `05/12/2026 15:40` in Vietnam's time.
pub fn date_time(ms: i64) -> String {
    let local = ms + VN_OFFSET_MS;
    let (y, m, d) = civil(local);
    let minutes = local.rem_euclid(DAY_MS) / 60_000;
    format!("{d:02}/{m:02}/{y:04} {:02}:{:02}", minutes / 60, minutes % 60)
}

/// An optional instant, or a dash.
pub fn maybe(ms: Option<i64>) -> String {
    ms.map_or_else(|| "—".to_string(), date_time)
}

/// A duration for people: `2 ngày 3 giờ`, `3 giờ 20 phút`, `12 phút` (or in English).
pub fn duration(ms: i64, lang: Lang) -> String {
    let minutes = ms.unsigned_abs() / 60_000;
    let (d, h, m) = (minutes / 1440, minutes / 60 % 24, minutes % 60);
    let (ud, uh, um) = match lang {
        Lang::Vi => ("ngày", "giờ", "phút"),
        Lang::En => ("d", "h", "min"),
    };
    if d > 0 {
        format!("{d} {ud} {h} {uh}")
    } else if h > 0 {
        format!("{h} {uh} {m} {um}")
    } else {
        format!("{m} {um}")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn dates_round_trip_and_print_in_vietnam_time() {
        for days in [-800_000, -1, 0, 1, 19_000, 20_454, 2_000_000] {
            let (y, m, d) = civil(days * DAY_MS);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(civil(0), (1970, 1, 1));
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        // 2026-12-05T08:38:00Z is 15:38 in Hà Nội.
        assert_eq!(date_time(1_796_459_880_000), "05/12/2026 15:38");
        assert_eq!(date_time(1_796_459_880_000 + 9 * 3_600_000), "06/12/2026 00:38");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(3 * 3_600_000 + 20 * 60_000, Lang::Vi), "3 giờ 20 phút");
        assert_eq!(duration(-(12 * 60_000), Lang::En), "12 min");
        assert_eq!(duration(50 * 3_600_000, Lang::En), "2 d 2 h");
    }
}
