//! Tandem's pure core (no I/O; builds natively and for wasm32-wasip2), in layers. A module
//! uses only its own layer and the layers below; `tests/layers.rs` reads every source file and
//! fails on an import that points up, or on a cycle between modules.
//!
//! 0. [`foundation`]: text normalisation, the feature extractor shared by training and serving,
//!    PII masking, time and calendars, problem details, and the one conversation vocabulary
//!    ([`foundation::vocab`]: `Lang`, `Role`, `Priority`, `SlaHours`).
//! 1. [`model`]: the linear model, its ONNX export, and the one generic tract runner
//!    ([`model::tract`]) every served model goes through.
//! 2. [`kb`]: the knowledge base: parsing, validation, and the accepted-drafts file merged into
//!    the FAQ.
//! 3. Capabilities, each with its rules and tests: [`intent`], [`faq`], [`ticket`], [`handoff`]
//!    (with its model and sentiment), [`feedback`] (with metrics and drill-down), [`webhook`],
//!    [`gaps`], [`eval`]. They may use one another without forming a cycle.
//! 4. Composites over several capabilities: [`assist`], [`drafts`], [`graph`].
//!
//! Intent pipeline: `foundation::text` normalisation → `foundation::features` → the
//! `model::linear` model, written by `model::onnx_export` and run by [`intent`] on tract.
//!
//! Training (vocabulary fitting, `LinearModel::train`, the ONNX writer) sits behind the `train`
//! feature: only kb-loader trains, so the wasm components, which serve finished models, compile
//! none of it.

// Every public item carries a doc line; new ones must too.
#![warn(missing_docs)]

pub mod foundation;
pub mod model;

pub mod kb;

pub mod eval;
pub mod faq;
pub mod feedback;
pub mod gaps;
pub mod handoff;
#[cfg(feature = "onnx")]
pub mod intent;
pub mod ticket;
pub mod webhook;

pub mod assist;
pub mod drafts;
pub mod graph;
