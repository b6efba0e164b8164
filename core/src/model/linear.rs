//! Multinomial logistic regression on sparse features, trained by full-batch L-BFGS.
//!
//! Full-batch L-BFGS (as scikit-learn's default solver) needs no learning-rate tuning and is
//! deterministic: the gradient is split over a fixed number of row chunks, each summed by its
//! own thread into its own buffer, and the buffers are added in chunk order — the same bytes
//! on every run whatever the thread timing.
//!
//! Training (`LinearModel::train` and the L-BFGS below) needs the `train` feature: only
//! kb-loader trains, and the components serve the exported ONNX graph instead.

use crate::foundation::features::SparseVector;
use serde::{Deserialize, Serialize};

/// Training knobs; stored in the manifest so a model says how it was made.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrainConfig {
    /// Inverse L2 strength as in scikit-learn: loss = C·Σ cross-entropy + ½‖W‖² (bias free).
    /// Weak (100) measured best on BANKING77/CLINC150, few-shot included.
    pub c: f64,
    /// 100 reaches the accuracy plateau on BANKING77 (the same test accuracy as 200).
    pub max_iter: usize,
    /// Stop when the relative objective decrease over one iteration falls below this.
    pub tol: f64,
    /// L-BFGS memory (pairs of vectors kept).
    pub history: usize,
    /// Row chunks (and threads); part of the arithmetic, so the result depends on it.
    pub chunks: usize,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            c: 100.0,
            max_iter: 100,
            tol: 1e-7,
            history: 8,
            chunks: 2,
        }
    }
}

/// Weights `[n_features, n_classes]` row-major (one row per feature: a Gather on the feature
/// index picks a contiguous row) plus one bias per class.
#[derive(Clone, Debug, PartialEq)]
pub struct LinearModel {
    /// Input dimension: rows of `weights`.
    pub n_features: usize,
    /// Output classes: columns of `weights`, length of `bias`.
    pub n_classes: usize,
    /// Row `i` (`n_classes` values) holds feature `i`'s weight for each class.
    pub weights: Vec<f32>,
    /// Added to the logits of every input, one per class.
    pub bias: Vec<f32>,
}

/// Progress callback: (iteration, max iterations, objective).
#[cfg(feature = "train")]
pub type Progress<'a> = &'a mut dyn FnMut(usize, usize, f64);

impl LinearModel {
    /// Class scores of `x` before the softmax: the bias plus each feature's row × its value.
    pub fn logits(&self, x: &SparseVector) -> Vec<f32> {
        let mut z = self.bias.clone();
        let c = self.n_classes;
        for (&i, &v) in x.indices.iter().zip(&x.values) {
            let row = &self.weights[i as usize * c..(i as usize + 1) * c];
            z.iter_mut().zip(row).for_each(|(z, w)| *z += v * w);
        }
        z
    }

    /// Class probabilities of `x` (softmax of the logits), summing to 1.
    pub fn predict_proba(&self, x: &SparseVector) -> Vec<f32> {
        softmax(&self.logits(x))
    }

    /// Trains on `rows` with class `labels` (each < `n_classes`).
    #[cfg(feature = "train")]
    pub fn train(
        rows: &[SparseVector],
        labels: &[usize],
        n_features: usize,
        n_classes: usize,
        cfg: &TrainConfig,
        progress: Progress,
    ) -> Self {
        assert_eq!(rows.len(), labels.len());
        let problem = Problem {
            rows,
            labels,
            n_features,
            n_classes,
            cfg,
        };
        let params = lbfgs(&problem, cfg, progress);
        let split = n_features * n_classes;
        Self {
            n_features,
            n_classes,
            weights: params[..split].to_vec(),
            bias: params[split..].to_vec(),
        }
    }

    /// Int8 weights with one scale per feature row (symmetric, zero point 0): what the ONNX
    /// export stores to keep models small.
    pub fn quantize_rows(&self) -> (Vec<i8>, Vec<f32>) {
        let c = self.n_classes;
        let mut q = Vec::with_capacity(self.weights.len());
        let mut scales = Vec::with_capacity(self.n_features);
        for row in self.weights.chunks(c) {
            let max = row.iter().fold(0f32, |m, w| m.max(w.abs()));
            let scale = if max > 0.0 { max / 127.0 } else { 1.0 };
            q.extend(
                row.iter()
                    .map(|w| (w / scale).round().clamp(-127.0, 127.0) as i8),
            );
            scales.push(scale);
        }
        (q, scales)
    }

