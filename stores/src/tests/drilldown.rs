//! A drill-down lists exactly the conversations a figure of the stats counts, for every
//! subset, overall and per intent group, and its rows come newest first.

use super::feedback::{DAY, history, open, record_all};
use super::memory;
use crate::drilldown::Filter;
use crate::native::block_on;
use tandem_core::feedback::metrics::GroupBy;
use tandem_core::feedback::metrics::Subset;

#[test]
fn every_figure_drills_down_to_the_conversations_it_counts() {
    let conn = memory();
    let s = open(&conn);
    record_all(&s, &history());
    let (from, to) = (DAY, DAY + 3 * 86_400_000);
    let stats = block_on(s.stats(from, to, Some(GroupBy::Intent))).unwrap();
    let c = &stats.counts;
    let figures = [
        (Subset::All, c.conversations),
        (Subset::WithOutcome, c.with_outcome),
        (Subset::Resolved, c.resolved),
        (Subset::ResolvedFirstContact, c.resolved_first_contact),
        (Subset::SelfServed, c.self_served),
        (Subset::HandedOff, c.handed_off),
        (Subset::Rated, c.rated),
        (Subset::Satisfied, c.satisfied),
    ];
    for (subset, expected) in figures {
        let filter = Filter {
            from,
            to,
            subset,
            group: None,
        };
        let (rows, total) = block_on(s.drilldown(&filter, 1000)).unwrap();
        assert_eq!(
            (rows.len() as u64, total),
            (expected, expected),
            "{subset:?}"
        );
    }
    assert!(
        c.resolved > 0 && c.handed_off > 0 && c.satisfied > 0,
        "{c:?}"
    );
    for g in &stats.groups.unwrap() {
        let filter = Filter {
            from,
            to,
            subset: Subset::Resolved,
            group: Some((GroupBy::Intent, g.key.as_deref())),
        };
        let (rows, total) = block_on(s.drilldown(&filter, 1000)).unwrap();
        assert_eq!(total, g.counts.resolved, "{:?}", g.key);
        assert!(rows.iter().all(|r| r.intent == g.key), "{:?}", g.key);
    }
    let filter = Filter {
        from,
        to,
        subset: Subset::All,
        group: None,
    };
    let (two, total) = block_on(s.drilldown(&filter, 2)).unwrap();
    assert_eq!((two.len() as u64, total), (2, c.conversations));
    assert!(two[0].started_at_ms >= two[1].started_at_ms, "newest first");
}
