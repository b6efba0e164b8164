use super::*;
use crate::kb::{FaqEntry, Intent, KbMeta, KnowledgeBase, apply_changes};

fn turn(role: Role, text: &str, answered: Option<bool>) -> Turn {
    Turn {
        role,
        text: text.into(),
        intent: None,
        confidence: None,
        answered,
        negative: None,
    }
}

#[test]
fn the_question_is_the_last_one_the_bot_could_not_answer() {
    let transcript = [
        turn(Role::Customer, "do you sell dog food", None),
        turn(Role::Bot, "Sorry, I don't have an answer", Some(false)),
        turn(Role::Customer, "what about cat food then", None),
        turn(Role::Bot, "Sorry, I don't have an answer", Some(false)),
        turn(Role::Customer, "转人工 I want a person", None),
        turn(Role::Bot, "passing you to a person", None),
    ];
    assert_eq!(
        unanswered_question(&transcript),
        Some("what about cat food then")
    );
    let answered = [
        turn(Role::Customer, "退款多久到账", None),
        turn(Role::Bot, "48 小时内", Some(true)),
        turn(Role::Customer, "转人工", None),
    ];
    assert_eq!(unanswered_question(&answered), None);
    assert_eq!(unanswered_question(&[]), None);
}

fn draft() -> Draft {
    Draft {
        id: "dr_1".into(),
        status: DraftStatus::Draft,
        question: "你们卖宠物粮吗".into(),
        answer: "目前不卖。".into(),
        lang: "zh".into(),
        ticket_id: "tk_1".into(),
        question_id: None,
        intent: None,
        faq_id: None,
        reviewed_by: None,
        created_at: "t".into(),
        updated_at: "t".into(),
        version: 1,
    }
}

fn known() -> KnownIds<'static> {
    KnownIds {
        faq: &|id| id == "return_policy_7day",
        intent: &|id| id == "product_inquiry",
    }
}

fn names(p: &Problem) -> Vec<&str> {
    p.invalid_params.iter().map(|x| x.name.as_str()).collect()
}

#[test]
fn a_review_edits_then_accepts_merges_rejects_or_reopens() {
    let edit = ReviewInput {
        version: 1,
        answer: Some("目前不卖宠物粮，电话 13812345678".into()),
        ..Default::default()
    };
    let edited = review(&draft(), &edit, &known()).unwrap();
    assert_eq!(edited.version, 2);
    assert!(
        !edited.answer.contains("13812345678"),
        "masked: {}",
        edited.answer
    );

    let accept = ReviewInput {
        version: 2,
        status: Some(DraftStatus::Accepted),
        faq_id: Some("pet_food".into()),
        intent: Some("product_inquiry".into()),
        reviewed_by: Some("e2e-alice".into()),
        ..Default::default()
    };
    let accepted = review(&edited, &accept, &known()).unwrap();
    assert_eq!(
        (accepted.status, accepted.faq_id.as_deref()),
        (DraftStatus::Accepted, Some("pet_food"))
    );
    assert_eq!(
        FaqChange::of(&accepted),
        Some(FaqChange::AddEntry {
            draft: "dr_1".into(),
            id: "pet_food".into(),
            intent: Some("product_inquiry".into()),
            lang: "zh".into(),
            question: "你们卖宠物粮吗".into(),
            answer: accepted.answer.clone(),
        })
    );
    // Back to a draft: the decision and its entry id go.
    let reopen = ReviewInput {
        version: 3,
        status: Some(DraftStatus::Draft),
        ..Default::default()
    };
    let reopened = review(&accepted, &reopen, &known()).unwrap();
    assert_eq!(
        (reopened.status, reopened.faq_id.as_deref()),
        (DraftStatus::Draft, None)
    );
    assert_eq!(FaqChange::of(&reopened), None);

    let merge = ReviewInput {
        version: 4,
        status: Some(DraftStatus::Merged),
        faq_id: Some("return_policy_7day".into()),
        ..Default::default()
    };
    let merged = review(&reopened, &merge, &known()).unwrap();
    assert!(
        matches!(FaqChange::of(&merged), Some(FaqChange::AddParaphrase { faq, .. }) if faq == "return_policy_7day")
    );
}

