//! Webhooks (docs/webhooks.md): the event types Tandem tells the outside, the checks on a
//! subscription, the signature a receiver verifies, and the retry schedule.
//!
//! Pure: the outbox tables are `tandem_stores::outbox`, the delivery is the `webhooks`
//! component, which sends through the host's outbound `wasi:http` under its allow-list.

// A Problem is the error of a request handler, built at most once per request.
#![allow(clippy::result_large_err)]

use serde::Serialize;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Every event type, in the order the docs list them.
pub const EVENT_TYPES: &[&str] = &[
    "ticket.created",
    "ticket.assigned",
    "ticket.status_changed",
    "ticket.escalated",
    "handoff.requested",
    "feedback.recorded",
    "conversation.resolved",
];

/// Header carrying `t=<unix seconds>,v1=<hex HMAC-SHA256>`.
pub const SIGNATURE_HEADER: &str = "tandem-signature";
/// Header carrying the event id (receivers dedupe on it: delivery is at least once).
pub const EVENT_ID_HEADER: &str = "tandem-event-id";
/// Header carrying the event type.
pub const EVENT_TYPE_HEADER: &str = "tandem-event-type";
/// How far a signature's timestamp may be from the receiver's clock (replay window).
pub const REPLAY_WINDOW_SECONDS: i64 = 300;

/// Longest subscription URL accepted.
pub const MAX_URL_BYTES: usize = 2048;
/// Longest description accepted.
pub const MAX_DESCRIPTION_CHARS: usize = 200;

/// The signature header's value for `body` sent at `unix_seconds`: HMAC-SHA256 under the
/// subscription's secret over `"<unix_seconds>.<body>"` (the timestamp is signed, so an old
/// delivery cannot be replayed with a fresh one).
pub fn signature(secret: &str, unix_seconds: i64, body: &[u8]) -> String {
    format!(
        "t={unix_seconds},v1={}",
        crate::ticket::hex(&mac(secret, unix_seconds, body))
    )
}

fn mac(secret: &str, unix_seconds: i64, body: &[u8]) -> [u8; 32] {
    let mut message = format!("{unix_seconds}.").into_bytes();
    message.extend_from_slice(body);
    crate::ticket::hmac_sha256(secret.as_bytes(), &message)
}

/// Why a receiver refuses a delivery.
#[derive(Debug, PartialEq, Eq)]
pub enum Unverified {
    /// The header is not `t=<digits>,v1=<64 hex>`.
    Malformed,
    /// The timestamp is outside the replay window.
    Stale,
    /// No `v1` matches the body under the secret.
    Mismatch,
}

/// What a receiver does (docs/webhooks.md has it in a few lines of other languages): parse the
/// header, check the timestamp is within `window_seconds` of `now_seconds`, recompute the MAC
/// over the raw body and compare in constant time. Several `v1=` entries are allowed (a secret
/// being rotated).
pub fn verify(
    header: &str,
    secret: &str,
    body: &[u8],
    now_seconds: i64,
    window_seconds: i64,
) -> Result<(), Unverified> {
    let mut timestamp = None;
    let mut macs = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", v)) => macs.push(unhex(v).ok_or(Unverified::Malformed)?),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(Unverified::Malformed)?;
    if macs.is_empty() {
        return Err(Unverified::Malformed);
    }
    if now_seconds.abs_diff(timestamp) > window_seconds.unsigned_abs() {
        return Err(Unverified::Stale);
    }
    let expected = mac(secret, timestamp, body);
    let same = |m: &[u8; 32]| {
        m.iter()
            .zip(&expected)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    };
    if macs.iter().any(same) {
        Ok(())
    } else {
        Err(Unverified::Mismatch)
    }
}

