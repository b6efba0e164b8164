use super::*;

fn file(path: &str, text: &str) -> SourceFile {
    SourceFile {
        path: path.into(),
        text: text.into(),
    }
}

const META: &str = "format: 1\nname: t\nmin_examples_per_intent: 2\nqueues:\n  - id: orders\n    name: {zh: 订单组, en: Orders}\n";

fn intents(body: &str) -> Vec<SourceFile> {
    vec![file("kb/kb.yaml", META), file("kb/intents.yaml", body)]
}

#[test]
fn a_faq_tag_must_be_an_id() {
    let mut files = intents(
        "intents:\n  - id: order_status\n    name: {zh: 查询订单, en: Order status}\n    examples:\n      zh: [我的订单到哪了, 订单什么时候发货]\n      en: [where is my order, has it shipped]\n",
    );
    files.push(file(
            "kb/faq.yaml",
            "faq:\n  - id: ship\n    tags: [shipping, Gift Cards]\n    question: {en: When do you ship?}\n    answer: {en: Within a day.}\n",
        ));
    let msgs: Vec<String> = load(&files).errors().map(|d| d.to_string()).collect();
    assert_eq!(
        msgs,
        ["kb/faq.yaml:2: faq \"ship\": invalid tag \"Gift Cards\" (want [a-z0-9_]{1,64})"]
    );
}

#[test]
fn loads_a_valid_kb() {
    let l = load(&intents(
        "intents:\n  - id: order_status\n    name: {zh: 查询订单, en: Order status}\n    queue: orders\n    examples:\n      zh: [我的订单到哪了, 订单什么时候发货]\n      en: [where is my order, has it shipped]\n",
    ));
    assert!(l.diagnostics.is_empty(), "{:?}", l.diagnostics);
    let set = TrainingSet::from_kb(&l.kb.unwrap());
    assert_eq!(set.labels, ["order_status"]);
    assert_eq!(set.examples.len(), 4);
}

#[test]
fn reports_file_and_line() {
    let body = "intents:\n  - id: a\n    name: {zh: 甲, en: A}\n    examples:\n      en: [hello there, bye]\n  - id: b\n    name: {zh: 乙, en: B}\n    examples:\n      en: [Hello  there]\n  - id: a\n    name: {zh: 甲, en: A}\n    examples: {}\n";
    let l = load(&intents(body));
    let msgs: Vec<String> = l.diagnostics.iter().map(|d| d.to_string()).collect();
    assert!(l.kb.is_none());
    assert!(
        msgs.contains(&"kb/intents.yaml:10: duplicate intent id \"a\"".to_string()),
        "{msgs:?}"
    );
    assert!(
        msgs.iter()
            .any(|m| m.starts_with("kb/intents.yaml:9: example \"Hello  there\" is under both")),
        "{msgs:?}"
    );
    assert!(
        msgs.iter()
            .any(|m| m.starts_with("kb/intents.yaml:6: warning:")),
        "too few examples: {msgs:?}"
    );
    assert!(
        msgs.contains(&"kb/intents.yaml:10: intent \"a\" has no examples".to_string()),
        "{msgs:?}"
    );
}

#[test]
fn calendars_are_checked_with_lines() {
    let meta = "format: 1\nname: t\nmin_examples_per_intent: 1\ncalendars:\n  desk:\n    utc_offset: \"+08:00\"\n    weekly:\n      mon: [\"09:00-12:00\", \"11:30-18:00\"]\n      tue: [\"21:00-02:00\"]\n    holidays: [2026-10-01, 2026-13-01]\n    special_days:\n      2026-10-10: [\"09:00-12:00\"]\n  spare:\n    utc_offset: Asia/Shanghai\nqueues:\n  - id: orders\n    hours: desk\n  - id: vip\n    hours: nights\n";
    let files = vec![
        file("kb/kb.yaml", meta),
        file(
            "kb/intents.yaml",
            "intents:\n  - id: a\n    name: {zh: 甲, en: A}\n    examples:\n      en: [hello]\n",
        ),
    ];
    let l = load(&files);
    let msgs: Vec<String> = l.diagnostics.iter().map(|d| d.to_string()).collect();
    assert!(l.kb.is_none(), "{msgs:?}");
    let want = [
        "kb/kb.yaml:8: calendar \"desk\": mon: 09:00-12:00 overlaps 11:30-18:00",
        "kb/kb.yaml:9: calendar \"desk\": tue: \"21:00-02:00\" ends before it starts",
        "kb/kb.yaml:10: calendar \"desk\": holiday \"2026-13-01\" is not a date",
        "kb/kb.yaml:14: calendar \"spare\": utc_offset \"Asia/Shanghai\" is not +HH:MM",
        "kb/kb.yaml:13: warning: calendar \"spare\" is used by no queue",
        "kb/kb.yaml:19: queue \"vip\": unknown calendar \"nights\"",
    ];
    for w in want {
        assert!(msgs.iter().any(|m| m.starts_with(w)), "{w}\n{msgs:#?}");
    }
    assert_eq!(msgs.len(), want.len(), "{msgs:#?}");
    // A good calendar loads, and its queue names it.
    let good = meta
        .replace("\"11:30-18:00\"", "\"13:30-18:00\"")
        .replace("\"21:00-02:00\"", "\"21:00-24:00\"")
        .replace(", 2026-13-01", "")
        .replace("Asia/Shanghai", "\"-05:00\"")
        .replace("nights", "spare");
    let l = load(&[file("kb/kb.yaml", &good), files[1].clone()]);
    assert!(l.diagnostics.is_empty(), "{:?}", l.diagnostics);
    // (`handoff::tests::policy_carries_each_queues_calendar` checks the handoff policy's view.)
    let kb = l.kb.unwrap();
    let hours: Vec<_> = kb.meta.queues.iter().map(|q| q.hours.as_deref()).collect();
    assert_eq!(hours, [Some("desk"), Some("spare")]);
    assert_eq!(kb.meta.calendars["spare"].utc_offset, "-05:00");
}

#[test]
fn yaml_syntax_errors_have_lines() {
    let l = load(&intents("intents:\n  - id: a\n    name: [unclosed\n"));
    assert!(l.kb.is_none());
    assert_eq!(l.diagnostics[0].file, "kb/intents.yaml");
    assert!(l.diagnostics[0].line > 0);
}

#[test]
fn csv_quoting_and_oos() {
    let f = file(
        "x.csv",
        "text,category\n\"a, \"\"quoted\"\"\nline\",greet\nplain,greet\nwhat is love,oos\n",
    );
    let rows = parse_csv(&f).unwrap();
    assert_eq!(
        rows[0],
        (2, "a, \"quoted\"\nline".to_string(), "greet".to_string())
    );
    assert_eq!(rows[1].0, 4);
    let set = TrainingSet::from_csv("x", &f).unwrap();
    assert_eq!(set.labels, ["greet"]);
    assert_eq!(set.examples.len(), 2);
    assert_eq!(set.oos, ["what is love"]);
    assert!(parse_csv(&file("y.csv", "text,category\na,b,c\n")).is_err());
}

#[test]
fn subsample_is_seeded() {
    let f = file("x.csv", "text,category\na,x\nb,x\nc,x\nd,y\ne,y\n");
    let set = TrainingSet::from_csv("x", &f).unwrap();
    let a = set.subsample(1, 7);
    assert_eq!(a.examples.len(), 2);
    assert_eq!(a.examples, set.subsample(1, 7).examples);
}
