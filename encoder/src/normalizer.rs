//! SentencePiece's `nmt_nfkc` normaliser, driven by the precompiled charsmap in the model: a
//! darts-clone double-array trie of byte strings and a table of NUL-terminated replacements.
//! Ported from the package's `pure_tokenizer.py` (`_Normalizer`), which walks the trie as
//! SentencePiece's `Normalizer::NormalizePrefix` does; whitespace handling follows it too
//! (dummy prefix, spaces escaped as U+2581, runs of spaces collapsed, ends trimmed).

/// The escaped space, `▁`.
pub const SPACE: &str = "\u{2581}";

pub struct Normalizer {
    /// Double-array units (empty when the model has no charsmap).
    units: Vec<u32>,
    /// Replacement strings, each ending in NUL, addressed by the trie's leaf values.
    replacements: Vec<u8>,
}

impl Normalizer {
    /// Reads a precompiled charsmap: `u32` trie size in bytes, the trie, the replacements.
    pub fn from_charsmap(charsmap: &[u8]) -> Self {
        if charsmap.len() < 4 {
            return Self {
                units: Vec::new(),
                replacements: Vec::new(),
            };
        }
        let trie_size = u32::from_le_bytes(charsmap[..4].try_into().unwrap()) as usize;
        let trie_end = (4 + trie_size).min(charsmap.len());
        let units = charsmap[4..trie_end]
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        Self {
            units,
            replacements: charsmap[trie_end..].to_vec(),
        }
    }

    fn offset(unit: u32) -> usize {
        ((unit >> 10) << ((unit & 0x200) >> 6)) as usize
    }

    /// The longest charsmap key at `data[pos..]`: its replacement and how many bytes it covers;
    /// failing that, the one UTF-8 character there, unchanged.
    fn normalize_prefix<'a>(&'a self, data: &'a [u8], pos: usize) -> (&'a [u8], usize) {
        let mut best_len = 0;
        let mut best_value = 0usize;
        if let Some(&root) = self.units.first() {
            let mut node = Self::offset(root);
            let mut i = pos;
            while i < data.len() {
                let c = data[i] as usize;
                node ^= c;
                let Some(&unit) = self.units.get(node) else {
                    break;
                };
                if (unit & 0x8000_00FF) as usize != c {
                    break;
                }
                node ^= Self::offset(unit);
                i += 1;
                if unit & 0x100 != 0 {
                    let Some(&leaf) = self.units.get(node) else {
                        break;
                    };
                    best_len = i - pos;
                    best_value = (leaf & 0x7FFF_FFFF) as usize;
                }
            }
        }
        if best_len > 0 && best_value < self.replacements.len() {
            let rest = &self.replacements[best_value..];
            let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
            return (&rest[..end], best_len);
        }
        let len = utf8_char_len(&data[pos..]);
        (&data[pos..pos + len], len)
    }

    /// Normalises `text` as the tokenizer sees it: `"  Hello  World "` → `"▁Hello▁World"`.
    pub fn normalize(&self, text: &str) -> String {
        let raw = text.as_bytes();
        let mut pos = 0;
        // Leading characters that normalise to a single space are dropped.
        while pos < raw.len() {
            let (piece, advance) = self.normalize_prefix(raw, pos);
            if piece != b" " {
                break;
            }
            pos += advance;
        }
        if pos >= raw.len() {
            return String::new();
        }
        let mut out: Vec<u8> = SPACE.as_bytes().to_vec();
        let mut previous_was_space = true;
        while pos < raw.len() {
            let (mut piece, advance) = self.normalize_prefix(raw, pos);
            pos += advance;
            if previous_was_space {
                while let [b' ', rest @ ..] = piece {
                    piece = rest;
                }
            }
            if piece.is_empty() {
                continue;
            }
            if piece.contains(&b' ') {
                for &byte in piece {
                    if byte == b' ' {
                        out.extend(SPACE.as_bytes());
                    } else {
                        out.push(byte);
                    }
                }
                previous_was_space = piece.last() == Some(&b' ');
            } else {
                out.extend(piece);
                previous_was_space = false;
            }
        }
        while out.ends_with(SPACE.as_bytes()) {
            out.truncate(out.len() - SPACE.len());
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

/// Length of the UTF-8 character starting `data` (1 for a stray byte, as the reference does).
fn utf8_char_len(data: &[u8]) -> usize {
    let first = data[0];
    let len = match first {
        0x00..=0x7F => 1,
        _ if first >> 5 == 0b110 => 2,
        _ if first >> 4 == 0b1110 => 3,
        _ if first >> 3 == 0b11110 => 4,
        _ => 1,
    };
    if len > data.len() || data[1..len].iter().any(|&b| b & 0xC0 != 0x80) {
        return 1;
    }
    len
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_charsmap_only_whitespace_is_handled() {
        let n = Normalizer::from_charsmap(&[]);
        assert_eq!(n.normalize("  Hello   World "), "▁Hello▁World");
        assert_eq!(n.normalize("   "), "");
        assert_eq!(n.normalize("退款"), "▁退款");
    }
}