fn unhex(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// When to try a delivery again after `attempts` failed tries: `base_ms · 2^(attempts-1)`,
/// capped at `cap_ms`, with "equal jitter" (half fixed, half drawn from `jitter` in [0, 1)) so
/// receivers coming back are not hit by every sender at once.
pub fn retry_delay_ms(attempts: u32, base_ms: u64, cap_ms: u64, jitter: f64) -> u64 {
    let exponent = attempts.saturating_sub(1).min(32);
    let full = base_ms.saturating_mul(1u64 << exponent).min(cap_ms);
    let half = full / 2;
    half + (half as f64 * jitter.clamp(0.0, 1.0)) as u64
}

/// A subscription as an admin writes it (`POST /v1/webhooks`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SubscriptionInput {
    /// The receiver's `http(s)://` URL ([`check_url`]).
    pub url: String,
    /// Event types it receives ([`EVENT_TYPES`], or `*` for all), without repeats.
    pub events: Vec<String>,
    /// Free text for admins, at most [`MAX_DESCRIPTION_CHARS`] characters.
    pub description: Option<String>,
    /// Whether deliveries are made; `true` unless the body says otherwise.
    pub active: bool,
}

/// Whether private, loopback and link-local destinations are allowed (an operator setting:
/// on for a receiver inside the cluster or in tests, off by default).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrivateNetworks {
    /// Private, loopback and link-local receivers are accepted (`webhook_allow_private_networks =
    /// "true"`).
    Allowed,
    /// They are refused (the default).
    Refused,
}

/// Checks a subscription body; every bad field comes back in one problem (422), nothing is
/// stored then. `partial` is a PATCH: absent fields are kept.
pub fn parse_subscription(
    body: &serde_json::Value,
    private: PrivateNetworks,
    partial: bool,
) -> Result<PartialSubscription, crate::foundation::problem::Problem> {
    use crate::foundation::problem::Problem;
    let Some(obj) = body.as_object() else {
        return Err(Problem::unprocessable("the body must be a JSON object"));
    };
    let mut problem = Problem::unprocessable("the subscription is not valid");
    let mut bad = false;
    let mut fail = |name: &str, reason: String| {
        problem =
            std::mem::replace(&mut problem, Problem::unprocessable("")).with_param(name, reason);
        bad = true;
    };
    for key in obj.keys() {
        if !["url", "events", "description", "active"].contains(&key.as_str()) {
            fail(
                key,
                "unknown field; use url, events, description, active".into(),
            );
        }
    }
    let mut out = PartialSubscription::default();
    match obj.get("url") {
        Some(serde_json::Value::String(u)) => match check_url(u, private) {
            Ok(()) => out.url = Some(u.clone()),
            Err(reason) => fail("url", reason),
        },
        Some(_) => fail("url", "a string".into()),
        None if !partial => fail("url", "required: the receiver's http(s) URL".into()),
        None => {}
    }
    match obj.get("events") {
        Some(serde_json::Value::Array(items)) => {
            let mut events = Vec::new();
            for (i, item) in items.iter().enumerate() {
                match item.as_str() {
                    Some(t) if EVENT_TYPES.contains(&t) || t == "*" => {
                        if !events.iter().any(|e| e == t) {
                            events.push(t.to_string())
                        }
                    }
                    _ => fail(
                        &format!("events[{i}]"),
                        format!("one of {} or \"*\"", EVENT_TYPES.join(", ")),
                    ),
                }
            }
            if items.is_empty() {
                fail("events", "at least one event type".into());
            }
            out.events = Some(events);
        }
        Some(_) => fail("events", "an array of event types".into()),
        None if !partial => fail("events", "required: the event types to receive".into()),
        None => {}
    }
    match obj.get("description") {
        Some(serde_json::Value::String(d)) if d.chars().count() <= MAX_DESCRIPTION_CHARS => {
            out.description = Some(Some(d.clone()))
        }
        Some(serde_json::Value::Null) => out.description = Some(None),
        Some(_) => fail(
            "description",
            format!("a string of at most {MAX_DESCRIPTION_CHARS} characters"),
        ),
        None => {}
    }
    match obj.get("active") {
        Some(serde_json::Value::Bool(a)) => out.active = Some(*a),
        Some(_) => fail("active", "true or false".into()),
        None => {}
    }
    if bad {
        return Err(problem.with_detail("the subscription is not valid; see invalid_params"));
    }
    Ok(out)
}

