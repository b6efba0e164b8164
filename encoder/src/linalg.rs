//! The few dense kernels the network needs, written so that the compiler vectorises the inner
//! loop (native SSE/AVX, wasm `simd128`): rows of the output are updated by whole rows of the
//! weight matrix, four input rows at a time so each weight row is loaded once per four tokens.

/// `out[r] += a[r] · w` for every row `r`: `a` is rows × k, `w` is k × n, `out` is rows × n,
/// all row-major.
pub fn gemm_acc(a: &[f32], k: usize, w: &[f32], n: usize, out: &mut [f32]) {
    debug_assert_eq!(w.len(), k * n);
    debug_assert_eq!(a.len() / k, out.len() / n);
    let mut a_blocks = a.chunks_exact(4 * k);
    let mut out_blocks = out.chunks_exact_mut(4 * n);
    for (a4, o4) in (&mut a_blocks).zip(&mut out_blocks) {
        let (o0, rest) = o4.split_at_mut(n);
        let (o1, rest) = rest.split_at_mut(n);
        let (o2, o3) = rest.split_at_mut(n);
        for (kk, w_row) in w.chunks_exact(n).enumerate() {
            let (x0, x1, x2, x3) = (a4[kk], a4[k + kk], a4[2 * k + kk], a4[3 * k + kk]);
            for ((((w, y0), y1), y2), y3) in w_row
                .iter()
                .zip(o0.iter_mut())
                .zip(o1.iter_mut())
                .zip(o2.iter_mut())
                .zip(o3.iter_mut())
            {
                *y0 += x0 * w;
                *y1 += x1 * w;
                *y2 += x2 * w;
                *y3 += x3 * w;
            }
        }
    }
    for (a_row, o_row) in a_blocks
        .remainder()
        .chunks_exact(k)
        .zip(out_blocks.into_remainder().chunks_exact_mut(n))
    {
        vec_mat_acc(a_row, w, n, o_row);
    }
}

/// `out += x · w` for one row `x` of length k, `w` k × n.
pub fn vec_mat_acc(x: &[f32], w: &[f32], n: usize, out: &mut [f32]) {
    for (&xk, w_row) in x.iter().zip(w.chunks_exact(n)) {
        if xk == 0.0 {
            continue;
        }
        for (y, w) in out.iter_mut().zip(w_row) {
            *y += xk * w;
        }
    }
}

/// `x · w + bias` for one row.
pub fn vec_mat(x: &[f32], w: &[f32], bias: Option<&[f32]>, n: usize) -> Vec<f32> {
    let mut out = bias.map_or_else(|| vec![0.0; n], <[f32]>::to_vec);
    vec_mat_acc(x, w, n, &mut out);
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
        let (k, n) = (5, 7);
        let w: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.37).sin()).collect();
        for rows in 0..10 {
            let a: Vec<f32> = (0..rows * k).map(|i| (i as f32 * 0.11).cos()).collect();
            let mut out = vec![0.0; rows * n];
            gemm_acc(&a, k, &w, n, &mut out);
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
