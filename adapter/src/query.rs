//! Query strings: percent-decoded, strict (an unknown or repeated parameter is a 422, as an
//! unknown JSON field is), so a typo never silently widens a list or a report.

use spin_sdk::http::Request;
use tandem_core::foundation::problem::Problem;

/// Query parameters, percent-decoded, each at most once.
pub struct Query(Vec<(String, String)>);

impl Query {
    /// The decoded value of parameter `name`; an empty value (`?status=`) counts as absent,
    /// so a form's blank filter means "no filter".
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// A `limit`-like parameter: absent → `default`, else an integer in 1..=`max` (422 naming
    /// the range otherwise).
    pub fn bounded(&self, name: &str, default: usize, max: usize) -> Result<usize, Problem> {
        let Some(v) = self.get(name) else {
            return Ok(default);
        };
        match v.parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(
                Problem::unprocessable(format!("{name} {v:?} is out of range"))
                    .with_param(name, format!("an integer from 1 to {max}")),
            ),
        }
    }
}

/// `%XX` escapes and `+` decoded; `None` when an escape is malformed or the bytes are not UTF-8.
///
/// ```rust
/// use tandem_adapter::query::percent_decode;
///
/// assert_eq!(percent_decode("2026-12-01T00%3A00%3A00Z").as_deref(), Some("2026-12-01T00:00:00Z"));
/// assert_eq!(percent_decode("%E9%80%80%E6%AC%BE+status").as_deref(), Some("退款 status"));
/// assert_eq!(percent_decode("%E9%80"), None); // cut-off UTF-8
/// assert_eq!(percent_decode("%zz"), None); // not an escape
/// ```
pub fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// Parses the request's query string, allowing only `allowed` names.
pub fn parse_query(req: &Request, allowed: &[&str]) -> Result<Query, Problem> {
    let mut pairs = Vec::new();
    for part in req
        .uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        let (Some(k), Some(v)) = (percent_decode(k), percent_decode(v)) else {
            return Err(Problem::bad_request(
                "the query string is not valid percent-encoded UTF-8",
            ));
        };
        // A typo'd parameter is an error, as an unknown JSON field is.
        if !allowed.contains(&k.as_str()) {
            return Err(
                Problem::unprocessable(format!("unknown query parameter {k:?}"))
                    .with_param(k, format!("allowed: {}", allowed.join(", "))),
            );
        }
        if pairs.iter().any(|(seen, _)| *seen == k) {
            return Err(
                Problem::unprocessable(format!("query parameter {k:?} given twice"))
                    .with_param(k, "at most once"),
            );
        }
        pairs.push((k, v));
    }
    Ok(Query(pairs))
}