#[test]
fn a_bad_review_says_every_field_and_a_stale_one_is_a_conflict() {
    let stale = ReviewInput {
        version: 7,
        ..Default::default()
    };
    assert_eq!(review(&draft(), &stale, &known()).unwrap_err().status, 409);
    let bad = ReviewInput {
        version: 1,
        status: Some(DraftStatus::Accepted),
        faq_id: Some("return_policy_7day".into()),
        intent: Some("nope".into()),
        lang: Some("fr".into()),
        question: Some(" ".into()),
        reviewed_by: Some("a b".into()),
        ..Default::default()
    };
    let p = review(&draft(), &bad, &known()).unwrap_err();
    assert_eq!(p.status, 422);
    assert_eq!(
        names(&p),
        ["question", "lang", "intent", "reviewed_by", "faq_id"]
    );
    let merge_nowhere = ReviewInput {
        version: 1,
        status: Some(DraftStatus::Merged),
        faq_id: Some("no_such_entry".into()),
        ..Default::default()
    };
    assert_eq!(
        names(&review(&draft(), &merge_nowhere, &known()).unwrap_err()),
        ["faq_id"]
    );
    let mut accepted = draft();
    accepted.status = DraftStatus::Accepted;
    let edit_decided = ReviewInput {
        version: 1,
        answer: Some("x".into()),
        ..Default::default()
    };
    assert_eq!(
        names(&review(&accepted, &edit_decided, &known()).unwrap_err()),
        ["status"]
    );
}

fn kb() -> KnowledgeBase {
    let meta: KbMeta = serde_yaml::from_str("format: 1\nname: t\n").unwrap();
    let intent: Intent =
        serde_yaml::from_str("id: product_inquiry\nname: {en: Products}\n").unwrap();
    let entry: FaqEntry = serde_yaml::from_str(
        "id: return_policy_7day\nquestion: {zh: 能退吗}\nanswer: {zh: 能}\nparaphrases: {zh: [不喜欢能退吗]}\n",
    )
    .unwrap();
    KnowledgeBase {
        meta,
        intents: vec![intent],
        intent_out_of_scope: Default::default(),
        faq: vec![entry],
        faq_no_answer: Default::default(),
        handoff: None,
    }
}

#[test]
fn changes_apply_all_or_nothing() {
    let add = FaqChange::AddEntry {
        draft: "dr_1".into(),
        id: "pet_food".into(),
        intent: Some("product_inquiry".into()),
        lang: "en".into(),
        question: "do you sell dog food".into(),
        answer: "Not at the moment.".into(),
    };
    let para = FaqChange::AddParaphrase {
        draft: "dr_2".into(),
        faq: "return_policy_7day".into(),
        lang: "zh".into(),
        text: "七天内还能退吗".into(),
    };
    let mut k = kb();
    apply_changes(&mut k, &[add.clone(), para.clone()]).unwrap();
    assert_eq!(k.faq.len(), 2);
    assert_eq!(k.faq[1].answer["en"], "Not at the moment.");
    assert_eq!(
        k.faq[0].paraphrases["zh"],
        ["不喜欢能退吗", "七天内还能退吗"]
    );

    let mut k = kb();
    let again = add_with_id(&add, "dr_3", "return_policy_7day");
    let nowhere = FaqChange::AddParaphrase {
        draft: "dr_4".into(),
        faq: "gone".into(),
        lang: "zh".into(),
        text: "x".into(),
    };
    let errors = apply_changes(&mut k, &[para, again, nowhere]).unwrap_err();
    assert_eq!(
        errors,
        [
            "draft dr_3: FAQ entry return_policy_7day exists already",
            "draft dr_4: no FAQ entry gone"
        ]
    );
    assert_eq!(k.faq[0].paraphrases["zh"].len(), 1, "nothing applied");
}

fn add_with_id(c: &FaqChange, draft: &str, new_id: &str) -> FaqChange {
    match c.clone() {
        FaqChange::AddEntry {
            intent,
            lang,
            question,
            answer,
            ..
        } => FaqChange::AddEntry {
            draft: draft.into(),
            id: new_id.into(),
            intent,
            lang,
            question,
            answer,
        },
        other => other,
    }
}

#[test]
fn a_change_reads_back_from_its_json_line() {
    let line = r#"{"op":"add_paraphrase","draft":"dr_9","faq":"return_policy_7day","lang":"zh","text":"能退吗"}"#;
    let c: FaqChange = serde_json::from_str(line).unwrap();
    assert_eq!(serde_json::to_string(&c).unwrap(), line);
    assert!(serde_json::from_str::<FaqChange>(r#"{"op":"drop_entry","id":"x"}"#).is_err());
}