/// The fields a body set (a PATCH leaves the others alone).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PartialSubscription {
    /// The receiver URL, when given.
    pub url: Option<String>,
    /// The event types, when given (deduplicated).
    pub events: Option<Vec<String>>,
    /// `Some(None)`: the body cleared the description (`null`); `None`: not given.
    pub description: Option<Option<String>>,
    /// Whether deliveries are made, when given.
    pub active: Option<bool>,
}

/// Whether a subscription with `events` receives `event_type`.
pub fn subscribes(events: &[String], event_type: &str) -> bool {
    events.iter().any(|e| e == "*" || e == event_type)
}

/// A receiver URL: `http` or `https`, a host, no credentials, no fragment, and unless
/// `private` allows it, no literal loopback, private, link-local or unspecified address and no
/// `localhost`. (Names are not resolved here: the host's allow-list is the second gate.)
pub fn check_url(url: &str, private: PrivateNetworks) -> Result<(), String> {
    if url.len() > MAX_URL_BYTES {
        return Err(format!("at most {MAX_URL_BYTES} bytes"));
    }
    let rest = if let Some(r) = url.strip_prefix("https://") {
        r
    } else if let Some(r) = url.strip_prefix("http://") {
        r
    } else {
        return Err("an http:// or https:// URL".into());
    };
    if url.contains('#') || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("no fragment, spaces or control characters".into());
    }
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    if authority.contains('@') {
        return Err("no user or password in the URL; the signature authenticates".into());
    }
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, _)| h)
    };
    if let Some(port) = authority.rsplit_once("]:").map(|p| p.1).or_else(|| {
        (!authority.starts_with('['))
            .then(|| authority.split_once(':').map(|p| p.1))
            .flatten()
    }) && port.parse::<u16>().map_or(true, |p| p == 0)
    {
        return Err("the port must be a number from 1 to 65535".into());
    }
    if host.is_empty() {
        return Err("a host name".into());
    }
    if private == PrivateNetworks::Refused && is_private_host(host) {
        return Err(
            "a public address: loopback, private and link-local hosts are refused \
             (the operator can allow them with webhook_allow_private_networks)"
                .into(),
        );
    }
    Ok(())
}

fn is_private_host(host: &str) -> bool {
    let lower = host.to_ascii_lowercase();
    let lower = lower.trim_end_matches('.');
    if lower == "localhost" || lower.ends_with(".localhost") || lower.ends_with(".internal") {
        return true;
    }
    if let Some(v4) = url_ipv4(lower) {
        return is_private_v4(v4);
    }
    if let Ok(v6) = lower.parse::<Ipv6Addr>() {
        let first = v6.segments()[0];
        return v6.is_loopback()
            || v6.is_unspecified()
            || (first & 0xfe00) == 0xfc00
            || (first & 0xffc0) == 0xfe80
            || embedded_v4(v6).is_some_and(is_private_v4);
    }
    false
}

fn is_private_v4(v4: Ipv4Addr) -> bool {
    let [a, b, ..] = v4.octets();
    v4.is_loopback()
        || v4.is_private()
        || v4.is_link_local()
        || v4.is_broadcast()
        || a == 0
        || a == 100 && (64..128).contains(&b)
}

