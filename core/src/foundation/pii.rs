//! Personal data in free text: found and masked before anything is stored.
//!
//! Shared by every component that keeps customer text (feedback comments, ticket transcripts),
//! so a phone number is masked the same way wherever it lands. Four kinds, the ones a Chinese and
//! English e-commerce support desk actually sees:
//!
//! | kind | recognised | masked as |
//! |---|---|---|
//! | `phone` | mainland-China mobile `1[3-9]` + 9 digits, optional `+86`/`86`, `3-4-4` groups | `138****5678` |
//! | `email` | `local@domain.tld` (ASCII) | `z***@example.com` |
//! | `id_card` | 18-character resident ID, ISO 7064 MOD 11-2 check character | `110***********123X` |
//! | `bank_card` | 12–19 digits (groups of 4 allowed), Luhn-valid | `************1234` |
//!
//! Rules that keep it honest:
//! - Digits glued to ASCII letters are part of an identifier (`TD2026112612345`, `SKU1381234`),
//!   never personal data: order numbers stay readable for agents.
//! - Digits glued to more digits are not a phone number: only whole runs are judged, so a phone
//!   number is never found inside a longer number.
//! - ID and card numbers must pass their check digit: a random 18-digit number is left alone.
//! - Chinese characters are word boundaries (`手机13812345678谢谢` masks the number).
//! - Full-width digits (`１３８...`) count as digits.
//!
//! Deterministic: the same text always gives the same output; no randomness, no salt.

use serde::Serialize;

/// A kind of personal data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PiiKind {
    /// A mainland-China mobile number (`phone`).
    Phone,
    /// An email address (`email`).
    Email,
    /// An 18-character resident ID number (`id_card`).
    IdCard,
    /// A Luhn-valid bank card number (`bank_card`).
    BankCard,
}

impl PiiKind {
    /// The entity kind name used in APIs (`phone`, `email`, `id_card`, `bank_card`).
    pub fn as_str(self) -> &'static str {
        match self {
            PiiKind::Phone => "phone",
            PiiKind::Email => "email",
            PiiKind::IdCard => "id_card",
            PiiKind::BankCard => "bank_card",
        }
    }
}

/// One piece of personal data found in a text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PiiMatch {
    /// Which kind of personal data it is.
    pub kind: PiiKind,
    /// Byte range in the original text.
    pub start: usize,
    /// End of the byte range, exclusive.
    pub end: usize,
    /// What replaces it.
    pub masked: String,
}

/// The text with every match replaced by its mask.
pub fn mask(text: &str) -> String {
    let found = find(text);
    if found.is_empty() {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for m in &found {
        out.push_str(&text[at..m.start]);
        out.push_str(&m.masked);
        at = m.end;
    }
    out.push_str(&text[at..]);
    out
}

/// Every piece of personal data in `text`, in order, non-overlapping.
pub fn find(text: &str) -> Vec<PiiMatch> {
    let mut found = find_emails(text);
    // Digits inside an e-mail address (`13812345678@163.com`) belong to the address.
    let digits: Vec<PiiMatch> = find_numbers(text)
        .into_iter()
        .filter(|d| !found.iter().any(|e| d.start < e.end && e.start < d.end))
        .collect();
    found.extend(digits);
    found.sort_by_key(|m| m.start);
    found
}

fn is_local_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '%' | '+' | '-')
}

fn is_domain_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '-')
}

fn find_emails(text: &str) -> Vec<PiiMatch> {
    let mut out = Vec::new();
    let mut search_from = 0;
    while let Some(rel) = text[search_from..].find('@') {
        let at = search_from + rel;
        search_from = at + 1;
        // Local part: ASCII run to the left, not starting or ending with a dot.
        let start = text[..at]
            .char_indices()
            .rev()
            .take_while(|(_, c)| is_local_char(*c))
            .last()
            .map_or(at, |(i, _)| i);
        let local = text[start..at].trim_start_matches('.');
        let start = at - local.len();
        if local.is_empty() || local.ends_with('.') {
            continue;
        }
        // Domain: ASCII run to the right; a sentence's final dot is not part of it.
        let rest = &text[at + 1..];
        let len = rest
            .char_indices()
            .find(|(_, c)| !is_domain_char(*c))
            .map_or(rest.len(), |(i, _)| i);
        let domain = rest[..len].trim_end_matches(['.', '-']);
        let labels: Vec<&str> = domain.split('.').collect();
        let tld = labels.last().copied().unwrap_or("");
        let valid = labels.len() >= 2
            && labels
                .iter()
                .all(|l| !l.is_empty() && !l.starts_with('-') && !l.ends_with('-'))
            && tld.len() >= 2
            && tld.chars().all(|c| c.is_ascii_alphabetic());
        if !valid {
            continue;
        }
        let end = at + 1 + domain.len();
        let first = local.chars().next().expect("local is not empty");
        out.push(PiiMatch {
            kind: PiiKind::Email,
            start,
            end,
            masked: format!("{first}***@{domain}"),
        });
        search_from = end;
    }
    out
}

