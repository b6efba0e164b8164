//! The WIT contract's shared half, generated once: the `tandem:service/types` interface every
//! capability uses, and the `tandem:service/encoder` import four components call. Components
//! reuse these bindings through `with:` in their own `generate!`, so a `Turn`, a `Priority` or an
//! `Error` is one Rust type across all of them:
//!
//! ```ignore
//! spin_sdk::wit_bindgen::generate!({
//!     // ...
//!     with: {
//!         "tandem:service/types@0.1.0": tandem_contract::types,
//!         "tandem:service/encoder@0.1.0": tandem_contract::encoder,
//!     },
//! });
//! ```
//!
//! [`conv`] holds every conversion between these types and the core's, so no component maps a
//! role, a priority, a turn or an error itself. What is particular to one interface (a ticket's
//! status, an FAQ mode) stays in that component's `wit_export.rs` (or assist's `conv.rs`).
//!
//! Compiled for wasm32-wasip2 only, like the components.

#![warn(missing_docs)]

pub mod conv;
mod embedding;

pub use embedding::sentence_embedding;

#[allow(missing_docs)]
mod bindings {
    spin_sdk::wit_bindgen::generate!({
        runtime_path: "spin_sdk::wit_bindgen::rt",
        inline: r#"
            package tandem:contract;
            world shared {
                import tandem:service/types@0.1.0;
                import tandem:service/encoder@0.1.0;
            }
        "#,
        path: "../wit",
        generate_all,
    });
}

/// `tandem:service/types`: the types shared by more than one capability (`wit/tandem.wit`).
pub use bindings::tandem::service::types;

/// The imported `tandem:service/encoder`: sentence embeddings from the embed component.
pub use bindings::tandem::service::encoder;
