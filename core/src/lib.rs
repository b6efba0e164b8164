//! Tandem's pure core (no I/O; builds natively and for wasm32-wasip2).
//!
//! Intent pipeline: [`text`] normalisation → [`features`] (the one extractor shared by training
//! and serving) → [`linear`] model, written by [`onnx_export`] and run by [`intent`] on tract.
//! [`kb`] parses and validates the knowledge base; [`eval`] computes the metrics.

pub mod problem;

pub mod assist;
pub mod calendar;
pub mod drafts;
pub mod drilldown;
pub mod eval;
pub mod faq;
pub mod features;
pub mod feedback;
pub mod gaps;
pub mod graph;
pub mod handoff;
#[cfg(feature = "onnx")]
pub mod handoff_model;
#[cfg(feature = "onnx")]
pub mod intent;
pub mod kb;
pub mod linear;
pub mod metrics;
#[cfg(feature = "onnx")]
pub mod onnx_export;
pub mod pii;
#[cfg(feature = "onnx")]
pub mod sentiment;
pub mod text;
pub mod ticket;
pub mod time;
pub mod webhook;
