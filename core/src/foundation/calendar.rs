//! Business-hours calendars (docs/handoff.md, "Business hours"): when a queue's people are at
//! work. Pure: the caller passes the time in (Unix seconds), so tests pin any instant.
//!
//! A calendar is a **fixed UTC offset** (`+08:00`), a weekly schedule with any number of
//! `HH:MM-HH:MM` intervals per day (split shifts), holidays (closed all day) and special days
//! (their own intervals instead of the weekday's). Zones with daylight-saving time are not
//! supported: an IANA zone database would cost the components far more than the rest of this
//! module, and the sample business (China) has no DST. A shift may not cross midnight
//! (`22:00-02:00` is refused): write `22:00-24:00` on one day and `00:00-02:00` on the next.

use crate::foundation::time::{civil_from_days, days_from_civil};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Weekday keys of [`Calendar::weekly`], Monday first.
pub const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// How far [`Hours::next_open`] looks ahead, in days (a year and a bit: every holiday list
/// ends within that).
pub const LOOKAHEAD_DAYS: i64 = 400;

/// A calendar as written in the KB (`kb.yaml`, `calendars:`) and shipped in
/// `models/handoff.json`; [`Calendar::compile`] checks it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Calendar {
    /// Fixed offset from UTC, `+HH:MM` or `-HH:MM` (e.g. `+08:00` for Asia/Shanghai).
    pub utc_offset: String,
    /// `mon` … `sun` → intervals `HH:MM-HH:MM` (end may be `24:00`). A day left out or given
    /// `[]` is closed.
    #[serde(default)]
    pub weekly: BTreeMap<String, Vec<String>>,
    /// `YYYY-MM-DD` dates closed all day.
    #[serde(default)]
    pub holidays: Vec<String>,
    /// `YYYY-MM-DD` → that day's intervals instead of its weekday's (`[]`: closed).
    #[serde(default)]
    pub special_days: BTreeMap<String, Vec<String>>,
}

/// What is wrong in a calendar: the offending text (for the KB's line lookup) and a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CalendarError {
    /// The offending text as written (a weekday key, an interval, a date, the offset), for the
    /// KB's line lookup.
    pub at: String,
    /// What is wrong with it, in English.
    pub message: String,
}

/// Intervals of one day: `[start, end)` in minutes since local midnight, sorted, disjoint.
type Day = Vec<(u32, u32)>;

/// A checked calendar, ready to answer.
#[derive(Clone, Debug, PartialEq)]
pub struct Hours {
    /// Seconds east of UTC.
    pub offset_secs: i64,
    weekly: [Day; 7],
    holidays: BTreeSet<i64>,
    special: BTreeMap<i64, Day>,
}

impl Calendar {
    /// Checks every field; all errors are returned, not just the first.
    pub fn compile(&self) -> Result<Hours, Vec<CalendarError>> {
        let mut errors = Vec::new();
        let mut err = |at: &str, message: String| {
            errors.push(CalendarError {
                at: at.to_string(),
                message,
            })
        };
        let offset_secs = parse_offset(&self.utc_offset).unwrap_or_else(|| {
            err(
                &self.utc_offset,
                format!(
                    "utc_offset \"{}\" is not +HH:MM or -HH:MM (within ±14:00); zones with daylight-saving time are not supported",
                    self.utc_offset
                ),
            );
            0
        });
        let mut weekly: [Day; 7] = Default::default();
        for (key, intervals) in &self.weekly {
            match WEEKDAYS.iter().position(|d| d == key) {
                Some(i) => weekly[i] = day(key, intervals, &mut err),
                None => err(
                    key,
                    format!(
                        "unknown weekday \"{key}\" (want one of {})",
                        WEEKDAYS.join(", ")
                    ),
                ),
            }
        }
        let mut holidays = BTreeSet::new();
        for d in &self.holidays {
            match parse_date(d) {
                Some(n) if !holidays.insert(n) => err(d, format!("holiday {d} is listed twice")),
                Some(_) => {}
                None => err(d, format!("holiday \"{d}\" is not a date YYYY-MM-DD")),
            }
        }
        let mut special = BTreeMap::new();
        for (d, intervals) in &self.special_days {
            match parse_date(d) {
                Some(n) if holidays.contains(&n) => err(
                    d,
                    format!("{d} is both a holiday and a special day; keep one"),
                ),
                Some(n) => {
                    special.insert(n, day(d, intervals, &mut err));
                }
                None => err(d, format!("special day \"{d}\" is not a date YYYY-MM-DD")),
            }
        }
        if errors.is_empty() {
            Ok(Hours {
                offset_secs,
                weekly,
                holidays,
                special,
            })
        } else {
            Err(errors)
        }
    }
}

