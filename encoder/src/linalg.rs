//! The few dense kernels the network needs, written so that the compiler vectorises the inner
//! loop (native SSE/AVX, wasm `simd128`): rows of the output are updated by whole rows of the
//! weight matrix, four input rows at a time so each weight row is loaded once per four tokens.

/// Output columns one band of weights covers: sixteen `f32`, two 256-bit vectors (AVX) or four
/// 128-bit ones (wasm `simd128`).
const BAND: usize = 16;

/// A k × n weight matrix stored band by band: for each band of sixteen output columns, its k
/// rows of sixteen floats one after another, so the kernel reads every weight once per call and
/// in order (the network's 13.6 MB of weights do not stay in cache between sentences).
#[derive(Clone, Debug, PartialEq)]
pub struct PackedMatrix {
    k: usize,
    n: usize,
    bands: Vec<f32>,
}

impl PackedMatrix {
    /// Packs a row-major k × n matrix; n must be a multiple of sixteen.
    pub fn new(row_major: &[f32], k: usize, n: usize) -> Self {
        assert_eq!(row_major.len(), k * n);
        assert_eq!(n % BAND, 0, "columns come in bands of {BAND}");
        let mut bands = Vec::with_capacity(k * n);
        for j in (0..n).step_by(BAND) {
            for row in row_major.chunks_exact(n) {
                bands.extend_from_slice(&row[j..j + BAND]);
            }
        }
        Self { k, n, bands }
    }
}