/// ASCII or full-width digit value.
fn digit(c: char) -> Option<u8> {
    match c {
        '0'..='9' => Some(c as u8 - b'0'),
        '０'..='９' => Some((c as u32 - '０' as u32) as u8),
        _ => None,
    }
}

/// A maximal run of digits.
#[derive(Debug, Clone)]
struct Segment {
    start: usize,
    end: usize,
    digits: Vec<u8>,
    /// An ID number's check character `X`/`x` directly after the digits (included in `end`).
    check_x: bool,
}

fn find_numbers(text: &str) -> Vec<PiiMatch> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let byte_end = |i: usize| chars.get(i).map_or(text.len(), |(b, _)| *b);
    // 1. Maximal digit runs (with an optional trailing X), dropping those glued to ASCII letters.
    let mut segments: Vec<Segment> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if digit(chars[i].1).is_none() {
            i += 1;
            continue;
        }
        let first = i;
        let mut digits = Vec::new();
        while i < chars.len()
            && let Some(d) = digit(chars[i].1)
        {
            digits.push(d);
            i += 1;
        }
        let mut check_x = false;
        // 17 digits + X is a whole ID; 3 digits + X the last group of a spaced-out one.
        if matches!(digits.len(), 17 | 3)
            && i < chars.len()
            && matches!(chars[i].1, 'X' | 'x')
            && !chars
                .get(i + 1)
                .is_some_and(|(_, c)| c.is_ascii_alphanumeric())
        {
            check_x = true;
            i += 1;
        }
        let glued_before = first > 0 && chars[first - 1].1.is_ascii_alphabetic();
        let glued_after = chars.get(i).is_some_and(|(_, c)| c.is_ascii_alphabetic());
        if !glued_before && !glued_after {
            segments.push(Segment {
                start: chars[first].0,
                end: byte_end(i),
                digits,
                check_x,
            });
        } else {
            // Mark the run as taken so it cannot be grouped with its neighbours.
            segments.push(Segment {
                start: chars[first].0,
                end: byte_end(i),
                digits: Vec::new(),
                check_x: false,
            });
        }
    }

    // 2. Groups: segments separated by exactly one space or hyphen, judged as one number when
    //    their grouping is one people write (`138 1234 5678`, `6222 0212 3456 7890`).
    let mut out = Vec::new();
    let mut s = 0;
    while s < segments.len() {
        let mut e = s;
        while e + 1 < segments.len()
            && !segments[e].digits.is_empty()
            && !segments[e + 1].digits.is_empty()
            && !segments[e].check_x
            && matches!(&text[segments[e].end..segments[e + 1].start], " " | "-")
        {
            e += 1;
        }
        let group = &segments[s..=e];
        if group.len() > 1
            && let Some(m) = judge_group(text, group)
        {
            out.push(m);
        } else {
            out.extend(group.iter().filter_map(|seg| judge(text, seg)));
        }
        s = e + 1;
    }
    out
}

/// A group of segments as one number, if its grouping fits the kind it would be.
fn judge_group(text: &str, group: &[Segment]) -> Option<PiiMatch> {
    let check_x = group[group.len() - 1].check_x;
    // The check character X counts as the group's last character.
    let lens: Vec<usize> = group
        .iter()
        .map(|g| g.digits.len() + usize::from(g.check_x))
        .collect();
    let digits: Vec<u8> = group.iter().flat_map(|g| g.digits.clone()).collect();
    if check_x && !matches!(lens.as_slice(), [6, 8, 4] | [6, 4, 4, 4]) {
        return None;
    }
    let (start, end) = (group[0].start, group[group.len() - 1].end);
    let prefix = phone_prefix(text, start);
    let kind = match lens.as_slice() {
        [3, 4, 4] if is_mobile(&digits) => PiiKind::Phone,
        [2, 3, 4, 4] if digits[..2] == [8, 6] && is_mobile(&digits[2..]) => PiiKind::Phone,
        [6, 8, 4] | [6, 4, 4, 4] if is_resident_id(&digits, check_x) => PiiKind::IdCard,
        _ if lens.len() >= 3
            && lens[..lens.len() - 1].iter().all(|&l| l == 4)
            && (1..=4).contains(&lens[lens.len() - 1])
            && (12..=19).contains(&digits.len())
            && luhn(&digits) =>
        {
            PiiKind::BankCard
        }
        _ => return None,
    };
    let start = if kind == PiiKind::Phone && digits.len() == 13 {
        start - prefix
    } else {
        start
    };
    Some(PiiMatch {
        kind,
        start,
        end,
        masked: mask_digits(kind, &digits, check_x),
    })
}

