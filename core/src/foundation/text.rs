//! Text normalisation shared by training and serving.
//!
//! NFKC folds full-width forms (`ＡＢＣ１２３`, `？`) into their ASCII counterparts so that
//! customers typing on a Chinese IME match the examples; traditional and simplified Han are
//! deliberately left as they are (a mapping table would be a product decision, not a fold).

use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfkc_quick};

/// NFKC, lowercase, and every run of whitespace collapsed to one space, trimmed.
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    let mut push = |c: char| {
        if c.is_whitespace() {
            pending_space = !out.is_empty();
        } else {
            if pending_space {
                out.push(' ');
                pending_space = false;
            }
            out.push(c);
        }
    };
    // Most messages are already in NFKC (plain ASCII, common Han): the quick check proves it
    // without running the composition machinery, which is most of this function's time.
    if is_nfkc_quick(text.chars()) == IsNormalized::Yes {
        text.chars()
            .flat_map(char::to_lowercase)
            .for_each(&mut push);
    } else {
        text.nfkc().flat_map(char::to_lowercase).for_each(&mut push);
    }
    out
}

/// True for CJK unified ideographs (the blocks real customer text uses).
pub fn is_han(c: char) -> bool {
    matches!(c as u32,
        0x4E00..=0x9FFF      // CJK Unified Ideographs
        | 0x3400..=0x4DBF    // Extension A
        | 0x20000..=0x2EBEF  // Extensions B–F
        | 0xF900..=0xFAFF    // Compatibility Ideographs
        | 0x30000..=0x3134F) // Extension G
}

/// Language of a message: `"zh"` when Han characters make up at least 30 % of its letters,
/// else `"en"`. A low share suffices because one Han character carries about a word. Digits
/// are not letters: an order number must not turn a Chinese message into an English one.
pub fn detect_language(text: &str) -> &'static str {
    let (mut han, mut letters) = (0usize, 0usize);
    for c in text.chars().filter(|c| c.is_alphabetic()) {
        letters += 1;
        if is_han(c) {
            han += 1;
        }
    }
    if letters > 0 && han * 10 >= letters * 3 {
        "zh"
    } else {
        "en"
    }
}

/// Byte offsets where `phrase` occurs in `text` as a whole word when it starts/ends with a
/// Latin letter or digit ("operator" is not in "cooperator"); Han phrases match anywhere.
pub fn phrase_positions<'a>(text: &'a str, phrase: &'a str) -> impl Iterator<Item = usize> + 'a {
    let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    occurrences(text, phrase).filter(move |&i| {
        let first = phrase.chars().next();
        let last = phrase.chars().last();
        let before = text[..i].chars().next_back();
        let after = text[i + phrase.len()..].chars().next();
        let cuts_word_before = word(first) && word(before);
        let cuts_word_after = word(last) && word(after);
        !cuts_word_before && !cuts_word_after
    })
}

/// Byte offsets of the non-overlapping occurrences of a non-empty `phrase`, leftmost first, as
/// `str::match_indices` gives them. A scan for the first byte: a policy has a few hundred short
/// phrases and a turn is short, so building a two-way searcher per phrase (what
/// `match_indices` does) cost more than the search itself. UTF-8 is self-synchronising, so a
/// byte match of valid UTF-8 always starts on a character boundary.
fn occurrences<'a>(text: &'a str, phrase: &'a str) -> impl Iterator<Item = usize> + 'a {
    let (t, p) = (text.as_bytes(), phrase.as_bytes());
    let mut from = 0;
    std::iter::from_fn(move || {
        let (&first, rest) = p.split_first()?;
        while from + p.len() <= t.len() {
            let at = from
                + t[from..=t.len() - p.len()]
                    .iter()
                    .position(|&b| b == first)?;
            if &t[at + 1..at + p.len()] == rest {
                from = at + p.len();
                return Some(at);
            }
            from = at + 1;
        }
        None
    })
}

/// Whether `phrase` occurs in `text` (as [`phrase_positions`] matches).
pub fn contains_phrase(text: &str, phrase: &str) -> bool {
    phrase_positions(text, phrase).next().is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_full_width_case_and_space() {
        assert_eq!(
            normalize("  ＡＢＣ１２３？  Hello\t\nWorld "),
            "abc123? hello world"
        );
        assert_eq!(normalize("我的　Order 还没到"), "我的 order 还没到");
    }

    #[test]
    fn keeps_traditional_han() {
        assert_eq!(normalize("訂單"), "訂單");
    }

    #[test]
    fn detects_language_by_han_share() {
        assert_eq!(detect_language("我的订单到哪了"), "zh");
        assert_eq!(detect_language("where is my order"), "en");
        assert_eq!(detect_language("我的 order 还没到"), "zh");
        assert_eq!(detect_language(""), "en");
        assert_eq!(detect_language("订单 TD20260511123456 到哪了"), "zh");
        assert_eq!(detect_language("我的订单 202605111234567 还没发货"), "zh");
    }

    #[test]
    fn occurrences_are_those_of_match_indices() {
        let texts = [
            "",
            "a",
            "aaaa",
            "转人工转人工 please 转人工",
            "i want a human, a HUMAN agent, human",
            "退款退款退 refund refunds",
            "订单号 td123 还没到 where is it",
        ];
        let phrases = [
            "a",
            "aa",
            "aaa",
            "aaaaa",
            "转人工",
            "人工转",
            "human",
            "n, a",
            "退款",
            "退",
            "refund",
            "s",
            "还没到",
            "it",
            "td123 还",
            "where is it!",
        ];
        for t in texts {
            for p in phrases {
                let want: Vec<usize> = t.match_indices(p).map(|(i, _)| i).collect();
                assert_eq!(
                    occurrences(t, p).collect::<Vec<_>>(),
                    want,
                    "{p:?} in {t:?}"
                );
            }
        }
    }
}