/// An IPv4 address as URL parsers (WHATWG, curl, browsers) read a host: one to four parts,
/// each decimal, `0x` hex or `0`-led octal, the last filling the remaining bytes — so
/// `127.1`, `2130706433`, `0x7f.0.0.1` and `0177.0.0.1` are all loopback.
fn url_ipv4(host: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = host.split('.').collect();
    if parts.len() > 4 {
        return None;
    }
    let mut numbers = Vec::with_capacity(parts.len());
    for part in parts {
        let n = if let Some(hex) = part.strip_prefix("0x") {
            if hex.is_empty() {
                0
            } else {
                u64::from_str_radix(hex, 16).ok()?
            }
        } else if let Some(octal) = part.strip_prefix('0').filter(|o| !o.is_empty()) {
            u64::from_str_radix(octal, 8).ok()?
        } else if !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()) {
            part.parse::<u64>().ok()?
        } else {
            return None;
        };
        numbers.push(n);
    }
    let (&last, init) = numbers.split_last()?;
    let last_bits = 8 * (5 - numbers.len() as u32);
    if init.iter().any(|&n| n > 255) || last >= 1u64 << last_bits {
        return None;
    }
    let head = init
        .iter()
        .enumerate()
        .fold(0u64, |v, (i, &n)| v | n << (24 - 8 * i as u32));
    u32::try_from(head | last).ok().map(Ipv4Addr::from)
}

