//! Subscriptions, events, deliveries: the admin side of the outbox.

use tandem_core::foundation::problem::Problem;
use tandem_core::webhook::{self, PrivateNetworks, SubscriptionInput};

use tandem_adapter::query::Query;

/// Whether receivers on private networks may be subscribed (`webhook_allow_private_networks`).
async fn private_networks() -> PrivateNetworks {
    if tandem_adapter::variable_flag("webhook_allow_private_networks", false).await {
        PrivateNetworks::Allowed
    } else {
        PrivateNetworks::Refused
    }
}

fn subscription_id(id: &str) -> Result<&str, Problem> {
    if id.len() == 19 && id.starts_with("wh_") && id[3..].bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(id)
    } else {
        Err(Problem::not_found(format!("no subscription {id}")))
    }
}

/// `POST /v1/webhooks`: the subscription, and its signing secret (shown this once).
pub async fn create(body: &serde_json::Value) -> Result<serde_json::Value, Problem> {
    let parsed = webhook::parse_subscription(body, private_networks().await, false)?;
    let input = SubscriptionInput {
        url: parsed.url.unwrap_or_default(),
        events: parsed.events.unwrap_or_default(),
        description: parsed.description.flatten(),
        active: parsed.active.unwrap_or(true),
    };
    let (stored, secret) = crate::store().await?.create_subscription(&input).await?;
    let mut out = serde_json::to_value(stored).expect("a subscription serialises");
    out["secret"] = secret.into();
    Ok(out)
}

pub async fn list() -> Result<serde_json::Value, Problem> {
    let store = crate::store().await?;
    Ok(serde_json::json!({
        "subscriptions": store.subscriptions().await?,
        "deliveries": store.counts().await?,
        "event_types": webhook::EVENT_TYPES,
    }))
}

pub async fn get(id: &str) -> Result<serde_json::Value, Problem> {
    let id = subscription_id(id)?;
    let store = crate::store().await?;
    let s = store
        .subscription(id)
        .await?
        .ok_or_else(|| Problem::not_found(format!("no subscription {id}")))?;
    Ok(serde_json::to_value(s).expect("a subscription serialises"))
}

pub async fn update(id: &str, body: &serde_json::Value) -> Result<serde_json::Value, Problem> {
    let id = subscription_id(id)?;
    let change = webhook::parse_subscription(body, private_networks().await, true)?;
    let store = crate::store().await?;
    let s = store
        .update_subscription(id, &change)
        .await?
        .ok_or_else(|| Problem::not_found(format!("no subscription {id}")))?;
    Ok(serde_json::to_value(s).expect("a subscription serialises"))
}

pub async fn delete(id: &str) -> Result<(), Problem> {
    let id = subscription_id(id)?;
    if crate::store().await?.delete_subscription(id).await? {
        Ok(())
    } else {
        Err(Problem::not_found(format!("no subscription {id}")))
    }
}

/// `GET /v1/webhooks/events?after=&limit=`: the outbox in order, for receivers that catch up
/// by reading instead of (or besides) being called.
pub async fn events(query: &Query) -> Result<serde_json::Value, Problem> {
    let after = match query.get("after") {
        None => 0,
        Some(a) => a.parse::<i64>().ok().filter(|a| *a >= 0).ok_or_else(|| {
            Problem::unprocessable("after must be an event position (seq) ≥ 0")
                .with_param("after", "an integer ≥ 0")
        })?,
    };
    let limit = query.bounded("limit", 100, 1000)? as u32;
    let events = crate::store().await?.events(after, limit).await?;
    let next = events
        .last()
        .and_then(|e| e["seq"].as_i64())
        .unwrap_or(after);
    Ok(serde_json::json!({"events": events, "next_after": next}))
}

/// `GET /v1/webhooks/deliveries?state=&subscription=&limit=`: newest first; `state=dead` is
/// the dead-letter list.
pub async fn deliveries(query: &Query) -> Result<serde_json::Value, Problem> {
    let state = query.get("state");
    if let Some(s) = state
        && !["pending", "delivered", "dead"].contains(&s)
    {
        return Err(Problem::unprocessable(format!("unknown state {s}"))
            .with_param("state", "pending, delivered or dead"));
    }
    // A filter, not a resource: a malformed id is the query's 422, an unknown one no rows.
    let subscription = query
        .get("subscription")
        .map(|id| {
            subscription_id(id).map_err(|_| {
                Problem::unprocessable(format!("subscription is \"{id}\""))
                    .with_param("subscription", "a subscription id: wh_ and 16 hex digits")
            })
        })
        .transpose()?;
    let limit = query.bounded("limit", 50, 500)? as u32;
    let store = crate::store().await?;
    Ok(serde_json::json!({
        "deliveries": store.deliveries(state, subscription, limit).await?,
        "counts": store.counts().await?,
    }))
}

/// `POST /v1/webhooks/deliveries/{id}/replay`: a dead delivery tried again from scratch.
pub async fn replay(id: &str) -> Result<serde_json::Value, Problem> {
    let seq = id
        .parse::<i64>()
        .ok()
        .filter(|s| *s > 0)
        .ok_or_else(|| Problem::not_found(format!("no delivery {id}")))?;
    crate::store().await?.replay(seq).await
}
