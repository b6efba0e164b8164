//! One error envelope for every route: RFC 9457 `application/problem+json`.
//!
//! Components never hand-write error bodies; they build a [`Problem`] here so that every route
//! answers bad input the same way, and so that the mapping from a failure to an HTTP status lives
//! in one place. Request decoding ([`decode_json`]) lives here too because its only output besides
//! the value is a `Problem`.

// A Problem is the error of a request handler, built at most once per request; boxing it would
// only add noise at every call site.
#![allow(clippy::result_large_err)]

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Media type of every error body.
pub const CONTENT_TYPE: &str = "application/problem+json";

/// Prefix of the `type` URI; the slug after it names the problem kind.
pub const TYPE_BASE: &str = "https://tandem.dev/problems/";

/// A field that made a request invalid (the RFC 9457 `invalid-params` extension).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvalidParam {
    /// Field path, e.g. `text` or `turns[3].role`.
    pub name: String,
    /// Why it was rejected.
    pub reason: String,
}

/// An RFC 9457 problem document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Problem {
    /// `https://tandem.dev/problems/<slug>`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short, stable summary of the problem kind.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong with this request, in words a developer can act on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Offending fields, when the request body was the problem.
    #[serde(
        rename = "invalid-params",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub invalid_params: Vec<InvalidParam>,
    /// Extra members (e.g. `allowed` transitions on a 409).
    #[serde(flatten, default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub extensions: serde_json::Map<String, serde_json::Value>,
}

impl Problem {
    /// A problem of kind `slug` with the given status and title.
    pub fn new(status: u16, slug: &str, title: &str) -> Self {
        Problem {
            kind: format!("{TYPE_BASE}{slug}"),
            title: title.to_owned(),
            status,
            detail: None,
            invalid_params: Vec::new(),
            extensions: serde_json::Map::new(),
        }
    }

    /// Adds the human-readable detail.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// Adds an offending field.
    pub fn with_param(mut self, name: impl Into<String>, reason: impl Into<String>) -> Self {
        self.invalid_params.push(InvalidParam {
            name: name.into(),
            reason: reason.into(),
        });
        self
    }

    /// Adds an extension member.
    pub fn with_extension(mut self, key: &str, value: serde_json::Value) -> Self {
        self.extensions.insert(key.to_owned(), value);
        self
    }

