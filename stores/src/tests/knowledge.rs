//! The knowledge store: an unanswered question is stored once per turn with its embedding
//! bit-exact, a handoff marks every question of its conversation, and a range read keeps the
//! most recent questions, oldest first, with the range's total.

use super::{memory, schema_objects};
use crate::knowledge::{Store, Unanswered};
use crate::native::block_on;

fn ask<'a>(
    conversation: &'a str,
    turn: u32,
    text: &'a str,
    v: &'a [f32],
    at: i64,
) -> Unanswered<'a> {
    Unanswered {
        conversation_id: conversation,
        turn,
        text,
        lang: "zh",
        intent: None,
        embedding: v,
        handed_off: false,
        created_at_ms: at,
    }
}

#[test]
fn questions_are_stored_once_marked_and_read_back_by_range() {
    let conn = memory();
    let s = block_on(Store::open(&conn)).unwrap();
    assert_eq!(
        schema_objects(&conn, "table"),
        ["knowledge_migrations", "knowledge_questions"]
    );
    let v = [0.6f32, -0.8, 1e-7, f32::MIN_POSITIVE];
    assert!(block_on(s.record_unanswered(&ask("c1", 1, "你们卖宠物粮吗", &v, 10))).unwrap());
    assert!(!block_on(s.record_unanswered(&ask("c1", 1, "retried", &v, 11))).unwrap());
    let mut english = ask("c2", 1, "do you sell pet food", &v, 20);
    english.lang = "en";
    english.intent = Some("product_inquiry");
    block_on(s.record_unanswered(&english)).unwrap();
    block_on(s.record_unanswered(&ask("c1", 2, "猫粮呢", &v, 30))).unwrap();
    block_on(s.mark_handed_off("c1")).unwrap();

    let (all, total) = block_on(s.questions(0, i64::MAX, 10)).unwrap();
    assert_eq!(total, 3);
    let ids: Vec<&str> = all.iter().map(|q| q.id.as_str()).collect();
    assert_eq!(ids, ["c1:1", "c2:1", "c1:2"]);
    assert_eq!(all[0].text, "你们卖宠物粮吗", "the first write wins");
    assert_eq!(all[0].embedding, v);
    assert_eq!(
        all.iter().map(|q| q.handed_off).collect::<Vec<_>>(),
        [true, false, true]
    );
    assert_eq!(
        (all[1].lang.as_str(), all[1].intent.as_deref()),
        ("en", Some("product_inquiry"))
    );

    // The two most recent, oldest first; the range [15, 30) holds one.
    let (recent, total) = block_on(s.questions(0, i64::MAX, 2)).unwrap();
    assert_eq!(
        (recent[0].id.as_str(), recent[1].id.as_str(), total),
        ("c2:1", "c1:2", 3)
    );
    let (middle, total) = block_on(s.questions(15, 30, 10)).unwrap();
    assert_eq!((middle.len(), total), (1, 1));
}