/// One digit run on its own.
fn judge(text: &str, seg: &Segment) -> Option<PiiMatch> {
    let d = &seg.digits;
    let (kind, digits) = if d.len() == 18 || (d.len() == 17 && seg.check_x) {
        if is_resident_id(d, seg.check_x) {
            (PiiKind::IdCard, d.as_slice())
        } else if d.len() == 18 && luhn(d) {
            (PiiKind::BankCard, d.as_slice())
        } else {
            return None;
        }
    } else if is_mobile(d) || (d.len() == 13 && d[..2] == [8, 6] && is_mobile(&d[2..])) {
        (PiiKind::Phone, d.as_slice())
    } else if (12..=19).contains(&d.len()) && luhn(d) {
        (PiiKind::BankCard, d.as_slice())
    } else {
        return None;
    };
    let start = if kind == PiiKind::Phone && digits.len() == 13 {
        seg.start - phone_prefix(text, seg.start)
    } else {
        seg.start
    };
    Some(PiiMatch {
        kind,
        start,
        end: seg.end,
        masked: mask_digits(kind, digits, seg.check_x),
    })
}

/// Bytes of a `+` directly before a phone number that carries its country code (`+86...`):
/// the mask writes `+86 ` itself. A `+86 ` written apart stays as it is, outside the match.
fn phone_prefix(text: &str, start: usize) -> usize {
    let before = &text[..start];
    if before.ends_with('+') || before.ends_with('＋') {
        before.chars().last().map_or(0, char::len_utf8)
    } else {
        0
    }
}

/// `1[3-9]` followed by 9 more digits.
fn is_mobile(d: &[u8]) -> bool {
    d.len() == 11 && d[0] == 1 && (3..=9).contains(&d[1])
}

/// GB 11643: 17 digits with a plausible birth date, then the MOD 11-2 check character.
fn is_resident_id(d: &[u8], check_x: bool) -> bool {
    let body = &d[..17.min(d.len())];
    if body.len() != 17 {
        return false;
    }
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: [u8; 11] = [1, 0, 10, 9, 8, 7, 6, 5, 4, 3, 2]; // 10 stands for X
    let sum: u32 = body
        .iter()
        .zip(WEIGHTS)
        .map(|(&x, w)| u32::from(x) * w)
        .sum();
    let expected = CHECK[(sum % 11) as usize];
    let actual = if check_x {
        10
    } else if d.len() == 18 {
        d[17]
    } else {
        return false;
    };
    let num = |r: std::ops::Range<usize>| body[r].iter().fold(0u32, |n, &x| n * 10 + u32::from(x));
    let (year, month, day) = (num(6..10), num(10..12), num(12..14));
    expected == actual
        && (1900..=2099).contains(&year)
        && (1..=12).contains(&month)
        && (1..=31).contains(&day)
}

