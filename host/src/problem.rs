//! RFC 9457 `application/problem+json` bodies for errors the host itself produces.

use bytes::Bytes;
use http_body_util::Full;

/// Base of the problem `type` URIs.
const TYPE_BASE: &str = "https://tandem.dev/problems/";

/// A problem detail: `slug` becomes `type`, e.g. `not-found`.
#[derive(Debug, Clone)]
pub struct Problem {
    /// Last segment of the `type` URI.
    pub slug: &'static str,
    /// Short, fixed summary of the problem type.
    pub title: &'static str,
    /// HTTP status.
    pub status: http::StatusCode,
    /// Occurrence-specific explanation.
    pub detail: String,
}

impl Problem {
    /// No route matches the request path (404).
    pub fn not_found(path: &str) -> Self {
        Self {
            slug: "not-found",
            title: "Not Found",
            status: http::StatusCode::NOT_FOUND,
            detail: format!("no route matches {path}"),
        }
    }

    /// The request body is larger than allowed (413).
    pub fn payload_too_large(limit: u64) -> Self {
        Self {
            slug: "payload-too-large",
            title: "Payload Too Large",
            status: http::StatusCode::PAYLOAD_TOO_LARGE,
            detail: format!("request body exceeds the limit of {limit} bytes"),
        }
    }

    /// The component did not answer in time (504).
    pub fn timeout(component: &str, ms: u128) -> Self {
        Self {
            slug: "timeout",
            title: "Component Timed Out",
            status: http::StatusCode::GATEWAY_TIMEOUT,
            detail: format!("component `{component}` did not respond within {ms} ms"),
        }
    }

    /// The component trapped, failed or hit a limit (500, or 503 when the host is saturated).
    pub fn component_failed(status: http::StatusCode, detail: String) -> Self {
        Self {
            slug: "component-failed",
            title: "Component Failed",
            status,
            detail,
        }
    }

    /// A store the request needed cannot be reached (503, e.g. Redis down); retrying later
    /// may succeed, so the response carries `Retry-After`.
    pub fn store_unavailable(component: &str, detail: &str) -> Self {
        Self {
            slug: "store-unavailable",
            title: "Store Unavailable",
            status: http::StatusCode::SERVICE_UNAVAILABLE,
            detail: format!("component `{component}` could not complete: {detail}"),
        }
    }

    /// The JSON body.
    pub fn body(&self) -> String {
        serde_json::json!({
            "type": format!("{TYPE_BASE}{}", self.slug),
            "title": self.title,
            "status": self.status.as_u16(),
            "detail": self.detail,
        })
        .to_string()
    }

    /// The full HTTP response.
    ///
    /// Readable by pages of any origin: a widget on a shop's own site must be able to tell
    /// "busy, try again" (503) or "too large" (413) from "unreachable", and what the host
    /// says here names no customer's data and answers no credential (the routes take none
    /// from cookies), so `*` exposes nothing a direct request would not see.
    pub fn response(&self) -> http::Response<Full<Bytes>> {
        let mut res = http::Response::new(Full::new(Bytes::from(self.body())));
        *res.status_mut() = self.status;
        res.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/problem+json"),
        );
        res.headers_mut().insert(
            http::header::ACCESS_CONTROL_ALLOW_ORIGIN,
            http::HeaderValue::from_static("*"),
        );
        if self.slug == "store-unavailable" {
            res.headers_mut().insert(
                http::header::RETRY_AFTER,
                http::HeaderValue::from_static("1"),
            );
        }
        // The host closes the connection after a refused body (once it has read and dropped
        // what it still lingers for, `server::LINGER_*`): the client is told so up front.
        if self.status == http::StatusCode::PAYLOAD_TOO_LARGE {
            res.headers_mut().insert(
                http::header::CONNECTION,
                http::HeaderValue::from_static("close"),
            );
        }
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_rfc9457_members() {
        let v: serde_json::Value = serde_json::from_str(&Problem::not_found("/x").body()).unwrap();
        assert_eq!(v["type"], "https://tandem.dev/problems/not-found");
        assert_eq!(v["status"], 404);
        assert_eq!(v["title"], "Not Found");
        assert!(v["detail"].as_str().unwrap().contains("/x"));
    }
}
