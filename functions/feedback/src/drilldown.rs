//! `GET /v1/feedback/conversations`: the conversations behind a dashboard figure
//! (`tandem_core::feedback::drilldown`), as JSON, JSON Lines or CSV, one row per conversation.

// A Problem is the error of a request handler, built at most once per request.
#![allow(clippy::result_large_err)]

use tandem_adapter as adapter;
use tandem_adapter::query::Query;
use tandem_core::feedback::drilldown::{CSV_HEADER, Row};
use tandem_core::feedback::metrics::GroupBy;
use tandem_core::feedback::metrics::Subset;
use tandem_core::feedback::parse_range;
use tandem_core::foundation::problem::Problem;
use tandem_stores::drilldown::Filter;

pub const PARAMETERS: &[&str] = &["from", "to", "subset", "group_by", "key", "format", "limit"];
const DEFAULT_ROWS: usize = 100;
const MAX_ROWS: usize = 100_000;

#[derive(Clone, Copy, PartialEq)]
enum Format {
    Json,
    Jsonl,
    Csv,
}

fn invalid(name: &str, value: &str, allowed: &str) -> Problem {
    Problem::unprocessable(format!("{name} {value:?} is not supported")).with_param(name, allowed)
}

pub async fn respond(q: &Query) -> adapter::HttpResponse {
    match rows(q).await {
        Ok((format, rows, total)) => match format {
            Format::Json => adapter::json(
                200,
                &serde_json::json!({"total": total, "returned": rows.len(), "items": rows}),
            ),
            Format::Jsonl => adapter::jsonl(&rows),
            Format::Csv => {
                let mut body = String::from(CSV_HEADER);
                body.push_str("\r\n");
                for r in &rows {
                    body.push_str(&r.csv());
                    body.push_str("\r\n");
                }
                adapter::text(200, "text/csv; charset=utf-8", body)
            }
        },
        Err(p) => adapter::problem(&p),
    }
}

async fn rows(q: &Query) -> Result<(Format, Vec<Row>, u64), Problem> {
    let (from, to) = parse_range(q.get("from"), q.get("to"))?;
    let subset = match q.get("subset") {
        None => Subset::All,
        Some(s) => Subset::parse(s).ok_or_else(|| {
            let names: Vec<&str> = Subset::ALL.iter().map(|x| x.as_str()).collect();
            invalid("subset", s, &format!("one of {}", names.join(", ")))
        })?,
    };
    let group = match (q.get("group_by"), q.get("key")) {
        (None, None) => None,
        (None, Some(_)) => {
            return Err(Problem::unprocessable("key needs group_by")
                .with_param("key", "only with group_by"));
        }
        (Some(g), key) => Some((
            GroupBy::parse(g)
                .ok_or_else(|| invalid("group_by", g, "one of intent, day, channel, agent"))?,
            key,
        )),
    };
    let format = match q.get("format") {
        None | Some("json") => Format::Json,
        Some("jsonl") => Format::Jsonl,
        Some("csv") => Format::Csv,
        Some(f) => return Err(invalid("format", f, "json, jsonl or csv")),
    };
    let limit = q.bounded("limit", DEFAULT_ROWS, MAX_ROWS)?;
    let filter = Filter {
        from,
        to,
        subset,
        group,
    };
    let (conversations, total) = crate::store::open()
        .await?
        .drilldown(&filter, limit)
        .await?;
    Ok((format, conversations.iter().map(Row::of).collect(), total))
}
