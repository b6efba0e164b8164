//! Customer records: created then replaced whole (version up), read back, listed with the
//! customer's tickets newest first.

use serde_json::json;

use super::memory;
use super::ticket::{create, open};
use crate::native::block_on;
use tandem_core::ticket::CustomerRecord;

#[test]
fn a_record_is_created_replaced_and_read_with_its_tickets() {
    let conn = memory();
    let s = open(&conn);
    assert!(block_on(s.customer("c1")).unwrap().is_none());
    let first: CustomerRecord = serde_json::from_value(json!({
        "name": "王小明", "tier": "vip", "language": "zh",
        "recent_orders": [{"id": "TD2026120100001", "status": "shipped", "total": 299.0, "currency": "CNY"}],
        "attributes": {"plan": "gold"}
    }))
    .unwrap();
    let (stored, created) = block_on(s.put_customer("c1", &first)).unwrap();
    assert!(created);
    assert_eq!((stored.version, stored.record.clone()), (1, first.clone()));
    // A PUT replaces the whole record: fields it leaves out are gone.
    let second: CustomerRecord =
        serde_json::from_value(json!({"name": "Wang", "tier": "standard"})).unwrap();
    let (stored, created) = block_on(s.put_customer("c1", &second)).unwrap();
    assert!(!created);
    assert_eq!(stored.version, 2);
    assert!(stored.record.recent_orders.is_empty());
    assert_eq!(block_on(s.customer("c1")).unwrap().unwrap().record, second);
    block_on(s.put_customer("c0", &first)).unwrap();
    let listed: Vec<String> = block_on(s.customers(10))
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(listed, ["c0", "c1"], "most recently updated first");
    assert_eq!(block_on(s.customers(1)).unwrap().len(), 1);
    let older = create(&s, "c1", "orders", false);
    let newer = create(&s, "c1", "general", false);
    create(&s, "c2", "orders", false);
    let tickets = block_on(s.customer_tickets("c1")).unwrap();
    let ids: Vec<&str> = tickets.iter().map(|t| t["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [newer.id.as_str(), older.id.as_str()]);
    assert!(
        tickets[0].get("transcript").is_none(),
        "a summary, not the conversation"
    );
}
