//! Dates as the console shows them, in Vietnam's time (UTC+7, no daylight saving), on the
//! core's calendar arithmetic (`safehome_core::form::expr`, re-exported from its `civil`).

use safehome_core::form::expr::{civil_from_days, days_from_civil as days_i32};

use super::data::VN_OFFSET_MS;
use super::i18n::Lang;

const DAY_MS: i64 = 86_400_000;

/// Days since 1970-01-01 of a date (`m` 1–12).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = i32::try_from(y).unwrap_or(if y < 0 { i32::MIN } else { i32::MAX });
    i64::from(days_i32(y, u32::try_from(m).unwrap_or(1), u32::try_from(d).unwrap_or(1)))
}

/// The date (year, month, day) of an instant `ms` since the epoch (already shifted to the local
/// time by the caller).
pub fn civil(ms: i64) -> (i64, i64, i64) {
    let days = i32::try_from(ms.div_euclid(DAY_MS)).unwrap_or(0);
    let (y, m, d) = civil_from_days(days);
    (i64::from(y), i64::from(m), i64::from(d))
}

/// The month (`2026-03`) holding the instant `ms` in Vietnam's time: the console's counts are
/// kept by it (`routing_monthly`).
pub fn month_of(ms: i64) -> String {
    let (y, m, _) = civil(ms + VN_OFFSET_MS);
    format!("{y:04}-{m:02}")
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
        for days in [-800_000, -1, 0, 1, 19_000, 20_454, 2_000_000i64] {
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