    /// The model the int8 export computes, in f32.
    pub fn dequantized(&self) -> Self {
        let (q, scales) = self.quantize_rows();
        let c = self.n_classes;
        let weights = q
            .iter()
            .enumerate()
            .map(|(k, &w)| w as f32 * scales[k / c])
            .collect();
        Self {
            weights,
            ..self.clone()
        }
    }
}

/// Probabilities from logits; the largest is subtracted first, so large logits do not overflow.
pub fn softmax(z: &[f32]) -> Vec<f32> {
    let max = z.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x));
    let e: Vec<f32> = z.iter().map(|&x| (x - max).exp()).collect();
    let sum: f32 = e.iter().sum();
    e.into_iter().map(|x| x / sum).collect()
}

#[cfg(feature = "train")]
struct Problem<'a> {
    rows: &'a [SparseVector],
    labels: &'a [usize],
    n_features: usize,
    n_classes: usize,
    cfg: &'a TrainConfig,
}

#[cfg(feature = "train")]
impl Problem<'_> {
    fn n_params(&self) -> usize {
        self.n_features * self.n_classes + self.n_classes
    }

    /// Objective (mean cross-entropy + L2/(2·C·n)) and its gradient at `w`.
    fn eval(&self, w: &[f32], grad: &mut [f32]) -> f64 {
        let n = self.rows.len().max(1);
        let chunks = self.cfg.chunks.max(1);
        let chunk_len = n.div_ceil(chunks);
        let parts: Vec<(f64, Vec<f32>)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..chunks)
                .map(|k| {
                    let lo = (k * chunk_len).min(self.rows.len());
                    let hi = ((k + 1) * chunk_len).min(self.rows.len());
                    s.spawn(move || self.chunk_loss(w, lo..hi))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("gradient thread"))
                .collect()
        });
        grad.fill(0.0);
        let mut loss = 0.0;
        for (l, g) in parts {
            loss += l;
            grad.iter_mut().zip(&g).for_each(|(a, b)| *a += b);
        }
        let inv_n = 1.0 / n as f32;
        let lambda = 1.0 / (self.cfg.c * n as f64);
        let split = self.n_features * self.n_classes;
        let mut reg = 0.0f64;
        for (g, &x) in grad[..split].iter_mut().zip(&w[..split]) {
            *g = *g * inv_n + lambda as f32 * x;
            reg += (x as f64) * (x as f64);
        }
        grad[split..].iter_mut().for_each(|g| *g *= inv_n);
        loss / n as f64 + 0.5 * lambda * reg
    }

    fn chunk_loss(&self, w: &[f32], range: std::ops::Range<usize>) -> (f64, Vec<f32>) {
        let c = self.n_classes;
        let split = self.n_features * c;
        let mut grad = vec![0f32; self.n_params()];
        let mut loss = 0f64;
        let mut z = vec![0f32; c];
        for r in range {
            let x = &self.rows[r];
            z.copy_from_slice(&w[split..]);
            for (&i, &v) in x.indices.iter().zip(&x.values) {
                let row = &w[i as usize * c..(i as usize + 1) * c];
                z.iter_mut().zip(row).for_each(|(z, w)| *z += v * w);
            }
            let max = z.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x));
            let y = self.labels[r];
            let z_y = z[y] - max;
            let mut sum = 0f32;
            z.iter_mut().for_each(|z| {
                *z = (*z - max).exp();
                sum += *z;
            });
            loss += sum.ln() as f64 - z_y as f64;
            // z becomes p - onehot(y): the gradient of the cross-entropy w.r.t. the logits.
            z.iter_mut().for_each(|z| *z /= sum);
            z[y] -= 1.0;
            for (&i, &v) in x.indices.iter().zip(&x.values) {
                let g = &mut grad[i as usize * c..(i as usize + 1) * c];
                g.iter_mut().zip(&z).for_each(|(g, d)| *g += v * d);
            }
            grad[split..].iter_mut().zip(&z).for_each(|(g, d)| *g += d);
        }
        (loss, grad)
    }
}

#[cfg(feature = "train")]
fn dot(a: &[f32], b: &[f32]) -> f64 {
    // f64 accumulation in 8 lanes: accurate and still vectorisable, and a fixed order.
    let mut acc = [0f64; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            acc[k] += x[k] as f64 * y[k] as f64;
        }
    }
    let tail: f64 = ra.iter().zip(rb).map(|(x, y)| *x as f64 * *y as f64).sum();
    acc.iter().sum::<f64>() + tail
}

#[cfg(feature = "train")]
fn axpy(alpha: f32, x: &[f32], y: &mut [f32]) {
    y.iter_mut().zip(x).for_each(|(y, x)| *y += alpha * x);
}

