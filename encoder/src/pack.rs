//! The encoder's one file: named sections of little-endian bytes behind a magic number.
//!
//! `kb-loader import-encoder` writes it with [`PackWriter`]; [`Pack`] reads it back without
//! copying the token table. The layout is deliberately dull (no compression, no alignment
//! tricks) so that the same wheel always gives the same bytes and a reader is a screen long.
//!
//! ```text
//! "TNDMENC1"  u32 section count
//! per section: u8 name length, name (UTF-8), u32 byte length, bytes
//! ```

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

const MAGIC: &[u8; 8] = b"TNDMENC1";

/// What went wrong reading a pack; says which section so that a rebuild can be targeted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackError(pub String);

impl fmt::Display for PackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "encoder pack: {} (rebuild it with `kb-loader import-encoder`)",
            self.0
        )
    }
}

impl std::error::Error for PackError {}

fn err<T>(message: impl Into<String>) -> Result<T, PackError> {
    Err(PackError(message.into()))
}

/// A parsed pack: the bytes and where each section lies in them.
pub struct Pack {
    bytes: Cow<'static, [u8]>,
    sections: Vec<(String, Range<usize>)>,
}

/// The `info` section: where the weights came from and what was kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackInfo {
    pub entries: Vec<(String, String)>,
}

impl PackInfo {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn parse(text: &str) -> Self {
        let entries = text
            .lines()
            .filter_map(|line| line.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Self { entries }
    }

    fn render(&self) -> String {
        self.entries
            .iter()
            .map(|(k, v)| format!("{k}={v}\n"))
            .collect()
    }
}

impl Pack {
    /// Parses a pack held for the life of the program (`include_bytes!` in a component).
    pub fn from_static(bytes: &'static [u8]) -> Result<Self, PackError> {
        Self::parse(Cow::Borrowed(bytes))
    }

    /// Parses a pack read from a file.
    pub fn from_vec(bytes: Vec<u8>) -> Result<Self, PackError> {
        Self::parse(Cow::Owned(bytes))
    }

    fn parse(bytes: Cow<'static, [u8]>) -> Result<Self, PackError> {
        if bytes.len() < 12 || &bytes[..8] != MAGIC {
            return err("not an encoder pack (bad magic)");
        }
        let count = u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize;
        let mut at = 12;
        let mut sections = Vec::with_capacity(count);
        for _ in 0..count {
            let name_len = *bytes.get(at).ok_or_else(|| PackError("truncated".into()))? as usize;
            let name = bytes
                .get(at + 1..at + 1 + name_len)
                .and_then(|n| std::str::from_utf8(n).ok())
                .ok_or_else(|| PackError("bad section name".into()))?
                .to_string();
            at += 1 + name_len;
            let len = bytes
                .get(at..at + 4)
                .map(|b| u32::from_le_bytes(b.try_into().unwrap()) as usize)
                .ok_or_else(|| PackError(format!("truncated at section {name}")))?;
            at += 4;
            if at + len > bytes.len() {
                return err(format!("section {name} runs past the end"));
            }
            sections.push((name, at..at + len));
            at += len;
        }
        Ok(Self { bytes, sections })
    }

    /// The raw bytes of a section.
    pub fn bytes(&self, name: &str) -> Result<&[u8], PackError> {
        Ok(&self.bytes[self.range(name)?])
    }

    /// Where a section lies in [`Pack::all_bytes`] (for readers that keep the pack).
    pub fn range(&self, name: &str) -> Result<Range<usize>, PackError> {
        self.sections
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, r)| r.clone())
            .ok_or_else(|| PackError(format!("missing section {name}")))
    }

    pub fn all_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// A section of little-endian `f32`s, checked to hold `expected` of them.
    pub fn f32s(&self, name: &str, expected: usize) -> Result<Vec<f32>, PackError> {
        self.words(name, expected, f32::from_le_bytes)
    }

    /// A section of little-endian `u32`s, checked to hold `expected` of them.
    pub fn u32s(&self, name: &str, expected: usize) -> Result<Vec<u32>, PackError> {
        self.words(name, expected, u32::from_le_bytes)
    }

    fn words<T>(
        &self,
        name: &str,
        count: usize,
        decode: fn([u8; 4]) -> T,
    ) -> Result<Vec<T>, PackError> {
        let raw = self.bytes(name)?;
        if raw.len() != count * 4 {
            return err(format!(
                "section {name} holds {} bytes, expected {}",
                raw.len(),
                count * 4
            ));
        }
        Ok(raw
            .chunks_exact(4)
            .map(|c| decode(c.try_into().unwrap()))
            .collect())
    }

    /// The `info` section.
    pub fn info(&self) -> Result<PackInfo, PackError> {
        let text = std::str::from_utf8(self.bytes("info")?)
            .map_err(|_| PackError("info is not UTF-8".into()))?;
        Ok(PackInfo::parse(text))
    }
}

/// Builds a pack, section by section, in the order they are added.
#[derive(Default)]
pub struct PackWriter {
    sections: Vec<(String, Vec<u8>)>,
}

impl PackWriter {
    pub fn bytes(&mut self, name: &str, data: Vec<u8>) -> &mut Self {
        assert!(name.len() < 256, "section names are short");
        self.sections.push((name.to_string(), data));
        self
    }

    pub fn f32s(&mut self, name: &str, data: &[f32]) -> &mut Self {
        self.bytes(name, data.iter().flat_map(|v| v.to_le_bytes()).collect())
    }

    pub fn u32s(&mut self, name: &str, data: &[u32]) -> &mut Self {
        self.bytes(name, data.iter().flat_map(|v| v.to_le_bytes()).collect())
    }

    pub fn info(&mut self, info: &PackInfo) -> &mut Self {
        self.bytes("info", info.render().into_bytes())
    }

    pub fn finish(&self) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend((self.sections.len() as u32).to_le_bytes());
        for (name, data) in &self.sections {
            out.push(name.len() as u8);
            out.extend(name.as_bytes());
            out.extend((data.len() as u32).to_le_bytes());
            out.extend(data);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_round_trip() {
        let mut w = PackWriter::default();
        w.f32s("a", &[1.5, -2.0])
            .u32s("b", &[7])
            .bytes("c", vec![1, 2, 3]);
        w.info(&PackInfo {
            entries: vec![("source".into(), "x".into())],
        });
        let pack = Pack::from_vec(w.finish()).unwrap();
        assert_eq!(pack.f32s("a", 2).unwrap(), vec![1.5, -2.0]);
        assert_eq!(pack.u32s("b", 1).unwrap(), vec![7]);
        assert_eq!(pack.bytes("c").unwrap(), &[1, 2, 3]);
        assert_eq!(pack.info().unwrap().get("source"), Some("x"));
        assert!(pack.f32s("a", 3).is_err());
        assert!(pack.bytes("missing").is_err());
    }

    #[test]
    fn garbage_is_refused_not_a_panic() {
        assert!(Pack::from_vec(b"nope".to_vec()).is_err());
        let mut bad = MAGIC.to_vec();
        bad.extend(3u32.to_le_bytes());
        bad.extend([1, b'a', 255, 255, 0, 0]);
        assert!(Pack::from_vec(bad).is_err());
    }
}
