//! The outbox (database `default`, tables `outbox_*`; docs/webhooks.md): the events Tandem tells
//! the outside, the webhook subscriptions, and one delivery row per event and subscription.
//!
//! [`emit`] runs inside the transaction of the change it reports (ticket and feedback stores),
//! so there is no event without its change and no change without its event; it fans the event
//! out to the subscriptions of its type in the same transaction. The `webhooks` component
//! [claims](Store::claim) due deliveries under a lease, sends them, and records the outcome: a
//! delivery whose sender died is claimed again when its lease runs out (at least once; receivers
//! dedupe on the event id).

// A Problem is the error of a request handler, built at most once per request.
#![allow(clippy::result_large_err)]

use crate::db::{Connection, Db, Migration, Row, Value, now_ms, text};
use tandem_core::foundation::problem::Problem;

/// The store's name: its tables' prefix and its name in error messages.
pub const NAME: &str = "outbox";

pub const MIGRATIONS: &[Migration] = &[(
    1,
    r#"
    CREATE TABLE outbox_events (
        seq        INTEGER PRIMARY KEY AUTOINCREMENT,
        id         TEXT    NOT NULL UNIQUE,
        type       TEXT    NOT NULL,
        subject    TEXT,
        payload    TEXT    NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE outbox_subscriptions (
        id          TEXT    PRIMARY KEY,
        url         TEXT    NOT NULL,
        events      TEXT    NOT NULL,
        description TEXT,
        secret      TEXT    NOT NULL,
        active      INTEGER NOT NULL CHECK (active IN (0, 1)),
        created_at  INTEGER NOT NULL,
        updated_at  INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE outbox_deliveries (
        seq             INTEGER PRIMARY KEY AUTOINCREMENT,
        event_seq       INTEGER NOT NULL,
        subscription_id TEXT    NOT NULL,
        state           TEXT    NOT NULL CHECK (state IN ('pending', 'delivered', 'dead')),
        attempts        INTEGER NOT NULL CHECK (attempts >= 0),
        next_at         INTEGER NOT NULL,
        last_status     INTEGER,
        last_error      TEXT,
        delivered_at    INTEGER,
        updated_at      INTEGER NOT NULL,
        UNIQUE (subscription_id, event_seq)
    );
    CREATE INDEX outbox_deliveries_due ON outbox_deliveries (next_at, seq) WHERE state = 'pending';
    CREATE INDEX outbox_deliveries_by_state ON outbox_deliveries (state, seq)
    "#,
)];

/// Records event `event_type` about `subject` (a ticket or conversation id) with `data` (no
/// free text: ids, states and masked values only), and a pending delivery for every active
/// subscription to its type. Call it inside the change's own write transaction.
pub async fn emit<C: Connection>(
    db: &Db<C>,
    event_type: &str,
    subject: Option<&str>,
    data: serde_json::Value,
) -> Result<String, Problem> {
    debug_assert!(tandem_core::webhook::EVENT_TYPES.contains(&event_type));
    let id = format!("evt_{}", tandem_core::ticket::hex(&crate::random::<12>()?));
    let now = now_ms();
    db.exec(
        "INSERT INTO outbox_events (id, type, subject, payload, created_at) VALUES (?, ?, ?, ?, ?)",
        vec![
            Value::Text(id.clone()),
            Value::Text(event_type.into()),
            text(subject),
            Value::Text(data.to_string()),
            Value::Integer(now),
        ],
    )
    .await?;
    db.exec(
        "INSERT INTO outbox_deliveries (event_seq, subscription_id, state, attempts, next_at, \
         updated_at) \
         SELECT (SELECT seq FROM outbox_events WHERE id = ?1), s.id, 'pending', 0, ?2, ?2 \
         FROM outbox_subscriptions s \
         WHERE s.active = 1 AND EXISTS \
             (SELECT 1 FROM json_each(s.events) WHERE value IN ('*', ?3))",
        vec![
            Value::Text(id.clone()),
            Value::Integer(now),
            Value::Text(event_type.into()),
        ],
    )
    .await?;
    Ok(id)
}

/// A stored event as receivers get it (the body of a delivery).
pub fn envelope(id: &str, event_type: &str, created_at: i64, payload: &str) -> String {
    let data: serde_json::Value = serde_json::from_str(payload).unwrap_or(serde_json::Value::Null);
    serde_json::json!({
        "id": id,
        "type": event_type,
        "created_at": tandem_core::feedback::format_time(created_at),
        "data": data,
    })
    .to_string()
}

/// A subscription as stored (the secret aside: it is shown once, at creation).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Subscription {
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    pub description: Option<String>,
    pub active: bool,
    pub created_at: String,
    pub updated_at: String,
}

/// One delivery due now, claimed by [`Store::claim`].
#[derive(Clone, Debug)]
pub struct Claimed {
    pub seq: i64,
    pub subscription_id: String,
    pub url: String,
    pub secret: String,
    /// Tries so far, this one included.
    pub attempts: u32,
    pub event_id: String,
    pub event_type: String,
    /// The JSON body to send ([`envelope`]).
    pub body: String,
}

/// What became of one try.
pub enum Outcome {
    /// A 2xx from the receiver.
    Delivered { status: u16 },
    /// Anything else; `retry_at` is when to try again, `None` when the tries are used up
    /// (the delivery goes to the dead-letter list).
    Failed {
        status: Option<u16>,
        error: String,
        retry_at: Option<i64>,
    },
    /// Not tried (its receiver failed earlier in the same run): back to pending at `retry_at`,
    /// the claim's try not counted.
    Released { retry_at: i64 },
}

const SUBSCRIPTION_COLUMNS: &str = "id, url, events, description, active, created_at, updated_at";

fn subscription_from_row(r: &Row) -> Result<Subscription, Problem> {
    let bad = || Problem::internal("a stored subscription is unreadable");
    let time = |i| {
        r.get::<i64>(i)
            .map(tandem_core::feedback::format_time)
            .ok_or_else(bad)
    };
    Ok(Subscription {
        id: r.get::<&str>(0).ok_or_else(bad)?.into(),
        url: r.get::<&str>(1).ok_or_else(bad)?.into(),
        events: serde_json::from_str(r.get::<&str>(2).ok_or_else(bad)?).map_err(|_| bad())?,
        description: r.get::<&str>(3).map(str::to_string),
        active: r.get::<i64>(4) == Some(1),
        created_at: time(5)?,
        updated_at: time(6)?,
    })
}

fn delivery_json(r: &Row) -> serde_json::Value {
    let time = |i| r.get::<i64>(i).map(tandem_core::feedback::format_time);
    serde_json::json!({
        "id": r.get::<i64>(0),
        "subscription_id": r.get::<&str>(1),
        "event_id": r.get::<&str>(2),
        "event_type": r.get::<&str>(3),
        "state": r.get::<&str>(4),
        "attempts": r.get::<i64>(5),
        "next_attempt_at": if r.get::<&str>(4) == Some("pending") { time(6) } else { None },
        "last_status": r.get::<i64>(7),
        "last_error": r.get::<&str>(8),
        "delivered_at": time(9),
        "updated_at": time(10),
    })
}

const DELIVERY_SELECT: &str = "SELECT d.seq, d.subscription_id, e.id, e.type, d.state, \
    d.attempts, d.next_at, d.last_status, d.last_error, d.delivered_at, d.updated_at \
    FROM outbox_deliveries d JOIN outbox_events e ON e.seq = d.event_seq";

/// The outbox as the `webhooks` component sees it.
pub struct Store<C> {
    db: Db<C>,
}

impl<C: Connection> Store<C> {
    /// The store on `conn`, its schema brought up to date.
    pub async fn open(conn: C) -> Result<Store<C>, Problem> {
        Ok(Store {
            db: Db::open(conn, NAME, MIGRATIONS).await?,
        })
    }

    /// Stores a new subscription under a fresh id and signing secret; returns it and the
    /// secret (which no later read shows).
    pub async fn create_subscription(
        &self,
        input: &tandem_core::webhook::SubscriptionInput,
    ) -> Result<(Subscription, String), Problem> {
        let hex = tandem_core::ticket::hex;
        let id = format!("wh_{}", hex(&crate::random::<8>()?));
        let id = id.as_str();
        let secret = format!("whsec_{}", hex(&crate::random::<24>()?));
        let now = now_ms();
        self.db
            .exec(
                "INSERT INTO outbox_subscriptions (id, url, events, description, secret, active, \
                 created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                vec![
                    Value::Text(id.into()),
                    Value::Text(input.url.clone()),
                    Value::Text(serde_json::to_string(&input.events).expect("strings serialise")),
                    text(input.description.as_deref()),
                    Value::Text(secret.clone()),
                    Value::Integer(i64::from(input.active)),
                    Value::Integer(now),
                    Value::Integer(now),
                ],
            )
            .await?;
        let stored = self
            .subscription(id)
            .await?
            .ok_or_else(|| Problem::internal("the subscription vanished after its insert"))?;
        Ok((stored, secret))
    }

    pub async fn subscription(&self, id: &str) -> Result<Option<Subscription>, Problem> {
        let rows = self
            .db
            .query(
                &format!("SELECT {SUBSCRIPTION_COLUMNS} FROM outbox_subscriptions WHERE id = ?"),
                vec![Value::Text(id.into())],
            )
            .await?;
        rows.first().map(subscription_from_row).transpose()
    }

    pub async fn subscriptions(&self) -> Result<Vec<Subscription>, Problem> {
        let rows = self
            .db
            .query(
                &format!(
                    "SELECT {SUBSCRIPTION_COLUMNS} FROM outbox_subscriptions ORDER BY created_at, id"
                ),
                vec![],
            )
            .await?;
        rows.iter().map(subscription_from_row).collect()
    }

    /// Applies the fields a PATCH set; `None` when there is no such subscription.
    pub async fn update_subscription(
        &self,
        id: &str,
        change: &tandem_core::webhook::PartialSubscription,
    ) -> Result<Option<Subscription>, Problem> {
        let mut sets = vec!["updated_at = ?".to_string()];
        let mut params = vec![Value::Integer(now_ms())];
        if let Some(url) = &change.url {
            sets.push("url = ?".into());
            params.push(Value::Text(url.clone()));
        }
        if let Some(events) = &change.events {
            sets.push("events = ?".into());
            params.push(Value::Text(
                serde_json::to_string(events).expect("strings serialise"),
            ));
        }
        if let Some(description) = &change.description {
            sets.push("description = ?".into());
            params.push(text(description.as_deref()));
        }
        if let Some(active) = change.active {
            sets.push("active = ?".into());
            params.push(Value::Integer(i64::from(active)));
        }
        params.push(Value::Text(id.into()));
        self.db
            .exec(
                &format!(
                    "UPDATE outbox_subscriptions SET {} WHERE id = ?",
                    sets.join(", ")
                ),
                params,
            )
            .await?;
        self.subscription(id).await
    }

    /// Deletes a subscription and its deliveries; whether it existed.
    pub async fn delete_subscription(&self, id: &str) -> Result<bool, Problem> {
        self.db
            .write(async |db: &Db<C>| {
                let found = !db
                    .query(
                        "SELECT 1 FROM outbox_subscriptions WHERE id = ?",
                        vec![Value::Text(id.into())],
                    )
                    .await?
                    .is_empty();
                for sql in [
                    "DELETE FROM outbox_deliveries WHERE subscription_id = ?",
                    "DELETE FROM outbox_subscriptions WHERE id = ?",
                ] {
                    db.exec(sql, vec![Value::Text(id.into())]).await?;
                }
                Ok(found)
            })
            .await
    }

    /// Events after position `after`, oldest first, at most `limit`.
    pub async fn events(&self, after: i64, limit: u32) -> Result<Vec<serde_json::Value>, Problem> {
        let rows = self
            .db
            .query(
                "SELECT seq, id, type, subject, payload, created_at FROM outbox_events \
                 WHERE seq > ? ORDER BY seq LIMIT ?",
                vec![Value::Integer(after), Value::Integer(i64::from(limit))],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| {
                let data: serde_json::Value = r
                    .get::<&str>(4)
                    .and_then(|p| serde_json::from_str(p).ok())
                    .unwrap_or(serde_json::Value::Null);
                serde_json::json!({
                    "seq": r.get::<i64>(0),
                    "id": r.get::<&str>(1),
                    "type": r.get::<&str>(2),
                    "subject": r.get::<&str>(3),
                    "created_at": r.get::<i64>(5).map(tandem_core::feedback::format_time),
                    "data": data,
                })
            })
            .collect())
    }

    /// Deliveries, newest first, filtered by state and subscription.
    pub async fn deliveries(
        &self,
        state: Option<&str>,
        subscription: Option<&str>,
        limit: u32,
    ) -> Result<Vec<serde_json::Value>, Problem> {
        let rows = self
            .db
            .query(
                &format!(
                    "{DELIVERY_SELECT} WHERE (?1 IS NULL OR d.state = ?1) \
                     AND (?2 IS NULL OR d.subscription_id = ?2) ORDER BY d.seq DESC LIMIT ?3"
                ),
                vec![
                    text(state),
                    text(subscription),
                    Value::Integer(i64::from(limit)),
                ],
            )
            .await?;
        Ok(rows.iter().map(delivery_json).collect())
    }

    /// Counts by state, for the deliveries page and the health of the outbox.
    pub async fn counts(&self) -> Result<serde_json::Value, Problem> {
        let rows = self
            .db
            .query(
                "SELECT state, COUNT(*) FROM outbox_deliveries GROUP BY state",
                vec![],
            )
            .await?;
        let mut out = serde_json::json!({"pending": 0, "delivered": 0, "dead": 0});
        for r in &rows {
            if let (Some(state), Some(n)) = (r.get::<&str>(0), r.get::<i64>(1)) {
                out[state] = n.into();
            }
        }
        Ok(out)
    }

    /// A dead delivery back to pending, due now, its tries reset. 404 unknown, 409 not dead.
    pub async fn replay(&self, seq: i64) -> Result<serde_json::Value, Problem> {
        self.db
            .write(async |db: &Db<C>| {
                let rows = db
                    .query(
                        "SELECT state FROM outbox_deliveries WHERE seq = ?",
                        vec![Value::Integer(seq)],
                    )
                    .await?;
                match rows.first().and_then(|r| r.get::<&str>(0)) {
                    None => return Err(Problem::not_found(format!("no delivery {seq}"))),
                    Some("dead") => {}
                    Some(other) => {
                        return Err(Problem::conflict(format!(
                            "delivery {seq} is {other}; only a dead delivery is replayed"
                        )));
                    }
                }
                let now = now_ms();
                db.exec(
                    "UPDATE outbox_deliveries SET state = 'pending', attempts = 0, next_at = ?, \
                     updated_at = ? WHERE seq = ?",
                    vec![
                        Value::Integer(now),
                        Value::Integer(now),
                        Value::Integer(seq),
                    ],
                )
                .await?;
                let rows = db
                    .query(
                        &format!("{DELIVERY_SELECT} WHERE d.seq = ?"),
                        vec![Value::Integer(seq)],
                    )
                    .await?;
                rows.first().map(delivery_json).ok_or_else(|| {
                    Problem::internal("the delivery vanished inside its transaction")
                })
            })
            .await
    }

    /// Claims up to `limit` due deliveries of active subscriptions, oldest due first: each one's
    /// try is counted and it is hidden from other runs for `lease_ms` (after which, if its
    /// sender died, it is due again).
    pub async fn claim(&self, limit: u32, lease_ms: i64) -> Result<Vec<Claimed>, Problem> {
        self.db
            .write(async |db: &Db<C>| {
                let now = now_ms();
                let rows = db
                    .query(
                        "SELECT d.seq, d.subscription_id, s.url, s.secret, d.attempts, e.id, \
                         e.type, e.payload, e.created_at \
                         FROM outbox_deliveries d \
                         JOIN outbox_events e ON e.seq = d.event_seq \
                         JOIN outbox_subscriptions s ON s.id = d.subscription_id \
                         WHERE d.state = 'pending' AND d.next_at <= ? AND s.active = 1 \
                         ORDER BY d.next_at, d.seq LIMIT ?",
                        vec![Value::Integer(now), Value::Integer(i64::from(limit))],
                    )
                    .await?;
                let mut claimed = Vec::new();
                for r in &rows {
                    let bad = || Problem::internal("a stored delivery is unreadable");
                    let c = Claimed {
                        seq: r.get::<i64>(0).ok_or_else(bad)?,
                        subscription_id: r.get::<&str>(1).ok_or_else(bad)?.into(),
                        url: r.get::<&str>(2).ok_or_else(bad)?.into(),
                        secret: r.get::<&str>(3).ok_or_else(bad)?.into(),
                        attempts: u32::try_from(r.get::<i64>(4).ok_or_else(bad)? + 1)
                            .map_err(|_| bad())?,
                        event_id: r.get::<&str>(5).ok_or_else(bad)?.into(),
                        event_type: r.get::<&str>(6).ok_or_else(bad)?.into(),
                        body: envelope(
                            r.get::<&str>(5).ok_or_else(bad)?,
                            r.get::<&str>(6).ok_or_else(bad)?,
                            r.get::<i64>(8).ok_or_else(bad)?,
                            r.get::<&str>(7).ok_or_else(bad)?,
                        ),
                    };
                    db.exec(
                        "UPDATE outbox_deliveries SET attempts = attempts + 1, next_at = ?, \
                         updated_at = ? WHERE seq = ?",
                        vec![
                            Value::Integer(now + lease_ms),
                            Value::Integer(now),
                            Value::Integer(c.seq),
                        ],
                    )
                    .await?;
                    claimed.push(c);
                }
                Ok(claimed)
            })
            .await
    }

    /// Records what became of a claimed try. Fenced by the claim: a run whose lease ran out
    /// (another run has claimed the delivery since, or settled it) changes nothing.
    pub async fn settle(&self, claim: &Claimed, outcome: &Outcome) -> Result<(), Problem> {
        let (seq, attempts) = (claim.seq, i64::from(claim.attempts));
        let now = now_ms();
        let (sql, params) = match outcome {
            Outcome::Delivered { status } => (
                "UPDATE outbox_deliveries SET state = 'delivered', last_status = ?, \
                 last_error = NULL, delivered_at = ?, updated_at = ? WHERE seq = ? AND state = 'pending' AND attempts = ?",
                vec![
                    Value::Integer(i64::from(*status)),
                    Value::Integer(now),
                    Value::Integer(now),
                    Value::Integer(seq),
                    Value::Integer(attempts),
                ],
            ),
            Outcome::Failed {
                status,
                error,
                retry_at,
            } => (
                "UPDATE outbox_deliveries SET state = ?, last_status = ?, last_error = ?, \
                 next_at = ?, updated_at = ? WHERE seq = ? AND state = 'pending' AND attempts = ?",
                vec![
                    Value::Text(
                        if retry_at.is_some() {
                            "pending"
                        } else {
                            "dead"
                        }
                        .into(),
                    ),
                    status.map_or(Value::Null, |s| Value::Integer(i64::from(s))),
                    Value::Text(error.chars().take(500).collect()),
                    Value::Integer(retry_at.unwrap_or(now)),
                    Value::Integer(now),
                    Value::Integer(seq),
                    Value::Integer(attempts),
                ],
            ),
            Outcome::Released { retry_at } => (
                "UPDATE outbox_deliveries SET attempts = MAX(attempts - 1, 0), next_at = ?, \
                 updated_at = ? WHERE seq = ? AND state = 'pending' AND attempts = ?",
                vec![
                    Value::Integer(*retry_at),
                    Value::Integer(now),
                    Value::Integer(seq),
                    Value::Integer(attempts),
                ],
            ),
        };
        self.db.exec(sql, params).await
    }
}