/// Parses one day's intervals; refuses bad times, empty or midnight-crossing intervals and
/// overlaps (touching intervals, `09:00-12:00` and `12:00-13:00`, are fine).
fn day(what: &str, intervals: &[String], err: &mut dyn FnMut(&str, String)) -> Day {
    let mut out: Day = Vec::new();
    for text in intervals {
        let parsed = text
            .split_once('-')
            .and_then(|(a, b)| Some((parse_hhmm(a.trim())?, parse_hhmm(b.trim())?)));
        match parsed {
            None => err(
                text,
                format!("{what}: \"{text}\" is not an interval HH:MM-HH:MM"),
            ),
            Some((a, b)) if b <= a => err(
                text,
                format!(
                    "{what}: \"{text}\" ends before it starts; a shift across midnight is two intervals (…-24:00 and 00:00-… the next day)"
                ),
            ),
            Some(iv) => out.push(iv),
        }
    }
    out.sort_unstable();
    for w in out.windows(2) {
        if w[1].0 < w[0].1 {
            let show = |(a, b): (u32, u32)| format!("{}-{}", hhmm(a), hhmm(b));
            let second = show(w[1]);
            err(
                intervals
                    .iter()
                    .find(|t| t.replace(' ', "") == second)
                    .map_or(what, String::as_str),
                format!("{what}: {} overlaps {second}", show(w[0])),
            );
        }
    }
    out
}

impl Hours {
    /// Local (day number since 1970-01-01, second of the day) of a Unix time.
    fn local(&self, unix_secs: i64) -> (i64, i64) {
        let t = unix_secs + self.offset_secs;
        (t.div_euclid(86_400), t.rem_euclid(86_400))
    }

    /// The intervals of a local day (holidays first, then special days, then the weekday).
    fn intervals(&self, day: i64) -> &[(u32, u32)] {
        if self.holidays.contains(&day) {
            return &[];
        }
        if let Some(d) = self.special.get(&day) {
            return d;
        }
        // 1970-01-01 was a Thursday (index 3, Monday first).
        &self.weekly[(day + 3).rem_euclid(7) as usize]
    }

    /// Whether the queue's people are at work at this instant.
    pub fn is_open(&self, unix_secs: i64) -> bool {
        let (day, sec) = self.local(unix_secs);
        self.intervals(day)
            .iter()
            .any(|&(a, b)| i64::from(a) * 60 <= sec && sec < i64::from(b) * 60)
    }

    /// The first instant at or after `unix_secs` when it is open (`unix_secs` itself when open
    /// now); `None` when closed for the next [`LOOKAHEAD_DAYS`] days.
    pub fn next_open(&self, unix_secs: i64) -> Option<i64> {
        let (today, sec) = self.local(unix_secs);
        for day in today..today + LOOKAHEAD_DAYS {
            let from = if day == today { sec } else { 0 };
            let start = self
                .intervals(day)
                .iter()
                .find(|&&(_, b)| i64::from(b) * 60 > from)
                .map(|&(a, _)| (i64::from(a) * 60).max(from));
            if let Some(s) = start {
                return Some(day * 86_400 + s - self.offset_secs);
            }
        }
        None
    }

    /// The instant when `seconds` of open time have passed since `unix_secs` (the clock of an
    /// SLA that pauses outside business hours); `None` when the calendar does not hold that
    /// much open time in the next [`LOOKAHEAD_DAYS`] days.
    pub fn add_open_time(&self, unix_secs: i64, seconds: i64) -> Option<i64> {
        let (today, sec) = self.local(unix_secs);
        let mut left = seconds.max(0);
        for day in today..today + LOOKAHEAD_DAYS {
            let from = if day == today { sec } else { 0 };
            for &(a, b) in self.intervals(day) {
                let (a, b) = (i64::from(a) * 60, i64::from(b) * 60);
                if b <= from {
                    continue;
                }
                let start = a.max(from);
                if left <= b - start {
                    return Some(day * 86_400 + start + left - self.offset_secs);
                }
                left -= b - start;
            }
        }
        None
    }

    /// RFC 3339 in the calendar's offset, e.g. `2026-12-08T09:00:00+08:00`.
    pub fn format_local(&self, unix_secs: i64) -> String {
        format_rfc3339(unix_secs, self.offset_secs)
    }
}

