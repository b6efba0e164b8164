//! The one generic tract runner: every exported linear model (intent, FAQ encoder, sentiment,
//! handoff) has the same two inputs (feature indices, feature values over a symbolic length
//! `N`) and the same two outputs (probabilities, logits), so loading and running them is done
//! here once.

use crate::foundation::features::SparseVector;
use anyhow::Context;
use std::sync::Arc;
use tract_onnx::prelude::*;

/// An optimised, runnable tract plan of one exported model.
pub type Plan = Arc<TypedRunnableModel>;

/// Loads an exported linear model into an optimised tract plan with a symbolic feature count.
pub fn load_plan(onnx: &[u8]) -> anyhow::Result<Plan> {
    let mut reader = onnx;
    let mut model = tract_onnx::onnx()
        .model_for_read(&mut reader)
        .context("reading the ONNX model")?;
    let n = model.symbols.sym("N");
    model.set_input_fact(
        0,
        InferenceFact::dt_shape(i64::datum_type(), tvec![n.to_dim()]),
    )?;
    model.set_input_fact(
        1,
        InferenceFact::dt_shape(f32::datum_type(), tvec![n.to_dim()]),
    )?;
    let plan = model.into_optimized()?.into_runnable()?;
    Ok(plan)
}

/// Runs the plan on one feature vector; returns (logits, probs).
pub fn run_model(plan: &Plan, x: &SparseVector) -> anyhow::Result<(Vec<f32>, Vec<f32>)> {
    // A text with no known feature still needs one row: index 0 with weight 0 adds nothing.
    let (indices, values) = if x.indices.is_empty() {
        (vec![0i64], vec![0f32])
    } else {
        (x.indices.clone(), x.values.clone())
    };
    let n = indices.len();
    let inputs = tvec![
        tract_ndarray::Array1::from_vec(indices)
            .into_tensor()
            .into_tvalue(),
        tract_ndarray::Array1::from_vec(values)
            .into_tensor()
            .into_tvalue(),
    ];
    let out = plan
        .run(inputs)
        .with_context(|| format!("running the intent model on {n} features"))?;
    let vec = |i: usize| -> anyhow::Result<Vec<f32>> {
        Ok(out[i]
            .to_plain_array_view::<f32>()?
            .iter()
            .copied()
            .collect())
    };
    Ok((vec(1)?, vec(0)?))
}