/// The IPv4 address an IPv6 one carries: mapped (`::ffff:a.b.c.d`), compatible (`::a.b.c.d`),
/// NAT64 (`64:ff9b::/96`) or 6to4 (`2002:AABB:CCDD::/48`).
fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = v6.segments();
    let v4 = |hi: u16, lo: u16| {
        let [a, b] = hi.to_be_bytes();
        let [c, d] = lo.to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    match s {
        [0, 0, 0, 0, 0, 0xffff | 0, hi, lo] => Some(v4(hi, lo)),
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => Some(v4(hi, lo)),
        [0x2002, hi, lo, ..] => Some(v4(hi, lo)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_signature_verifies_and_a_changed_body_or_old_stamp_does_not() {
        let header = signature("s3cret", 1_700_000_000, b"{\"a\":1}");
        assert!(header.starts_with("t=1700000000,v1="), "{header}");
        assert_eq!(
            verify(&header, "s3cret", b"{\"a\":1}", 1_700_000_100, 300),
            Ok(())
        );
        assert_eq!(
            verify(&header, "s3cret", b"{\"a\":2}", 1_700_000_100, 300),
            Err(Unverified::Mismatch)
        );
        assert_eq!(
            verify(&header, "other", b"{\"a\":1}", 1_700_000_100, 300),
            Err(Unverified::Mismatch)
        );
        assert_eq!(
            verify(&header, "s3cret", b"{\"a\":1}", 1_700_000_301, 300),
            Err(Unverified::Stale)
        );
        assert_eq!(
            verify("v1=00", "s3cret", b"", 0, 300),
            Err(Unverified::Malformed)
        );
        // A hostile timestamp neither overflows nor slips through the window.
        let far = format!("t={},v1={}", i64::MIN, "0".repeat(64));
        assert_eq!(
            verify(&far, "s3cret", b"", 1_700_000_000, 300),
            Err(Unverified::Stale)
        );
        // A rotated secret: either MAC may match.
        let other = signature("old", 1_700_000_000, b"x");
        let both = format!("{header},v1={}", other.split("v1=").nth(1).unwrap());
        assert_eq!(verify(&both, "old", b"x", 1_700_000_000, 300), Ok(()));
    }

    #[test]
    fn the_mac_is_hmac_sha256_over_timestamp_dot_body() {
        // Reference: python3 -c "import hmac,hashlib;print(hmac.new(b'key',b'12.body',hashlib.sha256).hexdigest())"
        assert_eq!(
            signature("key", 12, b"body"),
            "t=12,v1=207315d59098aa7f7eda7f2b5ea2bb7fde0990a5248266262dc02564b4a4efe7"
        );
    }

    #[test]
    fn retries_back_off_exponentially_with_bounded_jitter() {
        assert_eq!(retry_delay_ms(1, 1000, 60_000, 0.0), 500);
        assert_eq!(retry_delay_ms(1, 1000, 60_000, 0.999), 999);
        assert_eq!(retry_delay_ms(3, 1000, 60_000, 0.0), 2000);
        assert_eq!(retry_delay_ms(30, 1000, 60_000, 0.0), 30_000);
        assert_eq!(retry_delay_ms(200, 1000, 60_000, 1.0), 60_000);
    }

    #[test]
    fn urls_must_be_http_and_public_unless_allowed() {
        use PrivateNetworks::*;
        assert!(check_url("https://hooks.example.com/tandem?x=1", Refused).is_ok());
        assert!(check_url("http://hooks.example.com:8080/", Refused).is_ok());
        for bad in [
            "ftp://example.com/",
            "example.com",
            "https://",
            "https://user:pw@example.com/",
            "https://example.com/#frag",
            "https://example.com:0/",
            "https://example.com:99999/",
            "https://exa mple.com/",
        ] {
            assert!(check_url(bad, Allowed).is_err(), "{bad}");
        }
        for private in [
            "http://127.0.0.1:9/",
            "http://localhost/",
            "http://10.1.2.3/",
            "http://192.168.0.1/",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]:8080/",
            "http://[fd00::1]/",
            "http://[::ffff:10.0.0.1]/",
            "http://0.0.0.0/",
            "http://100.64.0.1/",
            // The forms URL parsers also read as loopback or private.
            "http://127.1/",
            "http://2130706433/",
            "http://0x7f000001/",
            "http://0x7f.0.0.1/",
            "http://0177.0.0.1/",
            "http://10.0x10.1/",
            "http://0/",
            "http://127.0.0.1./",
            "http://[::127.0.0.1]/",
            "http://[64:ff9b::a00:1]/",
            "http://[2002:c0a8:1::]/",
            "http://[2002:7f00:1::1]:8080/",
        ] {
            assert!(check_url(private, Refused).is_err(), "{private}");
            assert!(check_url(private, Allowed).is_ok(), "{private}");
        }
        // Public addresses in the same forms pass; names that only look numeric are names.
        for public in [
            "http://8.8.8.8/",
            "http://134744072/",
            "http://[64:ff9b::808:808]/",
            "http://[2002:808:808::]/",
            "http://[2606:4700::1111]/",
            "https://1.example/",
            "https://10.example.com/",
            "http://0x7g.0.0.1/",
            "http://1.2.3.4.5/",
        ] {
            assert!(check_url(public, Refused).is_ok(), "{public}");
        }
    }

    #[test]
    fn a_subscription_reports_every_bad_field_at_once() {
        let p = parse_subscription(
            &json!({"url": "ftp://x", "events": ["ticket.created", "nope"], "active": "yes", "extra": 1}),
            PrivateNetworks::Refused,
            false,
        )
        .unwrap_err();
        let names: Vec<&str> = p.invalid_params.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(p.status, 422);
        for n in ["url", "events[1]", "active", "extra"] {
            assert!(names.contains(&n), "{names:?}");
        }
        let ok = parse_subscription(
            &json!({"url": "https://h.example/", "events": ["*", "*", "ticket.created"]}),
            PrivateNetworks::Refused,
            false,
        )
        .unwrap();
        assert_eq!(
            ok.events.as_deref(),
            Some(&["*".to_string(), "ticket.created".to_string()][..])
        );
        assert!(subscribes(&ok.events.unwrap(), "feedback.recorded"));
        assert!(
            parse_subscription(&json!({"active": false}), PrivateNetworks::Refused, true).is_ok()
        );
        assert!(
            parse_subscription(&json!({"active": false}), PrivateNetworks::Refused, false).is_err()
        );
        assert!(parse_subscription(&json!([1]), PrivateNetworks::Refused, true).is_err());
    }
}