/// `+HH:MM` / `-HH:MM` → seconds east of UTC (at most 14 hours).
pub fn parse_offset(s: &str) -> Option<i64> {
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let (h, m) = rest.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (i64, i64) = (digits(h)?, digits(m)?);
    (m < 60 && h * 60 + m <= 14 * 60).then_some(sign * (h * 3600 + m * 60))
}

fn digits(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `HH:MM` → minutes since midnight; `24:00` is the end of the day.
fn parse_hhmm(s: &str) -> Option<u32> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m) = (digits(h)? as u32, digits(m)? as u32);
    (m < 60 && (h < 24 || (h == 24 && m == 0))).then_some(h * 60 + m)
}

fn hhmm(minutes: u32) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// `YYYY-MM-DD` → day number since 1970-01-01; rejects impossible dates (2026-02-30).
pub fn parse_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, m, d) = (digits(&s[0..4])?, digits(&s[5..7])?, digits(&s[8..10])?);
    if !(1..=12).contains(&m) || d < 1 {
        return None;
    }
    let n = days_from_civil(y, m, d);
    (civil_from_days(n) == (y, m, d)).then_some(n)
}

/// An RFC 3339 date-time (`2026-12-07T12:30:00+08:00`, `…Z`, fractions of a second allowed
/// and dropped) → Unix seconds.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    if s.len() < 20 || !s.is_char_boundary(10) || !matches!(&s[10..11], "T" | "t" | " ") {
        return None;
    }
    let day = parse_date(&s[..10])?;
    let rest = &s[11..];
    let b = rest.as_bytes();
    if b.len() < 9 || b[2] != b':' || b[5] != b':' {
        return None;
    }
    let (h, m, sec) = (
        digits(&rest[0..2])?,
        digits(&rest[3..5])?,
        digits(&rest[6..8])?,
    );
    if h > 23 || m > 59 || sec > 60 {
        return None;
    }
    let mut tail = &rest[8..];
    if let Some(frac) = tail.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        tail = &frac[n..];
    }
    let offset = match tail {
        "Z" | "z" => 0,
        o => parse_offset(o)?,
    };
    Some(day * 86_400 + h * 3600 + m * 60 + sec.min(59) - offset)
}

/// "2026-12-08 09:00 (UTC+08:00)" from an RFC 3339 local time: what a customer reads.
pub fn readable(rfc3339: &str) -> String {
    let offset = rfc3339.get(19..).unwrap_or("");
    let offset = if offset == "Z" { "+00:00" } else { offset };
    format!(
        "{} (UTC{offset})",
        rfc3339.get(..16).unwrap_or(rfc3339).replace('T', " ")
    )
}

