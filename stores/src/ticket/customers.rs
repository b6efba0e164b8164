//! Customer records a CRM pushes (`ticket_customers`, docs/tickets.md "Customers"): one row per
//! customer id, replaced whole by each PUT, read by ticket creation, assist and the console.

// A Problem is the error of a request handler, built at most once per request.
#![allow(clippy::result_large_err)]

use super::{Store, TICKET_COLUMNS};
use crate::db::{Connection, Db, Value, now_ms, text};
use crate::ticket::rows::ticket_from_row;
use tandem_core::feedback::format_time;
use tandem_core::foundation::problem::Problem;
use tandem_core::ticket::CustomerRecord;

/// Most tickets `GET /v1/customers/{id}` lists, newest first.
pub const TICKETS_SHOWN: u32 = 20;

/// A stored record with its bookkeeping.
#[derive(Clone, Debug, serde::Serialize)]
pub struct StoredCustomer {
    pub id: String,
    #[serde(flatten)]
    pub record: CustomerRecord,
    pub created_at: String,
    pub updated_at: String,
    pub version: u32,
}

impl<C: Connection> Store<C> {
    /// Creates or replaces the record of `id`; returns it and whether it is new.
    pub async fn put_customer(
        &self,
        id: &str,
        record: &CustomerRecord,
    ) -> Result<(StoredCustomer, bool), Problem> {
        let body = serde_json::to_string(record).expect("a record serialises");
        self.db
            .write(async |db: &Db<C>| {
                let now = now_ms();
                let existed = !db
                    .query(
                        "SELECT 1 FROM ticket_customers WHERE id = ?",
                        vec![Value::Text(id.into())],
                    )
                    .await?
                    .is_empty();
                db.exec(
                    "INSERT INTO ticket_customers (id, record, tier, created_at, updated_at, version) \
                     VALUES (?1, ?2, ?3, ?4, ?4, 1) \
                     ON CONFLICT (id) DO UPDATE SET record = ?2, tier = ?3, updated_at = ?4, \
                     version = version + 1",
                    vec![
                        Value::Text(id.into()),
                        Value::Text(body.clone()),
                        text(record.tier.as_deref()),
                        Value::Integer(now),
                    ],
                )
                .await?;
                let stored = read(db, id)
                    .await?
                    .ok_or_else(|| Problem::internal("the customer vanished inside its transaction"))?;
                Ok((stored, !existed))
            })
            .await
    }

    /// The records, most recently updated first, at most `limit`.
    pub async fn customers(&self, limit: u32) -> Result<Vec<StoredCustomer>, Problem> {
        let rows = self
            .db
            .query(
                "SELECT id FROM ticket_customers ORDER BY updated_at DESC, id LIMIT ?",
                vec![Value::Integer(i64::from(limit))],
            )
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            if let Some(c) = read(&self.db, r.get::<&str>(0).unwrap_or_default()).await? {
                out.push(c);
            }
        }
        Ok(out)
    }

    /// The record of `id`, if a CRM pushed one.
    pub async fn customer(&self, id: &str) -> Result<Option<StoredCustomer>, Problem> {
        read(&self.db, id).await
    }

    /// The customer's latest tickets, newest first, as the console lists them.
    pub async fn customer_tickets(&self, id: &str) -> Result<Vec<serde_json::Value>, Problem> {
        let rows = self
            .db
            .query(
                &format!(
                    "SELECT {TICKET_COLUMNS} FROM ticket_tickets WHERE customer_id = ? \
                     ORDER BY created_at DESC, seq DESC LIMIT ?"
                ),
                vec![
                    Value::Text(id.into()),
                    Value::Integer(i64::from(TICKETS_SHOWN)),
                ],
            )
            .await?;
        rows.iter()
            .map(|r| {
                let t = ticket_from_row(r)?;
                Ok(serde_json::json!({
                    "id": t.id, "status": t.status.as_str(), "priority": t.priority,
                    "queue": t.queue, "category": t.category, "subject": t.subject,
                    "created_at": t.created_at, "resolved_at": t.resolved_at,
                }))
            })
            .collect()
    }
}

async fn read<C: Connection>(db: &Db<C>, id: &str) -> Result<Option<StoredCustomer>, Problem> {
    let rows = db
        .query(
            "SELECT record, created_at, updated_at, version FROM ticket_customers WHERE id = ?",
            vec![Value::Text(id.into())],
        )
        .await?;
    let Some(r) = rows.first() else {
        return Ok(None);
    };
    let bad = || Problem::internal("a stored customer record is unreadable");
    let record: CustomerRecord =
        serde_json::from_str(r.get::<&str>(0).ok_or_else(bad)?).map_err(|_| bad())?;
    Ok(Some(StoredCustomer {
        id: id.into(),
        record,
        created_at: format_time(r.get::<i64>(1).ok_or_else(bad)?),
        updated_at: format_time(r.get::<i64>(2).ok_or_else(bad)?),
        version: u32::try_from(r.get::<i64>(3).ok_or_else(bad)?).map_err(|_| bad())?,
    }))
}
