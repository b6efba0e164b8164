//! Customer records pushed by a CRM (`PUT /v1/customers/{id}`, docs/tickets.md "Customers"):
//! who a customer is, in what language they write, their tier and their recent orders. Tickets,
//! priority rules, the handoff decision and the agent console read them; a request's own
//! customer fields win over the record's.

// A Problem is the error of a request handler, built at most once per request.
#![allow(clippy::result_large_err)]

use super::{Customer, MAX_FIELD_BYTES, MAX_ID_BYTES, invalid};
use crate::foundation::problem::Problem;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Largest record body.
pub const MAX_RECORD_BYTES: usize = 16 * 1024;
/// Most orders a record keeps (the CRM sends the latest).
pub const MAX_ORDERS: usize = 20;
/// Most items listed per order, and attributes per record.
pub const MAX_ITEMS: usize = 20;

/// One recent order, as the CRM or ERP knows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Order {
    /// The order number, 1–64 bytes.
    pub id: String,
    /// Order status as the CRM words it (`shipped`, ...), at most 32 bytes.
    #[serde(default)]
    pub status: Option<String>,
    /// Order total, ≥ 0, in `currency`.
    #[serde(default)]
    pub total: Option<f64>,
    /// ISO 4217, three capital letters.
    #[serde(default)]
    pub currency: Option<String>,
    /// RFC 3339.
    #[serde(default)]
    pub placed_at: Option<String>,
    /// Item names, at most [`MAX_ITEMS`].
    #[serde(default)]
    pub items: Vec<String>,
}

/// The body of `PUT /v1/customers/{id}`: the whole record (a PUT replaces it).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerRecord {
    /// Display name, at most 256 bytes; fills a ticket's `customer.name` when the request leaves it
    /// out.
    #[serde(default)]
    pub name: Option<String>,
    /// `vip` raises ticket priority and counts in the handoff rules.
    #[serde(default)]
    pub tier: Option<String>,
    /// `zh` or `en`: the language replies and the console use.
    #[serde(default)]
    pub language: Option<String>,
    /// Shown only to agents.
    #[serde(default)]
    pub contact: Option<String>,
    /// Latest orders, at most [`MAX_ORDERS`]; shown in the agent console.
    #[serde(default)]
    pub recent_orders: Vec<Order>,
    /// Free key → value pairs from the CRM (plan, region, account manager...).
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// Which system pushed it (`salesforce`, `hubspot`, ...).
    #[serde(default)]
    pub source: Option<String>,
}

impl CustomerRecord {
    /// Every limit checked, every bad field named at once (422).
    pub fn validate(&self, id: &str) -> Result<(), Problem> {
        let mut bad: Vec<(String, String)> = Vec::new();
        if !valid_customer_id(id) {
            bad.push((
                "id".into(),
                format!("1 to {MAX_ID_BYTES} bytes, no control characters"),
            ));
        }
        self.check_texts(&mut bad);
        if let Some(lang) = &self.language
            && lang != "zh"
            && lang != "en"
        {
            bad.push(("language".into(), "zh or en".into()));
        }
        if self.attributes.len() > MAX_ITEMS
            || self.attributes.keys().any(|k| k.is_empty() || k.len() > 40)
        {
            bad.push((
                "attributes".into(),
                format!("at most {MAX_ITEMS} keys of 1 to 40 bytes"),
            ));
        }
        if self.recent_orders.len() > MAX_ORDERS {
            bad.push((
                "recent_orders".into(),
                format!("at most {MAX_ORDERS} orders (send the latest)"),
            ));
        }
        self.check_orders(&mut bad);
        invalid(bad)
    }

    /// Every free text: not blank, within its limit, no control characters.
    fn check_texts(&self, bad: &mut Vec<(String, String)>) {
        let mut text = |name: String, v: Option<&str>, max: usize| {
            if v.is_some_and(|v| {
                v.trim().is_empty() || v.len() > max || v.chars().any(char::is_control)
            }) {
                bad.push((name, format!("1 to {max} bytes of text")));
            }
        };
        text("name".into(), self.name.as_deref(), MAX_FIELD_BYTES);
        text("tier".into(), self.tier.as_deref(), 32);
        text("contact".into(), self.contact.as_deref(), MAX_FIELD_BYTES);
        text("source".into(), self.source.as_deref(), 40);
        for (k, v) in &self.attributes {
            text(format!("attributes.{k}"), Some(v), MAX_FIELD_BYTES);
        }
        for (i, o) in self.recent_orders.iter().enumerate().take(MAX_ORDERS) {
            text(format!("recent_orders[{i}].id"), Some(&o.id), 64);
            text(
                format!("recent_orders[{i}].status"),
                o.status.as_deref(),
                32,
            );
            for (j, item) in o.items.iter().enumerate().take(MAX_ITEMS) {
                text(
                    format!("recent_orders[{i}].items[{j}]"),
                    Some(item),
                    MAX_FIELD_BYTES,
                );
            }
        }
    }

