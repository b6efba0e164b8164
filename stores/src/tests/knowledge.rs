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
        [
            "knowledge_drafts",
            "knowledge_migrations",
            "knowledge_questions"
        ]
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

#[test]
fn a_reply_to_an_unanswered_question_is_one_draft_reviewed_and_exported() {
    use tandem_core::drafts::{DraftStatus, KnownIds, ReviewInput, review};
    use tandem_core::kb::FaqChange;
    let conn = memory();
    let tickets = super::ticket::open(&conn);
    let knowledge = block_on(Store::open(&conn)).unwrap();
    // The ticket helper's transcript: "where is my order", then the bot's fallback.
    let ticket = super::ticket::create(&tickets, "cv_conversation", "orders", false);
    let v = [1.0f32, 0.0];
    block_on(knowledge.record_unanswered(&ask("cv_conversation", 1, "where is my order", &v, 5)))
        .unwrap();
    block_on(tickets.add_note(&ticket.id, Some("ann"), "It ships today, call 13812345678"))
        .unwrap();
    block_on(tickets.add_note(&ticket.id, Some("ann"), "It ships today from Hangzhou")).unwrap();

    let drafts = block_on(knowledge.drafts(None, 10)).unwrap();
    assert_eq!(drafts.len(), 1, "one draft per ticket: {drafts:?}");
    let d = &drafts[0];
    assert_eq!(
        (d.question.as_str(), d.answer.as_str()),
        ("where is my order", "It ships today from Hangzhou")
    );
    assert_eq!(
        (d.status, d.version, d.lang.as_str()),
        (DraftStatus::Draft, 2, "en")
    );
    assert_eq!(
        d.question_id.as_deref(),
        Some("cv_conversation:1"),
        "attached to its gap"
    );
    assert_eq!(d.ticket_id, ticket.id);

    let known = KnownIds {
        faq: &|id| id == "dispatch_time",
        intent: &|id| id == "order_status",
    };
    let accept = ReviewInput {
        version: 2,
        status: Some(DraftStatus::Accepted),
        faq_id: Some("ships_today".into()),
        intent: Some("order_status".into()),
        ..Default::default()
    };
    let done =
        block_on(knowledge.review(&d.id, |current| review(current, &accept, &known), 99)).unwrap();
    assert_eq!((done.status, done.version), (DraftStatus::Accepted, 3));
    // A decided draft keeps its answer when the agent replies again; a stale review is refused.
    block_on(tickets.add_note(&ticket.id, Some("ann"), "one more thing")).unwrap();
    let stored = block_on(knowledge.draft(&d.id)).unwrap().unwrap();
    assert_eq!(
        (stored.answer.as_str(), stored.version),
        ("It ships today from Hangzhou", 3)
    );
    let stale = block_on(knowledge.review(&d.id, |current| review(current, &accept, &known), 100));
    assert_eq!(stale.unwrap_err().status, 409);
    assert_eq!(
        block_on(knowledge.review("dr_none", |c| Ok(c.clone()), 1))
            .unwrap_err()
            .status,
        404
    );

    let changes = block_on(knowledge.changes()).unwrap();
    assert!(
        matches!(&changes[..], [FaqChange::AddEntry { id, intent: Some(i), .. }] if id == "ships_today" && i == "order_status")
    );
    assert_eq!(
        block_on(knowledge.drafts(Some(DraftStatus::Draft), 10))
            .unwrap()
            .len(),
        0
    );
    assert_eq!(
        block_on(knowledge.drafts(Some(DraftStatus::Accepted), 10))
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn a_reply_when_the_bot_answered_everything_is_no_draft() {
    let conn = memory();
    let tickets = super::ticket::open(&conn);
    let knowledge = block_on(Store::open(&conn)).unwrap();
    let mut input: tandem_core::ticket::CreateInput = serde_json::from_value(serde_json::json!({
        "customer": {"id": "c-2"},
        "transcript": [{"role": "customer", "text": "退款多久到账"},
                       {"role": "bot", "text": "48 小时内", "answered": true}]
    }))
    .unwrap();
    input.category = Some("refund_status".into());
    let created = block_on(tickets.create(
        &input,
        &super::ticket::draft(
            &input,
            "orders",
            tandem_core::foundation::vocab::Priority::Normal,
        ),
        None,
        false,
    ))
    .unwrap();
    block_on(tickets.add_note(&created.ticket.id, Some("ann"), "done")).unwrap();
    assert!(block_on(knowledge.drafts(None, 10)).unwrap().is_empty());
}

#[test]
fn an_assist_ticket_of_a_site_customer_finds_its_conversation_by_key() {
    use tandem_core::foundation::vocab::Priority;
    let conn = memory();
    let tickets = super::ticket::open(&conn);
    let knowledge = block_on(Store::open(&conn)).unwrap();
    let v = [1.0f32, 0.0];
    // The conversation's question kept for the gaps, its handoff turn marking it.
    block_on(knowledge.record_unanswered(&ask("cv_site", 1, "do you sell dog food", &v, 5)))
        .unwrap();
    let mut handoff = ask("cv_site", 2, "转人工", &v, 6);
    handoff.handed_off = true;
    block_on(knowledge.record_unanswered(&handoff)).unwrap();
    let (questions, _) = block_on(knowledge.questions(0, i64::MAX, 10)).unwrap();
    assert!(
        questions.iter().all(|q| q.handed_off),
        "one transaction marks both"
    );
    // Filed by assist for the site's own customer id, its key naming the conversation.
    let input: tandem_core::ticket::CreateInput = serde_json::from_value(serde_json::json!({
        "customer": {"id": "shop-customer-42"},
        "transcript": [{"role": "customer", "text": "do you sell dog food"},
                       {"role": "bot", "text": "passing you to a person"}]
    }))
    .unwrap();
    let draft = super::ticket::draft(&input, "general", Priority::Normal);
    let created =
        block_on(tickets.create(&input, &draft, Some("assist:cv_site:2"), false)).unwrap();
    block_on(tickets.add_note(&created.ticket.id, Some("ann"), "Not yet.")).unwrap();
    let drafts = block_on(knowledge.drafts(None, 10)).unwrap();
    assert_eq!(
        drafts.len(),
        1,
        "the bot's handoff turn has no fallback, the stored question counts"
    );
    // The latest stored question of the conversation: its handoff turn's.
    assert_eq!(drafts[0].question_id.as_deref(), Some("cv_site:2"));
    assert_eq!(block_on(knowledge.draft_counts()).unwrap()["draft"], 1);
    assert_eq!(block_on(knowledge.attached_drafts()).unwrap().len(), 1);
}
