//! The encoder network of USE multilingual v3, as the package's numpy backend computes it, for
//! one sentence at a time (a turn embeds one message; batching buys nothing on one core).
//!
//! Per token: the 512-d embedding from the table, projected to 3 × 256 and layer-normed; per
//! branch (windows of 2, 3 and 5 tokens starting 0, 1 and 2 before the token), two convolutions
//! with ReLU and a residual each; the embedding and the three branches side by side (1,280),
//! layer-normed. Per sentence: the sum over tokens, projected to 512, scaled by 1/√L; a small
//! feed-forward stack with skip projections, tanh, L2 normalisation.

use crate::linalg::{PackedMatrix, gemm_acc, layer_norm_rows, relu, vec_mat, vec_mat_acc};
use crate::pack::{Pack, PackError, PackInfo};
use std::ops::Range;

/// Width of the token table and of the sentence embedding.
pub const DIM: usize = 512;
const BRANCH: usize = 256;
const PROJECTED: usize = 3 * BRANCH;
const FEATURES: usize = DIM + PROJECTED;
const HIDDEN: usize = 320;
/// (window, tokens before the current one) of each convolution branch.
const BRANCHES: [(usize, usize); 3] = [(2, 0), (3, 1), (5, 2)];
/// The table stores 6-bit codes, four to three bytes.
pub const PACKED_ROW: usize = DIM / 4 * 3;

struct Branch {
    before: usize,
    /// One 256 × 256 matrix per window position.
    w1: Vec<PackedMatrix>,
    b1: Vec<f32>,
    w2: Vec<PackedMatrix>,
    b2: Vec<f32>,
}

pub struct Network {
    pack: Pack,
    info: PackInfo,
    table: Range<usize>,
    /// Table row of every piece id (pieces pruned at import share the `<unk>` row).
    rows: Vec<u32>,
    row_scale: Vec<f32>,
    row_lo: Vec<f32>,
    proj: PackedMatrix,
    proj_b: Vec<f32>,
    proj_ln: (Vec<f32>, Vec<f32>),
    branches: Vec<Branch>,
    features_ln: (Vec<f32>, Vec<f32>),
    cnn_w: PackedMatrix,
    cnn_b: Vec<f32>,
    d0: PackedMatrix,
    d1: PackedMatrix,
    p1: PackedMatrix,
    d2: PackedMatrix,
    p3: PackedMatrix,
    d3: PackedMatrix,
    eps: f32,
}

impl Network {
    pub fn from_pack(pack: Pack) -> Result<Self, PackError> {
        let raw_rows = pack.bytes("rows")?.len() / 4;
        let rows = pack.u32s("rows", raw_rows)?;
        let table = pack.range("table")?;
        let kept = table.len() / PACKED_ROW;
        if table.len() != kept * PACKED_ROW || rows.iter().any(|&r| r as usize >= kept) {
            return Err(PackError("table and rows disagree".into()));
        }
        let f = |name: &str, len: usize| pack.f32s(name, len);
        let m = |name: &str, k: usize, n: usize| Ok(PackedMatrix::new(&f(name, k * n)?, k, n));
        let per_position = |name: &str, window: usize| -> Result<Vec<PackedMatrix>, PackError> {
            let all = f(name, window * BRANCH * BRANCH)?;
            Ok(all
                .chunks_exact(BRANCH * BRANCH)
                .map(|w| PackedMatrix::new(w, BRANCH, BRANCH))
                .collect())
        };
        let mut branches = Vec::new();
        for (window, before) in BRANCHES {
            branches.push(Branch {
                before,
                w1: per_position(&format!("w1_{window}"), window)?,
                b1: f(&format!("b1_{window}"), BRANCH)?,
                w2: per_position(&format!("w2_{window}"), window)?,
                b2: f(&format!("b2_{window}"), BRANCH)?,
            });
        }
        Ok(Self {
            info: pack.info()?,
            row_scale: f("row_scale", kept)?,
            row_lo: f("row_lo", kept)?,
            proj: m("proj", DIM, PROJECTED)?,
            proj_b: f("proj_b", PROJECTED)?,
            proj_ln: (f("proj_ln_g", PROJECTED)?, f("proj_ln_b", PROJECTED)?),
            branches,
            features_ln: (f("ln_g", FEATURES)?, f("ln_b", FEATURES)?),
            cnn_w: m("cnn_W", FEATURES, DIM)?,
            cnn_b: f("cnn_b", DIM)?,
            d0: m("d0", DIM, HIDDEN)?,
            d1: m("d1", HIDDEN, HIDDEN)?,
            p1: m("p1", DIM, HIDDEN)?,
            d2: m("d2", HIDDEN, DIM)?,
            p3: m("p3", HIDDEN, DIM)?,
            d3: m("d3", DIM, DIM)?,
            eps: f("eps", 1)?[0],
            rows,
            table,
            pack,
        })
    }

    pub fn info(&self) -> &PackInfo {
        &self.info
    }