/// `out[r] += a[r] · w` for every row `r`: `a` is rows × k and `out` rows × n, row-major.
///
/// Register-tiled: a block of `R` rows × 16 columns of `out` stays in registers for the whole
/// sum over k (eight independent vector accumulators, enough to hide the add latency), each
/// step loading sixteen weights and broadcasting `R` inputs. The band of weights stays in cache
/// while every block of rows passes over it. On x86-64 the code is compiled again for AVX2 +
/// FMA and picked at run time; in wasm it is compiled with `simd128`, which every engine Tandem
/// runs on has.
pub fn gemm_acc(a: &[f32], w: &PackedMatrix, out: &mut [f32]) {
    assert_eq!(a.len() % w.k, 0);
    assert_eq!(a.len() / w.k, out.len() / w.n);
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU has the features the function is compiled for (checked just above).
        return unsafe { gemm_acc_avx2(a, w, out) };
    }
    // wasm has no run-time detection: a module using simd128 fails validation, loudly, on an
    // engine without it, and wasmtime and Spin have it on by default.
    #[cfg(target_arch = "wasm32")]
    return gemm_acc_simd128(a, w, out);
    #[allow(unreachable_code)]
    gemm_acc_portable::<2, false>(a, w, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn gemm_acc_avx2(a: &[f32], w: &PackedMatrix, out: &mut [f32]) {
    // 4 rows × two 8-wide vectors: eight accumulators of sixteen registers.
    gemm_acc_portable::<4, true>(a, w, out)
}

#[cfg(target_arch = "wasm32")]
#[target_feature(enable = "simd128")]
fn gemm_acc_simd128(a: &[f32], w: &PackedMatrix, out: &mut [f32]) {
    // 2 rows × four 4-wide vectors: eight accumulators, and wasm has no fused multiply-add.
    gemm_acc_portable::<2, false>(a, w, out)
}

#[inline(always)]
fn gemm_acc_portable<const R: usize, const FMA: bool>(
    a: &[f32],
    w: &PackedMatrix,
    out: &mut [f32],
) {
    let (k, n) = (w.k, w.n);
    let rows = a.len() / k;
    for (band, w_band) in w.bands.chunks_exact(k * BAND).enumerate() {
        let j = band * BAND;
        let mut r = 0;
        while r + R <= rows {
            let block: [&[f32]; R] = std::array::from_fn(|i| &a[(r + i) * k..(r + i + 1) * k]);
            let acc = tile::<R, FMA>(block, w_band);
            add_tile(&acc, &mut out[r * n..], n, j);
            r += R;
        }
        for r in r..rows {
            let acc = tile_one_row::<FMA>(&a[r * k..(r + 1) * k], w_band);
            add_tile(&[acc], &mut out[r * n..], n, j);
        }
    }
}

#[inline(always)]
fn madd<const FMA: bool>(acc: f32, x: f32, w: f32) -> f32 {
    // `mul_add` is one instruction where FMA is compiled in and a slow library call elsewhere.
    if FMA { x.mul_add(w, acc) } else { acc + x * w }
}

/// The `R` × 16 block of `a · w` for one band of weights (k × 16).
#[inline(always)]
fn tile<const R: usize, const FMA: bool>(a: [&[f32]; R], w_band: &[f32]) -> [[f32; BAND]; R] {
    let mut acc = [[0.0f32; BAND]; R];
    for (kk, w) in w_band.chunks_exact(BAND).enumerate() {
        let w: &[f32; BAND] = w.try_into().unwrap();
        for r in 0..R {
            let x = a[r][kk];
            for (acc, &w) in acc[r].iter_mut().zip(w) {
                *acc = madd::<FMA>(*acc, x, w);
            }
        }
    }
    acc
}

/// One row × 16 for one band, over even and odd k separately so that two independent chains
/// of adds are in flight (a single row is otherwise bound by the add latency).
#[inline(always)]
fn tile_one_row<const FMA: bool>(a: &[f32], w_band: &[f32]) -> [f32; BAND] {
    let (mut even, mut odd) = ([0.0f32; BAND], [0.0f32; BAND]);
    let mut pairs = w_band.chunks_exact(2 * BAND);
    for (kk, w) in (&mut pairs).enumerate() {
        let (x0, x1) = (a[2 * kk], a[2 * kk + 1]);
        for l in 0..BAND {
            even[l] = madd::<FMA>(even[l], x0, w[l]);
            odd[l] = madd::<FMA>(odd[l], x1, w[BAND + l]);
        }
    }
    if let [x] = a[a.len() - a.len() % 2..] {
        for (e, &w) in even.iter_mut().zip(pairs.remainder()) {
            *e = madd::<FMA>(*e, x, w);
        }
    }
    std::array::from_fn(|l| even[l] + odd[l])
}

#[inline(always)]
fn add_tile<const R: usize>(acc: &[[f32; BAND]; R], out: &mut [f32], n: usize, j: usize) {
    for (r, acc) in acc.iter().enumerate() {
        let o = &mut out[r * n + j..r * n + j + BAND];
        o.iter_mut().zip(acc).for_each(|(o, a)| *o += a);
    }
}

/// `out += x · w` for one row `x`.
pub fn vec_mat_acc(x: &[f32], w: &PackedMatrix, out: &mut [f32]) {
    gemm_acc(x, w, out)
}

/// `x · w` for one row.
pub fn vec_mat(x: &[f32], w: &PackedMatrix) -> Vec<f32> {
    let mut out = vec![0.0; w.n];
    vec_mat_acc(x, w, &mut out);
    out
}

/// Layer normalisation of every row of `x` (width `gamma.len()`), in place, as the reference:
/// centre, divide by √(variance + eps), scale, shift.
pub fn layer_norm_rows(x: &mut [f32], gamma: &[f32], beta: &[f32], eps: f32) {
    let width = gamma.len();
    for row in x.chunks_exact_mut(width) {
        let mean = row.iter().sum::<f32>() / width as f32;
        row.iter_mut().for_each(|v| *v -= mean);
        let variance = row.iter().map(|v| v * v).sum::<f32>() / width as f32;
        let inverse = 1.0 / (variance + eps).sqrt();
        for ((v, g), b) in row.iter_mut().zip(gamma).zip(beta) {
            *v = *v * inverse * g + b;
        }
    }
}

pub fn relu(x: &mut [f32]) {
    x.iter_mut().for_each(|v| *v = v.max(0.0));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f32], k: usize, w: &[f32], n: usize) -> Vec<f32> {
        let rows = a.len() / k;
        let mut out = vec![0.0; rows * n];
        for r in 0..rows {
            for j in 0..n {
                out[r * n + j] = (0..k).map(|kk| a[r * k + kk] * w[kk * n + j]).sum();
            }
        }
        out
    }

    #[test]
    fn gemm_matches_the_definition_for_every_row_count() {
        let n = 32;
        for (k, rows) in (0..10).flat_map(|rows| [(5, rows), (8, rows)]) {
            let w: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.37).sin()).collect();
            let a: Vec<f32> = (0..rows * k).map(|i| (i as f32 * 0.11).cos()).collect();
            let mut out = vec![0.0; rows * n];
            gemm_acc(&a, &PackedMatrix::new(&w, k, n), &mut out);
            for (x, y) in out.iter().zip(naive(&a, k, &w, n)) {
                assert!((x - y).abs() < 1e-5, "{rows} rows: {x} vs {y}");
            }
        }
    }

    #[test]
    fn layer_norm_centres_and_scales() {
        let mut x = vec![1.0, 2.0, 3.0, 4.0];
        layer_norm_rows(&mut x, &[1.0; 2], &[0.5; 2], 0.0);
        assert_eq!(x, vec![-0.5, 1.5, -0.5, 1.5]);
    }
}
