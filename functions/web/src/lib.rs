//! The web front end: `GET|HEAD /...` serves the pages and assets of `web/`, compiled into
//! the component by `build.rs` (no file system access at run time). This file holds the
//! compiled-in files ([`ASSETS`]); [`http`] answers requests from them: which file a path
//! names, caching, the browser fallback, traversal and methods.
//!
//! The more specific `/v1/...` routes of `spin.toml` win over this component's `/...`.

mod http;

/// One compiled-in file.
pub struct Asset {
    /// URL path, `/assets/app.css`.
    pub path: &'static str,
    /// The immutable alias, `/assets/app.<hash>.css` (none for pages).
    pub versioned: Option<&'static str>,
    pub content_type: &'static str,
    /// Strong validator (quoted content hash).
    pub etag: &'static str,
    pub body: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/assets.rs"));