    /// Each recent order's total, currency, time and item count.
    fn check_orders(&self, bad: &mut Vec<(String, String)>) {
        for (i, o) in self.recent_orders.iter().enumerate().take(MAX_ORDERS) {
            if o.total.is_some_and(|t| !t.is_finite() || t < 0.0) {
                bad.push((format!("recent_orders[{i}].total"), "a number ≥ 0".into()));
            }
            if o.currency
                .as_ref()
                .is_some_and(|c| c.len() != 3 || !c.bytes().all(|b| b.is_ascii_uppercase()))
            {
                bad.push((
                    format!("recent_orders[{i}].currency"),
                    "an ISO 4217 code (CNY, USD)".into(),
                ));
            }
            if o.placed_at
                .as_ref()
                .is_some_and(|t| crate::foundation::calendar::parse_rfc3339(t).is_none())
            {
                bad.push((
                    format!("recent_orders[{i}].placed_at"),
                    "an RFC 3339 time".into(),
                ));
            }
            if o.items.len() > MAX_ITEMS {
                bad.push((
                    format!("recent_orders[{i}].items"),
                    format!("at most {MAX_ITEMS} items"),
                ));
            }
        }
    }

    /// `customer` with the gaps filled from this record: what the request says wins.
    pub fn fill(&self, customer: &Customer) -> Customer {
        Customer {
            id: customer.id.clone(),
            name: customer.name.clone().or_else(|| self.name.clone()),
            channel: customer.channel.clone(),
            contact: customer.contact.clone().or_else(|| self.contact.clone()),
            tier: customer.tier.clone().or_else(|| self.tier.clone()),
        }
    }
}

/// A customer id: 1–128 bytes, not blank, no control characters (the same rule as tickets').
pub fn valid_customer_id(id: &str) -> bool {
    !id.trim().is_empty() && id.len() <= MAX_ID_BYTES && !id.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(v: serde_json::Value) -> CustomerRecord {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn a_full_record_is_valid_and_fills_only_the_gaps() {
        let r = record(json!({
            "name": "王小明", "tier": "vip", "language": "zh", "contact": "13812345678",
            "recent_orders": [{"id": "TD2026120100001", "status": "shipped", "total": 299.0,
                               "currency": "CNY", "placed_at": "2026-12-01T10:00:00+08:00",
                               "items": ["蓝牙耳机 earbuds"]}],
            "attributes": {"plan": "gold"}, "source": "salesforce"
        }));
        assert!(r.validate("cust-1").is_ok());
        let given = Customer {
            id: "cust-1".into(),
            name: Some("Wang".into()),
            channel: Some("web".into()),
            contact: None,
            tier: None,
        };
        let filled = r.fill(&given);
        assert_eq!(filled.name.as_deref(), Some("Wang"), "the request wins");
        assert_eq!(filled.tier.as_deref(), Some("vip"));
        assert_eq!(filled.contact.as_deref(), Some("13812345678"));
        assert!(filled.is_vip());
    }

    #[test]
    fn every_bad_field_is_named() {
        let r = record(json!({
            "name": "", "language": "fr", "tier": "x".repeat(40),
            "recent_orders": [{"id": "", "total": -1.0, "currency": "rmb", "placed_at": "yesterday"}],
            "attributes": {"": "v"}
        }));
        let p = r.validate("a\u{7}b").unwrap_err();
        assert_eq!(p.status, 422);
        let names: Vec<&str> = p.invalid_params.iter().map(|i| i.name.as_str()).collect();
        for n in [
            "id",
            "name",
            "tier",
            "language",
            "attributes",
            "recent_orders[0].id",
            "recent_orders[0].total",
            "recent_orders[0].currency",
            "recent_orders[0].placed_at",
        ] {
            assert!(names.contains(&n), "{n} in {names:?}");
        }
        let many = CustomerRecord {
            recent_orders: vec![
                Order {
                    id: "o".into(),
                    status: None,
                    total: None,
                    currency: None,
                    placed_at: None,
                    items: vec![]
                };
                MAX_ORDERS + 1
            ],
            ..Default::default()
        };
        assert!(many.validate("c").is_err());
        assert!(serde_json::from_value::<CustomerRecord>(json!({"nickname": "x"})).is_err());
    }
}