/// The Luhn checksum of card numbers.
fn luhn(d: &[u8]) -> bool {
    let sum: u32 = d
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &x)| {
            let x = u32::from(x);
            if i % 2 == 1 {
                let y = x * 2;
                if y > 9 { y - 9 } else { y }
            } else {
                x
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

fn mask_digits(kind: PiiKind, d: &[u8], check_x: bool) -> String {
    let s: String = d.iter().map(|x| char::from(b'0' + x)).collect();
    let stars = |n: usize| "*".repeat(n);
    match kind {
        // Country code and the first three (the carrier) stay: agents recognise a number's shape.
        PiiKind::Phone => {
            let (cc, local) = s.split_at(s.len() - 11);
            let cc = if cc.is_empty() {
                String::new()
            } else {
                format!("+{cc} ")
            };
            format!("{cc}{}{}{}", &local[..3], stars(4), &local[7..])
        }
        PiiKind::IdCard => {
            let full = if check_x { format!("{s}X") } else { s };
            format!("{}{}{}", &full[..3], stars(11), &full[14..])
        }
        PiiKind::BankCard => format!("{}{}", stars(s.len() - 4), &s[s.len() - 4..]),
        PiiKind::Email => unreachable!("e-mails are masked in find_emails"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Valid test numbers: 11010519491231002X is the textbook GB 11643 example;
    // 4111111111111111 and 6222021234567890128 pass Luhn.
    const ID_X: &str = "11010519491231002X";
    const ID_DIGIT: &str = "440308199901010012";

    fn kinds(text: &str) -> Vec<&'static str> {
        find(text).iter().map(|m| m.kind.as_str()).collect()
    }

    #[test]
    fn test_numbers_are_valid() {
        let d = |s: &str| s.chars().filter_map(digit).collect::<Vec<_>>();
        assert!(is_resident_id(&d(&ID_X[..17]), true));
        assert!(is_resident_id(&d(ID_DIGIT), false));
        assert!(luhn(&d("4111111111111111")));
        assert!(luhn(&d("6222021234567890128")));
        assert!(!luhn(&d("4111111111111112")));
    }

    #[test]
    fn masks_mobile_numbers_in_chinese_english_and_mixed_text() {
        assert_eq!(mask("我的手机13812345678谢谢"), "我的手机138****5678谢谢");
        assert_eq!(mask("call me at 13812345678."), "call me at 138****5678.");
        assert_eq!(mask("电话 138 1234 5678 please"), "电话 138****5678 please");
        assert_eq!(mask("tel: 138-1234-5678"), "tel: 138****5678");
        assert_eq!(mask("+8613812345678"), "+86 138****5678");
        assert_eq!(mask("+86 13812345678"), "+86 138****5678");
        assert_eq!(mask("全角１３８１２３４５６７８"), "全角138****5678");
    }

    #[test]
    fn leaves_numbers_that_are_not_phones_alone() {
        // Not a mobile prefix, too short, too long, part of an identifier.
        for text in [
            "12812345678",
            "1381234567",
            "138123456789",
            "订单TD2026112612345到哪了",
            "SKU13812345678",
            "13812345678abc",
            "订单 2026112612345",
            "价格 199 元，共 3 件",
        ] {
            assert_eq!(mask(text), text, "{text}");
        }
    }

    #[test]
    fn masks_emails() {
        assert_eq!(
            mask("邮箱zhang.san@example.com谢谢"),
            "邮箱z***@example.com谢谢"
        );
        assert_eq!(
            mask("mail me: Bob+shop@mail.qq.com."),
            "mail me: B***@mail.qq.com."
        );
        assert_eq!(mask("13812345678@163.com"), "1***@163.com");
        for text in [
            "a@b",
            "@example.com",
            "x@localhost",
            "me@ex.c0m",
            "价格@30元",
        ] {
            assert_eq!(mask(text), text, "{text}");
        }
    }

    #[test]
    fn masks_resident_ids_only_with_a_valid_check_character() {
        assert_eq!(
            mask(&format!("身份证号{ID_X}")),
            "身份证号110***********002X"
        );
        assert_eq!(
            mask(&format!("ID {ID_DIGIT} ok")),
            "ID 440***********0012 ok"
        );
        assert_eq!(
            mask("身份证 110105 19491231 002x"),
            "身份证 110***********002X"
        );
        // One digit changed: the check fails and it is not a card either.
        let wrong = "110105194912310021";
        assert!(kinds(wrong).is_empty(), "{:?}", find(wrong));
    }

    #[test]
    fn masks_bank_cards_only_when_luhn_valid() {
        assert_eq!(mask("卡号4111111111111111"), "卡号************1111");
        assert_eq!(
            mask("card 4111 1111 1111 1111 thanks"),
            "card ************1111 thanks"
        );
        assert_eq!(mask("6222021234567890128"), "***************0128");
        assert!(kinds("4111111111111112").is_empty());
        assert!(kinds("4111 1111 1111 1112").is_empty());
    }

    #[test]
    fn finds_several_kinds_in_order_with_byte_offsets() {
        let text = "张三 13812345678, a@example.com, 卡 4111111111111111";
        let found = find(text);
        assert_eq!(kinds(text), ["phone", "email", "bank_card"]);
        for m in &found {
            assert!(text.is_char_boundary(m.start) && text.is_char_boundary(m.end));
        }
        assert_eq!(&text[found[0].start..found[0].end], "13812345678");
        assert_eq!(
            mask(text),
            "张三 138****5678, a***@example.com, 卡 ************1111"
        );
    }

    #[test]
    fn separated_numbers_are_judged_one_by_one_when_the_grouping_is_not_a_known_format() {
        // A phone followed by an unrelated count: the phone is found, the count left alone.
        assert_eq!(mask("13812345678 2 次"), "138****5678 2 次");
        assert_eq!(mask("2026-11-26"), "2026-11-26");
    }

    #[test]
    fn masking_is_deterministic_and_idempotent() {
        let text = "mixed 文本 13812345678 和 4111111111111111 and x@y.cn";
        let once = mask(text);
        assert_eq!(mask(text), once);
        assert_eq!(mask(&once), once, "masked output has no personal data left");
    }

    #[test]
    fn text_without_digits_or_at_signs_is_returned_unchanged() {
        for text in ["", "你好", "where is my refund", "我的 order 还没到"] {
            assert_eq!(mask(text), text);
        }
    }
}
