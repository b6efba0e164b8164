//! Layer 0: what every other layer builds on. Depends on nothing else in the crate.

pub mod calendar;
pub mod features;
pub mod pii;
pub mod problem;
pub mod text;
pub mod time;
pub mod vocab;
