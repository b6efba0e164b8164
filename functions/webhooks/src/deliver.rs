//! `POST /v1/webhooks/deliver`: one delivery run. Claims what is due, posts each event signed,
//! records the outcome: delivered on a 2xx; otherwise again later (exponential backoff with
//! jitter) until `webhook_max_attempts`, then the dead-letter list.
//!
//! A receiver that fails once in a run is not called again in that run: its other deliveries
//! are released untried, so a receiver that is down costs one try per run, not one per event.
//! A run starts no try after [`START_TRIES_WITHIN_MS`]; the rest are released for the next.

use bytes::Bytes;
use http_body_util::Full;
use spin_sdk::http::{self, Method};
use std::collections::BTreeMap;
use tandem_adapter::query::Query;
use tandem_core::foundation::problem::Problem;
use tandem_core::webhook;
use tandem_stores::outbox::{Claimed, Outcome};

/// The retry policy, from the component's variables.
struct Policy {
    /// How long a claimed delivery stays hidden from other runs (`webhook_claim_lease_ms`):
    /// longer than a run's tries take, so a live run never races another; a run that died
    /// (host killed) holds its claims this long.
    lease_ms: u64,
    max_attempts: u32,
    base_ms: u64,
    cap_ms: u64,
}

async fn policy() -> Policy {
    Policy {
        lease_ms: tandem_adapter::variable_number(
            "webhook_claim_lease_ms",
            120_000,
            1_000..=3_600_000,
        )
        .await,
        max_attempts: tandem_adapter::variable_number("webhook_max_attempts", 8, 1..=50).await
            as u32,
        base_ms: tandem_adapter::variable_number("webhook_retry_base_ms", 30_000, 10..=86_400_000)
            .await,
        cap_ms: tandem_adapter::variable_number(
            "webhook_retry_cap_ms",
            21_600_000,
            10..=604_800_000,
        )
        .await,
    }
}

/// How long into a run a new try may start. A try waits at most 5 s to connect and 10 s for
/// the first byte (the host's outbound timeouts), so a run ends within ~25 s, inside the
/// host's 30 s request limit: a run cut off by that limit would hold its claims (each with a
/// try spent) until their lease ran out.
const START_TRIES_WITHIN_MS: i64 = 10_000;

pub async fn run(query: &Query) -> Result<serde_json::Value, Problem> {
    let limit = query.bounded("limit", 20, 200)? as u32;
    let policy = policy().await;
    let store = crate::store().await?;
    let started = tandem_adapter::sqlite::now_ms();
    let claimed = store.claim(limit, policy.lease_ms as i64).await?;
    let mut failed_receivers: BTreeMap<String, i64> = BTreeMap::new();
    let (mut delivered, mut retrying, mut dead, mut released) = (0, 0, 0, 0);
    for c in &claimed {
        let now = tandem_adapter::sqlite::now_ms();
        // Out of time, or its receiver already failed in this run: the try is given back.
        let retry_at = if now - started > START_TRIES_WITHIN_MS {
            Some(now)
        } else {
            failed_receivers.get(&c.subscription_id).copied()
        };
        if let Some(retry_at) = retry_at {
            store.settle(c, &Outcome::Released { retry_at }).await?;
            released += 1;
            continue;
        }
        let outcome = match send(c).await {
            Ok(status) if (200..300).contains(&status) => Outcome::Delivered { status },
            result => {
                let (status, error) = match result {
                    Ok(status) => (Some(status), format!("the receiver answered {status}")),
                    Err(e) => (None, e),
                };
                let retry_at = (c.attempts < policy.max_attempts).then(|| {
                    let delay = webhook::retry_delay_ms(
                        c.attempts,
                        policy.base_ms,
                        policy.cap_ms,
                        jitter(),
                    );
                    tandem_adapter::sqlite::now_ms() + delay as i64
                });
                failed_receivers.insert(
                    c.subscription_id.clone(),
                    retry_at.unwrap_or_else(tandem_adapter::sqlite::now_ms),
                );
                Outcome::Failed {
                    status,
                    error,
                    retry_at,
                }
            }
        };
        match &outcome {
            Outcome::Delivered { .. } => delivered += 1,
            Outcome::Failed {
                retry_at: Some(_), ..
            } => retrying += 1,
            Outcome::Failed { retry_at: None, .. } => dead += 1,
            Outcome::Released { .. } => released += 1,
        }
        store.settle(c, &outcome).await?;
    }
    Ok(serde_json::json!({
        "claimed": claimed.len(),
        "delivered": delivered,
        "retrying": retrying,
        "dead": dead,
        "released": released,
    }))
}

/// Posts one event; the receiver's status, or why there was none.
async fn send(c: &Claimed) -> Result<u16, String> {
    let now_seconds = tandem_adapter::sqlite::now_ms() / 1000;
    let signature = webhook::signature(&c.secret, now_seconds, c.body.as_bytes());
    let request = http::Request::builder()
        .method(Method::POST)
        .uri(&c.url)
        .header("content-type", "application/json")
        .header("content-length", c.body.len().to_string())
        .header("user-agent", "Tandem-Webhooks/1")
        .header(webhook::SIGNATURE_HEADER, signature)
        .header(webhook::EVENT_ID_HEADER, &c.event_id)
        .header(webhook::EVENT_TYPE_HEADER, &c.event_type)
        .header("tandem-delivery-attempt", c.attempts.to_string())
        .body(Full::new(Bytes::from(c.body.clone())))
        .map_err(|e| format!("the URL cannot be requested: {e}"))?;
    match http::send(request).await {
        Ok(response) => Ok(response.status().as_u16()),
        Err(e) => {
            let code = format!("{e:?}");
            Err(if code.contains("HttpRequestDenied") {
                "refused by the host: the receiver is not in allowed_outbound_hosts".to_string()
            } else {
                format!("no response: {code}")
            })
        }
    }
}

/// A number in [0, 1) from `wasi:random`, for the retry jitter.
fn jitter() -> f64 {
    let mut bytes = [0u8; 4];
    match getrandom::fill(&mut bytes) {
        Ok(()) => f64::from(u32::from_le_bytes(bytes)) / (f64::from(u32::MAX) + 1.0),
        Err(_) => 0.5,
    }
}
