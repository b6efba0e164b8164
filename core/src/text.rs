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
}