/// Unix seconds → RFC 3339 at a fixed offset (`Z` for 0).
pub fn format_rfc3339(unix_secs: i64, offset_secs: i64) -> String {
    let t = unix_secs + offset_secs;
    let (y, mo, d) = civil_from_days(t.div_euclid(86_400));
    let s = t.rem_euclid(86_400);
    let zone = if offset_secs == 0 {
        "Z".to_string()
    } else {
        let a = offset_secs.abs() / 60;
        let sign = if offset_secs < 0 { '-' } else { '+' };
        format!("{sign}{:02}:{:02}", a / 60, a % 60)
    };
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}{zone}",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    /// Shanghai: split shift Monday to Friday, a short Saturday, closed on Sunday.
    fn shanghai() -> Calendar {
        let split = strings(&["09:00-12:00", "13:30-21:00"]);
        let mut weekly: BTreeMap<String, Vec<String>> = WEEKDAYS[..5]
            .iter()
            .map(|d| (d.to_string(), split.clone()))
            .collect();
        weekly.insert("sat".into(), strings(&["10:00-16:00"]));
        Calendar {
            utc_offset: "+08:00".into(),
            weekly,
            holidays: strings(&["2026-10-01", "2026-10-02"]),
            special_days: [("2026-10-10".to_string(), strings(&["09:00-12:00"]))]
                .into_iter()
                .collect(),
        }
    }

    fn at(s: &str) -> i64 {
        parse_rfc3339(s).unwrap_or_else(|| panic!("{s}"))
    }

    #[test]
    fn split_shift_lunch_break_is_closed() {
        let h = shanghai().compile().unwrap();
        // Monday 2026-12-07.
        assert!(h.is_open(at("2026-12-07T11:59:59+08:00")));
        assert!(!h.is_open(at("2026-12-07T12:00:00+08:00")));
        assert!(!h.is_open(at("2026-12-07T12:30:00+08:00")));
        assert!(h.is_open(at("2026-12-07T13:30:00+08:00")));
        assert!(!h.is_open(at("2026-12-07T21:00:00+08:00")));
        assert!(!h.is_open(at("2026-12-07T08:59:59+08:00")));
        assert_eq!(
            h.next_open(at("2026-12-07T12:30:00+08:00")),
            Some(at("2026-12-07T13:30:00+08:00"))
        );
        // Open now: now.
        let t = at("2026-12-07T10:15:00+08:00");
        assert_eq!(h.next_open(t), Some(t));
        // After the evening shift: the next morning.
        assert_eq!(
            h.next_open(at("2026-12-07T21:30:00+08:00")),
            Some(at("2026-12-08T09:00:00+08:00"))
        );
        // Saturday evening → Monday morning (Sunday is closed).
        assert_eq!(
            h.format_local(h.next_open(at("2026-12-12T16:00:00+08:00")).unwrap()),
            "2026-12-14T09:00:00+08:00"
        );
    }

    #[test]
    fn holidays_and_special_days() {
        let h = shanghai().compile().unwrap();
        // Thursday 2026-10-01, a holiday at what is otherwise a working hour.
        assert!(!h.is_open(at("2026-10-01T10:00:00+08:00")));
        // Closed Thursday and Friday; the next opening is Saturday's.
        assert_eq!(
            h.format_local(h.next_open(at("2026-10-01T10:00:00+08:00")).unwrap()),
            "2026-10-03T10:00:00+08:00"
        );
        // Saturday 2026-10-10 is a special day (a make-up working day, 09:00-12:00) instead
        // of the usual Saturday (10:00-16:00).
        assert!(h.is_open(at("2026-10-10T09:30:00+08:00")));
        assert!(!h.is_open(at("2026-10-10T13:00:00+08:00")));
        assert!(
            h.is_open(at("2026-10-17T13:00:00+08:00")),
            "an ordinary Saturday"
        );
        assert_eq!(
            h.format_local(h.next_open(at("2026-10-10T12:00:00+08:00")).unwrap()),
            "2026-10-12T09:00:00+08:00"
        );
    }

    #[test]
    fn across_a_time_zone_boundary() {
        let shanghai = shanghai().compile().unwrap();
        let mut c = shanghai_like("+01:00");
        c.holidays.clear();
        let paris = c.compile().unwrap();
        // 2026-12-07T13:00Z: 21:00 in Shanghai (just closed), 14:00 in UTC+1 (open).
        let t = at("2026-12-07T13:00:00Z");
        assert!(!shanghai.is_open(t));
        assert!(paris.is_open(t));
        // 2026-12-07T01:30Z: 09:30 Monday in Shanghai (open), 02:30 in UTC+1 (closed).
        let t = at("2026-12-07T01:30:00Z");
        assert!(shanghai.is_open(t));
        assert!(!paris.is_open(t));
        // The local date decides holidays: 2026-09-30T16:30Z is already 1 October in Shanghai.
        assert!(!shanghai.is_open(at("2026-09-30T16:30:00Z")));
        assert!(!shanghai.is_open(at("2026-10-01T00:30:00+08:00")));
        assert!(shanghai.is_open(at("2026-09-30T12:30:00Z")));
        // A negative offset.
        let ny = shanghai_like("-05:00").compile().unwrap();
        assert!(ny.is_open(at("2026-12-07T14:00:00Z"))); // 09:00 in UTC-5
        assert_eq!(
            ny.format_local(ny.next_open(at("2026-12-07T13:00:00Z")).unwrap()),
            "2026-12-07T09:00:00-05:00"
        );
    }

    fn shanghai_like(offset: &str) -> Calendar {
        Calendar {
            utc_offset: offset.into(),
            ..shanghai()
        }
    }

    #[test]
    fn errors_name_what_is_wrong() {
        let bad = Calendar {
            utc_offset: "Asia/Shanghai".into(),
            weekly: [
                ("mon".to_string(), strings(&["09:00-12:00", "11:00-13:00"])),
                ("tue".to_string(), strings(&["22:00-02:00"])),
                ("wed".to_string(), strings(&["9:00-12:00"])),
                ("thu".to_string(), strings(&["09:00-24:30"])),
                ("funday".to_string(), vec![]),
            ]
            .into_iter()
            .collect(),
            holidays: strings(&["2026-02-30", "2026-10-01", "2026-10-01"]),
            special_days: [("2026-10-01".to_string(), vec![])].into_iter().collect(),
        };
        let errors = bad.compile().unwrap_err();
        let msgs: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
        let has = |s: &str| msgs.iter().any(|m| m.contains(s));
        assert!(has("utc_offset \"Asia/Shanghai\""), "{msgs:?}");
        assert!(has("09:00-12:00 overlaps 11:00-13:00"), "{msgs:?}");
        assert!(has("\"22:00-02:00\" ends before it starts"), "{msgs:?}");
        assert!(has("\"9:00-12:00\" is not an interval"), "{msgs:?}");
        assert!(has("\"09:00-24:30\" is not an interval"), "{msgs:?}");
        assert!(has("unknown weekday \"funday\""), "{msgs:?}");
        assert!(has("holiday \"2026-02-30\" is not a date"), "{msgs:?}");
        assert!(has("holiday 2026-10-01 is listed twice"), "{msgs:?}");
        assert!(has("both a holiday and a special day"), "{msgs:?}");
        assert_eq!(errors.len(), 9, "{msgs:?}");
        // The offending text is given, for the KB's line lookup.
        assert!(errors.iter().any(|e| e.at == "11:00-13:00"));
        // Touching intervals and a shift to midnight are fine.
        let ok = Calendar {
            utc_offset: "-03:30".into(),
            weekly: [(
                "sun".to_string(),
                strings(&["12:00-13:00", "09:00-12:00", "20:00-24:00"]),
            )]
            .into_iter()
            .collect(),
            ..Default::default()
        };
        let h = ok.compile().unwrap();
        assert!(h.is_open(at("2026-12-06T23:59:59-03:30")));
        assert!(h.is_open(at("2026-12-06T12:00:00-03:30")));
    }

    #[test]
    fn never_open_has_no_next_open() {
        let h = Calendar {
            utc_offset: "+00:00".into(),
            ..Default::default()
        }
        .compile()
        .unwrap();
        assert!(!h.is_open(0));
        assert_eq!(h.next_open(0), None);
    }

    #[test]
    fn an_sla_clock_pauses_outside_business_hours() {
        let c: Calendar = serde_yaml::from_str(
            "utc_offset: \"+08:00\"\nweekly:\n  mon: [\"09:00-12:00\", \"13:30-18:00\"]\n  tue: [\"09:00-12:00\", \"13:30-18:00\"]\nholidays: [2026-12-15]\n",
        )
        .unwrap();
        let h = c.compile().unwrap();
        let at = |s: &str| parse_rfc3339(s).unwrap();
        // Monday 11:00 + 2 h of open time: 1 h before lunch, 1 h after → 14:30.
        assert_eq!(
            h.add_open_time(at("2026-12-07T11:00:00+08:00"), 7_200),
            Some(at("2026-12-07T14:30:00+08:00"))
        );
        // Arriving at lunch starts the clock at 13:30.
        assert_eq!(
            h.add_open_time(at("2026-12-07T12:30:00+08:00"), 3_600),
            Some(at("2026-12-07T14:30:00+08:00"))
        );
        // Monday 17:00 + 4 h: 1 h on Monday, Tuesday 09:00-12:00 → 12:00 (the end of an
        // interval is still inside it).
        assert_eq!(
            h.add_open_time(at("2026-12-07T17:00:00+08:00"), 14_400),
            Some(at("2026-12-08T12:00:00+08:00"))
        );
        // Tuesday 18:00 + 1 h: closed Wednesday to Sunday → Monday 14 Dec 10:00.
        assert_eq!(
            h.add_open_time(at("2026-12-08T18:00:00+08:00"), 3_600),
            Some(at("2026-12-14T10:00:00+08:00"))
        );
        let closed: Calendar = serde_yaml::from_str("utc_offset: \"+00:00\"\n").unwrap();
        assert_eq!(closed.compile().unwrap().add_open_time(0, 60), None);
    }

    #[test]
    fn rfc3339_round_trips() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("1970-01-01T08:00:00+08:00"), Some(0));
        assert_eq!(
            parse_rfc3339("2026-12-07T12:30:00.123456+08:00"),
            Some(1_796_617_800)
        );
        assert_eq!(
            format_rfc3339(1_796_617_800, 8 * 3600),
            "2026-12-07T12:30:00+08:00"
        );
        assert_eq!(format_rfc3339(1_796_617_800, 0), "2026-12-07T04:30:00Z");
        for bad in [
            "",
            "2026-12-07",
            "2026-12-07T12:30:00",
            "2026-12-07T25:00:00Z",
            "2026-13-07T12:00:00Z",
            "2026-12-07T12:30:00+8",
            "2026-12-07T12:30:00.Z",
            "2026-12-07T12:30:00 +08:00",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
        assert_eq!(parse_date("2024-02-29"), Some(days_from_civil(2024, 2, 29)));
        assert_eq!(parse_date("2026-02-29"), None);
    }
}