    /// Whether piece `id` has its own table row (pieces pruned at import share `<unk>`'s).
    pub fn has_own_row(&self, id: u32) -> bool {
        id == 0 || self.rows.get(id as usize).is_some_and(|&row| row != 0)
    }

    /// Writes the dequantised table row of piece `id` into `out`.
    fn embedding(&self, id: u32, out: &mut [f32]) {
        let row = self.rows.get(id as usize).copied().unwrap_or(0) as usize;
        let start = self.table.start + row * PACKED_ROW;
        let packed = &self.pack.all_bytes()[start..start + PACKED_ROW];
        let (scale, lo) = (self.row_scale[row], self.row_lo[row]);
        for (three, four) in packed.chunks_exact(3).zip(out.chunks_exact_mut(4)) {
            let bits = three[0] as u32 | (three[1] as u32) << 8 | (three[2] as u32) << 16;
            for (slot, value) in four.iter_mut().enumerate() {
                *value = ((bits >> (6 * slot)) & 63) as f32 * scale + lo;
            }
        }
    }

    /// The sentence embedding of token ids (with `<s>`/`</s>`, as the tokenizer gives them).
    pub fn forward(&self, ids: &[u32]) -> [f32; DIM] {
        let tokens = ids.len().max(1);
        let mut features = vec![0.0f32; tokens * FEATURES];
        let mut embeddings = vec![0.0f32; tokens * DIM];
        for (t, &id) in ids.iter().enumerate() {
            self.embedding(id, &mut embeddings[t * DIM..(t + 1) * DIM]);
        }
        let mut projected: Vec<f32> = self.proj_b.repeat(tokens);
        gemm_acc(&embeddings, &self.proj, &mut projected);
        layer_norm_rows(&mut projected, &self.proj_ln.0, &self.proj_ln.1, self.eps);

        for (b, branch) in self.branches.iter().enumerate() {
            let input: Vec<f32> = projected
                .chunks_exact(PROJECTED)
                .flat_map(|row| &row[b * BRANCH..(b + 1) * BRANCH])
                .copied()
                .collect();
            let hidden = residual_conv(branch.before, &input, &branch.w1, &branch.b1, tokens);
            let output = residual_conv(branch.before, &hidden, &branch.w2, &branch.b2, tokens);
            for (t, row) in output.chunks_exact(BRANCH).enumerate() {
                let at = t * FEATURES + DIM + b * BRANCH;
                features[at..at + BRANCH].copy_from_slice(row);
            }
        }
        for (t, row) in embeddings.chunks_exact(DIM).enumerate() {
            features[t * FEATURES..t * FEATURES + DIM].copy_from_slice(row);
        }
        layer_norm_rows(
            &mut features,
            &self.features_ln.0,
            &self.features_ln.1,
            self.eps,
        );

        // The token sum commutes with the linear projection: sum first, project once.
        let mut sum = vec![0.0f32; FEATURES];
        for row in features.chunks_exact(FEATURES) {
            sum.iter_mut().zip(row).for_each(|(s, v)| *s += v);
        }
        let mut mean = vec_mat(&sum, &self.cnn_w);
        let scale = 1.0 / (tokens as f32).sqrt();
        for (m, b) in mean.iter_mut().zip(&self.cnn_b) {
            *m = (*m + tokens as f32 * b) * scale;
        }

        let mut y0 = vec_mat(&mean, &self.d0);
        relu(&mut y0);
        let mut y1 = vec_mat(&mean, &self.p1);
        vec_mat_acc(&y0, &self.d1, &mut y1);
        relu(&mut y1);
        let mut y2 = vec_mat(&y1, &self.d2);
        relu(&mut y2);
        let mut z = vec_mat(&y1, &self.p3);
        vec_mat_acc(&y2, &self.d3, &mut z);
        z.iter_mut().for_each(|v| *v = v.tanh());
        let norm = z.iter().map(|v| v * v).sum::<f32>().max(self.eps).sqrt();
        let mut out = [0.0f32; DIM];
        for (o, v) in out.iter_mut().zip(&z) {
            *o = v / norm;
        }
        out
    }
}

/// One convolution of a branch over `input` (tokens × 256), zero-padded at the sentence's
/// ends, then ReLU and the residual: `relu(conv(input) + bias) + input`. Window position
/// `offset` of output token t reads input token t − before + offset, where that exists.
fn residual_conv(
    before: usize,
    input: &[f32],
    weights: &[PackedMatrix],
    bias: &[f32],
    tokens: usize,
) -> Vec<f32> {
    let mut out: Vec<f32> = bias.repeat(tokens);
    for (offset, w) in weights.iter().enumerate() {
        let shift = offset as isize - before as isize;
        let first = (-shift).max(0) as usize;
        let last = (tokens as isize - shift).min(tokens as isize).max(0) as usize;
        if first >= last {
            continue;
        }
        let from = (first as isize + shift) as usize;
        gemm_acc(
            &input[from * BRANCH..(from + last - first) * BRANCH],
            w,
            &mut out[first * BRANCH..last * BRANCH],
        );
    }
    relu(&mut out);
    out.iter_mut().zip(input).for_each(|(o, x)| *o += x);
    out
}
