//! Personal data in tickets: masked in answers, in every ticket table and in the database files,
//! all but the customer's contact.
//!
//! The composed ticket component (`target/tandem/ticket.wasm`, intent plugged in) behind the
//! real host, its real SQLite file, plain HTTP on loopback (docs/tickets.md; the shared app and
//! helpers are `tandem_tests::tickets`).

use serde_json::json;
use tandem_core::foundation::pii::{self, PiiKind};
use tandem_tests::tickets::{App, contains_bytes, id_of, new_ticket, rows, ticket_tables};

// ---------------------------------------------------------------------------------------------
// Personal data.

/// An 18-character resident ID with a valid ISO 7064 MOD 11-2 check character.
fn id_card(base17: &str) -> String {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = base17
        .bytes()
        .zip(WEIGHTS)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    let check = b"10X98765432"[(sum % 11) as usize] as char;
    format!("{base17}{check}")
}

/// `base` with its Luhn check digit appended.
fn luhn(base: &str) -> String {
    let sum: u32 = base
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 0 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    format!("{base}{}", (10 - sum % 10) % 10)
}

#[test]
fn personal_data_is_masked_everywhere_but_the_contact() {
    let app = App::start();
    let phone = "13812345678";
    let email = "wang.xiaoming@example.com";
    let id_no = id_card("11010519900307123");
    let card = luhn("622848001234567");
    let text = format!(
        "我的手机{phone}，邮箱 {email}，身份证号 {id_no}，银行卡 {card} 被扣了两次钱，订单 TD2026112612345 要退款"
    );
    // The test data is what the masker recognises.
    let kinds: Vec<PiiKind> = pii::find(&text).iter().map(|m| m.kind).collect();
    assert_eq!(
        kinds,
        [
            PiiKind::Phone,
            PiiKind::Email,
            PiiKind::IdCard,
            PiiKind::BankCard
        ],
        "{text}"
    );
    let bot = format!("好的，已记录您的手机 {phone} 和邮箱 {email}");
    let agent_text = format!("请核对银行卡 {card}");
    let body = json!({
        "customer": {"id": "pii-1", "name": "王小明", "contact": phone},
        "transcript": [
            {"role": "customer", "text": text},
            {"role": "bot", "text": bot},
            {"role": "agent", "text": agent_text},
        ],
        "category": "refund_request",
    });
    let out = app.create(&body);
    let t = &out["ticket"];
    let raw = [phone, email, id_no.as_str(), card.as_str()];

    assert_eq!(t["customer"]["contact"], phone);
    let turns = t["transcript"].as_array().unwrap();
    for (got, sent) in turns.iter().zip([&text, &bot, &agent_text]) {
        assert_eq!(got["text"], pii::mask(sent), "{got}");
    }
    let mut shown = t.clone();
    shown["customer"].as_object_mut().unwrap().remove("contact");
    for value in raw {
        assert!(!shown.to_string().contains(value), "{value} in {shown}");
    }
    let entities = t["entities"].as_array().unwrap();
    for m in pii::find(&text) {
        assert!(
            entities.contains(&json!({"kind": m.kind.as_str(), "value": m.masked})),
            "{:?} {} missing from {entities:?}",
            m.kind,
            m.masked
        );
    }
    assert!(entities.contains(&json!({"kind": "order_id", "value": "TD2026112612345"})));
    assert!(
        t["summary"].as_str().unwrap().contains("138****5678"),
        "{t}"
    );

    // A given subject and a note are masked too.
    let mut body2 = new_ticket("pii-2", &["call me"], Some("order_status"));
    body2["subject"] = format!("回电 {phone}").into();
    let t2 = app.create(&body2)["ticket"].clone();
    assert_eq!(t2["subject"], pii::mask(&format!("回电 {phone}")));
    let id2 = id_of(&t2);
    let res = app.agent(
        "POST",
        &format!("/v1/tickets/{id2}/events"),
        Some(&json!({"kind": "note", "text": format!("卡号 {card} 邮箱 {email}")})),
    );
    assert_eq!(res.status, 201, "{}", res.text());
    let res = app.patch(&id2, Some(1), &json!({"note": format!("身份证 {id_no}")}));
    assert_eq!(res.status, 200, "{}", res.text());

    // On disk: no raw value in any ticket table, except the contact column.
    let db = app.db();
    let tables = ticket_tables(&db);
    assert!(tables.contains(&"ticket_tickets".to_string()), "{tables:?}");
    let mut contact_seen = false;
    for table in &tables {
        for row in rows(&db, table) {
            for (column, value) in &row {
                if table == "ticket_tickets" && column.contains("contact") {
                    contact_seen |= value == phone;
                    continue;
                }
                for r in raw {
                    assert!(!value.contains(r), "{table}.{column} holds {r}: {value}");
                }
            }
        }
    }
    assert!(contact_seen, "the contact is stored verbatim for follow-up");
    drop(db);
    // Nor anywhere in the database files (journal and WAL included): these three were never
    // anyone's contact.
    for entry in std::fs::read_dir(app.dir.path().join("data")).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        for r in [email, id_no.as_str(), card.as_str()] {
            assert!(
                !contains_bytes(&bytes, r.as_bytes()),
                "{} holds {r}",
                path.display()
            );
        }
    }
}
