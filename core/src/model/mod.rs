//! Layer 1: the linear model, its ONNX export and the generic tract runner. Depends only on
//! [`crate::foundation`].

pub mod linear;
#[cfg(feature = "onnx")]
pub mod onnx_export;
#[cfg(feature = "onnx")]
pub mod tract;