    /// 400: the body is not what the media type promises (not JSON, not UTF-8, empty).
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Problem::new(400, "bad-request", "Malformed request").with_detail(detail)
    }

    /// 401: credentials missing or not valid.
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Problem::new(401, "unauthorized", "Authentication required").with_detail(detail)
    }

    /// 403: valid credentials that do not reach this resource.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Problem::new(403, "forbidden", "Not allowed").with_detail(detail)
    }

    /// 404: no such route or record.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Problem::new(404, "not-found", "Not found").with_detail(detail)
    }

    /// 405: the route exists but not for this method.
    pub fn method_not_allowed(method: &str, allowed: &[&str]) -> Self {
        Problem::new(405, "method-not-allowed", "Method not allowed")
            .with_detail(format!(
                "{method} is not supported here; use {}",
                allowed.join(", ")
            ))
            .with_extension("allowed", serde_json::json!(allowed))
    }

    /// 409: the change conflicts with the record's state.
    pub fn conflict(detail: impl Into<String>) -> Self {
        Problem::new(409, "conflict", "Conflict").with_detail(detail)
    }

    /// 412: the `If-Match` precondition failed.
    pub fn precondition_failed(detail: impl Into<String>) -> Self {
        Problem::new(412, "precondition-failed", "Precondition failed").with_detail(detail)
    }

    /// 413: the body or a field is larger than the documented limit.
    pub fn payload_too_large(detail: impl Into<String>) -> Self {
        Problem::new(413, "payload-too-large", "Payload too large").with_detail(detail)
    }

    /// 415: the body is not JSON.
    pub fn unsupported_media_type(detail: impl Into<String>) -> Self {
        Problem::new(415, "unsupported-media-type", "Unsupported media type").with_detail(detail)
    }

    /// 422: well-formed JSON whose content is not acceptable.
    pub fn unprocessable(detail: impl Into<String>) -> Self {
        Problem::new(422, "invalid-input", "Invalid input").with_detail(detail)
    }

    /// 500: a failure of ours, described without leaking internals.
    pub fn internal(detail: impl Into<String>) -> Self {
        Problem::new(500, "internal", "Internal error").with_detail(detail)
    }

    /// The serialised body.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a Problem always serialises")
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.title)?;
        if let Some(detail) = &self.detail {
            write!(f, ": {detail}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problem {}

/// Decodes a JSON request body into `T`, or says precisely why not.
///
/// Syntax problems (empty body, invalid UTF-8, not JSON) are 400; JSON of the wrong shape
/// (missing fields, wrong types, unknown fields where `T` denies them) is 422 with the
/// offending field named. `max_bytes` is checked first so huge bodies are never parsed.
pub fn decode_json<T: DeserializeOwned>(body: &[u8], max_bytes: usize) -> Result<T, Problem> {
    if body.len() > max_bytes {
        return Err(Problem::payload_too_large(format!(
            "the body is {} bytes; the limit is {max_bytes}",
            body.len()
        )));
    }
    let text = std::str::from_utf8(body).map_err(|e| {
        Problem::bad_request(format!(
            "the body is not valid UTF-8 (invalid byte at offset {})",
            e.valid_up_to()
        ))
    })?;
    if text.trim().is_empty() {
        return Err(Problem::bad_request(
            "the body is empty; send a JSON object",
        ));
    }
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        Problem::bad_request(format!(
            "the body is not valid JSON: {e} (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    if !value.is_object() {
        return Err(Problem::unprocessable("the body must be a JSON object")
            .with_param("", "expected an object"));
    }
    // Deserialising through serde_path_to_error-like tracking would need another dependency;
    // serde_json's message already names the field ("missing field `text`", "invalid type").
    serde_json::from_value(value).map_err(|e| {
        let message = e.to_string();
        let field = field_named_in(&message).unwrap_or_default();
        Problem::unprocessable(format!("the body does not match the schema: {message}"))
            .with_param(field, message)
    })
}

/// Pulls the field name out of serde's "missing field `x`" / "unknown field `x`" messages.
fn field_named_in(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(message[start..start + len].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Ask {
        #[allow(dead_code)]
        text: String,
        #[allow(dead_code)]
        top_k: Option<u32>,
    }

    #[test]
    fn serialises_as_rfc9457() {
        let p = Problem::unprocessable("text is empty").with_param("text", "must not be empty");
        let v: serde_json::Value = serde_json::from_str(&p.to_json()).unwrap();
        assert_eq!(v["type"], "https://tandem.dev/problems/invalid-input");
        assert_eq!(v["status"], 422);
        assert_eq!(v["invalid-params"][0]["name"], "text");
    }

    #[test]
    fn method_not_allowed_lists_methods() {
        let p = Problem::method_not_allowed("GET", &["POST"]);
        assert_eq!(p.status, 405);
        assert_eq!(p.extensions["allowed"], serde_json::json!(["POST"]));
    }

    #[test]
    fn decode_sorts_failures_by_status() {
        let status = |body: &[u8]| decode_json::<Ask>(body, 64).unwrap_err().status;
        assert_eq!(status(b""), 400);
        assert_eq!(status(b"   "), 400);
        assert_eq!(status(b"{\"text\": \xff}"), 400);
        assert_eq!(status(b"{not json"), 400);
        assert_eq!(status(b"[1,2]"), 422);
        assert_eq!(status(b"{\"text\": 5}"), 422);
        assert_eq!(status(b"{}"), 422);
        assert_eq!(status(b"{\"text\":\"a\",\"evil\":1}"), 422);
        assert_eq!(status(&[b' '; 65]), 413);
    }

    #[test]
    fn decode_names_the_field() {
        let p = decode_json::<Ask>(b"{}", 64).unwrap_err();
        assert_eq!(p.invalid_params[0].name, "text");
        let ok: Ask = decode_json("{\"text\":\"退款 refund\"}".as_bytes(), 64).unwrap();
        assert_eq!(ok.text, "退款 refund");
    }
}
