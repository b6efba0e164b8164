//! Host-side bindings for the Spin platform interfaces (`wit/`: copies of the WIT shipped
//! with spin-sdk 7).
//!
//! Every import is `trappable`: the outer `wasmtime::Result` is a host failure that traps the
//! guest, the inner `Result` is the WIT-level error the guest sees. WIT `async func`s get a
//! `*WithStore` trait whose methods receive an `Accessor`, so they can await blocking SQLite
//! work and create `stream`/`future` values.

#![allow(missing_docs)]

wasmtime::component::bindgen!({
    path: "wit",
    world: "tandem:host/spin-platform",
    imports: { default: trappable },
    with: {
        "spin:sqlite/sqlite.connection": crate::spin_sqlite::Connection,
        "spin:key-value/key-value.store": crate::spin_kv::Store,
    },
});

pub use spin::key_value::key_value;
pub use spin::sqlite::sqlite;
pub use spin::variables::variables;