/// L-BFGS with a backtracking (Armijo) line search, starting from zero weights.
#[cfg(feature = "train")]
fn lbfgs(p: &Problem, cfg: &TrainConfig, progress: Progress) -> Vec<f32> {
    let dim = p.n_params();
    let mut w = vec![0f32; dim];
    let mut g = vec![0f32; dim];
    let mut f = p.eval(&w, &mut g);
    let mut hist: Vec<(Vec<f32>, Vec<f32>, f64)> = Vec::new(); // (s, y, 1/yᵀs)
    let mut dir = vec![0f32; dim];
    let mut w_new = vec![0f32; dim];
    let mut g_new = vec![0f32; dim];
    for iter in 0..cfg.max_iter {
        progress(iter, cfg.max_iter, f);
        // Two-loop recursion: dir = -H·g.
        dir.iter_mut().zip(&g).for_each(|(d, g)| *d = -g);
        let mut alphas = vec![0f64; hist.len()];
        for (k, (s, y, rho)) in hist.iter().enumerate().rev() {
            alphas[k] = rho * dot(s, &dir);
            axpy(-alphas[k] as f32, y, &mut dir);
        }
        let gamma = match hist.last() {
            Some((s, y, _)) => dot(s, y) / dot(y, y),
            None => 1.0 / dot(&g, &g).sqrt().max(1e-12),
        };
        dir.iter_mut().for_each(|d| *d *= gamma as f32);
        for (k, (s, y, rho)) in hist.iter().enumerate() {
            let beta = rho * dot(y, &dir);
            axpy((alphas[k] - beta) as f32, s, &mut dir);
        }
        let mut slope = dot(&g, &dir);
        if slope >= 0.0 {
            // Not a descent direction (numerical trouble): restart from steepest descent.
            hist.clear();
            dir.iter_mut().zip(&g).for_each(|(d, g)| *d = -g);
            slope = -dot(&g, &g);
        }
        let mut step = 1.0f32;
        let mut f_new;
        loop {
            w_new
                .iter_mut()
                .zip(&w)
                .zip(&dir)
                .for_each(|((n, w), d)| *n = w + step * d);
            f_new = p.eval(&w_new, &mut g_new);
            if f_new <= f + 1e-4 * step as f64 * slope || step < 1e-10 {
                break;
            }
            step *= 0.5;
        }
        let s: Vec<f32> = w_new.iter().zip(&w).map(|(a, b)| a - b).collect();
        let y: Vec<f32> = g_new.iter().zip(&g).map(|(a, b)| a - b).collect();
        let ys = dot(&y, &s);
        if ys > 1e-12 {
            if hist.len() == cfg.history {
                hist.remove(0);
            }
            hist.push((s, y, 1.0 / ys));
        }
        std::mem::swap(&mut w, &mut w_new);
        std::mem::swap(&mut g, &mut g_new);
        let decrease = (f - f_new) / f.abs().max(1e-12);
        f = f_new;
        if decrease.abs() < cfg.tol || step < 1e-10 {
            break;
        }
    }
    progress(cfg.max_iter, cfg.max_iter, f);
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy() -> (Vec<SparseVector>, Vec<usize>) {
        let row = |i: i64| SparseVector {
            indices: vec![i, 3],
            values: vec![1.0, 0.5],
        };
        (
            (0..30).map(|k| row(k % 3)).collect(),
            (0..30).map(|k| k % 3).collect(),
        )
    }

    #[test]
    fn learns_a_separable_toy_problem() {
        let (rows, labels) = toy();
        let m = LinearModel::train(
            &rows,
            &labels,
            4,
            3,
            &TrainConfig::default(),
            &mut |_, _, _| {},
        );
        for (x, &y) in rows.iter().zip(&labels) {
            let p = m.predict_proba(x);
            assert!(p[y] > 0.9, "{p:?}");
        }
    }

    #[test]
    fn training_is_deterministic() {
        let (rows, labels) = toy();
        let cfg = TrainConfig {
            max_iter: 20,
            ..Default::default()
        };
        let a = LinearModel::train(&rows, &labels, 4, 3, &cfg, &mut |_, _, _| {});
        let b = LinearModel::train(&rows, &labels, 4, 3, &cfg, &mut |_, _, _| {});
        assert_eq!(a, b);
    }

    #[test]
    fn int8_rows_stay_close() {
        let (rows, labels) = toy();
        let m = LinearModel::train(
            &rows,
            &labels,
            4,
            3,
            &TrainConfig::default(),
            &mut |_, _, _| {},
        );
        let d = m.dequantized();
        for (a, b) in m.weights.iter().zip(&d.weights) {
            assert!((a - b).abs() <= m.weights.iter().fold(0f32, |x, w| x.max(w.abs())) / 127.0);
        }
    }
}
