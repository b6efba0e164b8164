//! The HTTP routes (docs/tickets.md): parse, authorise, call the store, render.

use crate::store::{self, ListQuery};
use spin_sdk::http::{Method, Request};
use spin_sdk::http_service;
use tandem_adapter::{self as adapter, HttpResponse};
use tandem_core::foundation::problem::Problem;
use tandem_core::foundation::vocab::Priority;
use tandem_core::ticket::{self, AgentInput, CreateInput, PatchInput, Status};

#[http_service]
async fn handle(req: Request) -> HttpResponse {
    let path = adapter::path(&req).trim_end_matches('/').to_string();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    match segments.as_slice() {
        ["v1", "tickets" | "agents" | "customers", "health"] => {
            adapter::health_route(&req, "ticket", Some(&crate::rules().policy.model_version))
        }
        ["v1", "tickets"] if req.method() == Method::POST => create(req).await,
        ["v1", "tickets"] => match agent_only(&req, &[Method::GET, Method::POST]).await {
            Err(r) => r,
            Ok(()) => list(&req).await,
        },
        ["v1", "tickets", "sla"] => match agent_only(&req, &[Method::GET]).await {
            Err(r) => r,
            Ok(()) => adapter::render(200, sla(&req).await),
        },
        ["v1", "tickets", "sweep"] => match agent_only(&req, &[Method::POST]).await {
            Err(r) => r,
            Ok(()) => adapter::render(200, sweep().await),
        },
        ["v1", "tickets", id] => match *req.method() {
            Method::GET => get(&req, id).await,
            _ => match agent_only(&req, &[Method::GET, Method::PATCH]).await {
                Err(r) => r,
                Ok(()) => patch(req, id).await,
            },
        },
        ["v1", "tickets", id, "events"] => {
            match agent_only(&req, &[Method::GET, Method::POST]).await {
                Err(r) => r,
                Ok(()) if *req.method() == Method::GET => events(id).await,
                Ok(()) => add_note(req, id).await,
            }
        }
        ["v1", "customers"] => match agent_only(&req, &[Method::GET]).await {
            Err(r) => r,
            Ok(()) => adapter::render(200, list_customers(&req).await),
        },
        ["v1", "customers", id] => match agent_only(&req, &[Method::GET, Method::PUT]).await {
            Err(r) => r,
            Ok(()) if *req.method() == Method::GET => adapter::render(200, get_customer(id).await),
            Ok(()) => put_customer(req, id).await,
        },
        ["v1", "agents"] => match agent_only(&req, &[Method::GET]).await {
            Err(r) => r,
            Ok(()) => adapter::render(200, list_agents().await),
        },
        ["v1", "agents", id] => match agent_only(&req, &[Method::GET, Method::PUT]).await {
            Err(r) => r,
            Ok(()) if *req.method() == Method::GET => get_agent(id).await,
            Ok(()) => put_agent(req, id).await,
        },
        _ => adapter::problem(&adapter::not_found(&path)),
    }
}

/// The schedule's ticket work (docs/tickets.md, "Schedule"): escalate what is past its SLA,
/// return what a silent assignee holds. Idempotent; any cron may call it.
async fn sweep() -> Result<serde_json::Value, Problem> {
    let store = store::open().await?;
    let rules = tandem_stores::ticket::SweepRules {
        queues: &crate::rules().policy.queues,
    };
    let now = tandem_adapter::sqlite::now_ms();
    let swept = store.sweep(&rules, now).await?;
    Ok(serde_json::json!({
        "escalated": swept.escalated,
        "returned": swept.returned,
        "ran_at": tandem_core::feedback::format_time(now),
    }))
}

/// `PUT /v1/customers/{id}`: a CRM's record of the customer, replaced whole; 201 when new.
async fn put_customer(req: Request, id: &str) -> HttpResponse {
    let id = adapter::query::percent_decode(id).unwrap_or_default();
    let result = async {
        let record =
            adapter::read_json::<ticket::CustomerRecord>(req, ticket::customer::MAX_RECORD_BYTES)
                .await?;
        record.validate(&id)?;
        store::open().await?.put_customer(&id, &record).await
    }
    .await;
    match result {
        Ok((stored, created)) => adapter::json(if created { 201 } else { 200 }, &stored),
        Err(p) => adapter::problem(&p),
    }
}

/// `GET /v1/customers?limit=`: the records CRMs pushed, most recently updated first.
async fn list_customers(req: &Request) -> Result<serde_json::Value, Problem> {
    let q = adapter::query::parse_query(req, &["limit"])?;
    let limit = q.bounded("limit", 50, 200)? as u32;
    let items = store::open().await?.customers(limit).await?;
    Ok(serde_json::json!({ "items": items }))
}

/// `GET /v1/customers/{id}`: the record (null when no CRM pushed one) and the latest tickets;
/// 404 when there is neither.
async fn get_customer(id: &str) -> Result<serde_json::Value, Problem> {
    let id = adapter::query::percent_decode(id).unwrap_or_default();
    if !ticket::customer::valid_customer_id(&id) {
        return Err(Problem::not_found(format!("no customer {id}")));
    }
    let store = store::open().await?;
    let record = store.customer(&id).await?;
    let tickets = store.customer_tickets(&id).await?;
    if record.is_none() && tickets.is_empty() {
        return Err(Problem::not_found(format!(
            "no customer {id}: no record was pushed (PUT /v1/customers/{{id}}) and no ticket names it"
        )));
    }
    Ok(serde_json::json!({"id": id, "record": record, "tickets": tickets}))
}

/// Most tickets the SLA figures read (the oldest in the window first).
const SLA_MAX_TICKETS: u32 = 100_000;

/// `GET /v1/tickets/sla?from=&to=`: SLA met, overdue, escalated and time to first response,
/// overall, per queue and per agent, for tickets created in the window.
async fn sla(req: &Request) -> Result<serde_json::Value, Problem> {
    let q = adapter::query::parse_query(req, &["from", "to"])?;
    let (from, to) = tandem_core::feedback::parse_range(q.get("from"), q.get("to"))?;
    let now = tandem_adapter::sqlite::now_ms();
    let rows = store::open()
        .await?
        .sla_rows(from, to, SLA_MAX_TICKETS)
        .await?;
    let report = ticket::sla::report(&rows, now);
    let mut out = serde_json::to_value(&report).expect("a report serialises");
    out["from"] = (from > 0)
        .then(|| tandem_core::feedback::format_time(from))
        .into();
    out["to"] = (to < i64::MAX)
        .then(|| tandem_core::feedback::format_time(to))
        .into();
    out["truncated"] = (rows.len() as u32 >= SLA_MAX_TICKETS).into();
    Ok(out)
}

/// The allowed methods, then the agent token.
async fn agent_only(req: &Request, methods: &[Method]) -> Result<(), HttpResponse> {
    adapter::require_method(req, methods).map_err(|p| adapter::problem(&p))?;
    adapter::authorize_agent(req).await
}

fn ticket_headers(t: &ticket::Ticket) -> Vec<(&'static str, String)> {
    vec![("etag", format!("\"{}\"", t.version))]
}

async fn create(req: Request) -> HttpResponse {
    // The route is public; an agent token (a CRM, the console) makes the caller trusted.
    let from = match adapter::presented_token(&req).await {
        Ok(Some((_, true))) => crate::Caller::Agent,
        Ok(_) => crate::Caller::Anonymous,
        Err(r) => return r,
    };
    let key = req
        .headers()
        .get("idempotency-key")
        .map(|v| v.to_str().map(str::to_string).unwrap_or_default());
    let input = match adapter::read_json::<CreateInput>(req, ticket::MAX_BODY_BYTES).await {
        Ok(i) => i,
        Err(p) => return adapter::problem(&p),
    };
    match crate::create(&input, key.as_deref(), from).await {
        Ok((created, token)) => {
            let t = &created.ticket;
            let mut headers = ticket_headers(t);
            headers.push(("location", format!("/v1/tickets/{}", t.id)));
            let body = serde_json::json!({
                "ticket": t,
                "access_token": token,
                "replayed": created.replayed,
            });
            adapter::json_with_headers(if created.replayed { 200 } else { 201 }, &body, &headers)
        }
        Err(p) => adapter::problem(&p),
    }
}

/// The agent token sees everything; the ticket's own access token sees the customer view;
/// any other token is a 403 that does not say whether the ticket exists.
async fn get(req: &Request, id: &str) -> HttpResponse {
    let (presented, agent) = match adapter::presented_token(req).await {
        Ok(Some(token)) => token,
        Ok(None) => return adapter::missing_token(),
        Err(r) => return r,
    };
    let result = async {
        let store = store::open().await?;
        if agent {
            let t = store
                .get(id)
                .await?
                .ok_or_else(|| Problem::not_found(format!("no ticket {id}")))?;
            return Ok((
                serde_json::to_value(&t).expect("ticket serialises"),
                t.version,
            ));
        }
        let denied = || Problem::forbidden("this token does not open this ticket");
        if !ticket::is_ticket_id(id) {
            return Err(denied());
        }
        let secret = store.secret(&crate::rules().policy).await?;
        let expected = ticket::access_token(secret.as_bytes(), id);
        if !adapter::constant_time_eq(presented.as_bytes(), expected.as_bytes()) {
            return Err(denied());
        }
        let t = store.get(id).await?.ok_or_else(denied)?;
        Ok((t.customer_view(), t.version))
    }
    .await;
    match result {
        Ok((body, version)) => {
            adapter::json_with_headers(200, &body, &[("etag", format!("\"{version}\""))])
        }
        Err(p) => adapter::problem(&p),
    }
}

const LIST_PARAMS: &[&str] = &[
    "status",
    "queue",
    "assignee",
    "priority",
    "category",
    "customer_id",
    "limit",
    "cursor",
];

async fn list(req: &Request) -> HttpResponse {
    let result = async {
        let q = adapter::query::parse_query(req, LIST_PARAMS)?;
        let bad = |name: &str, reason: &str| {
            Problem::unprocessable(format!("query parameter {name} is not valid"))
                .with_param(name, reason)
        };
        let query = ListQuery {
            status: q
                .get("status")
                .map(|s| {
                    Status::parse(s)
                        .ok_or_else(|| bad("status", "new, open, pending, resolved or closed"))
                })
                .transpose()?,
            priority: q
                .get("priority")
                .map(|p| {
                    serde_json::from_value::<Priority>(p.into())
                        .map_err(|_| bad("priority", "low, normal, high or urgent"))
                })
                .transpose()?,
            queue: q.get("queue").map(str::to_string),
            category: q.get("category").map(str::to_string),
            customer_id: q.get("customer_id").map(str::to_string),
            assignee: q
                .get("assignee")
                .map(|a| (a != "none").then(|| a.to_string())),
            limit: match q.get("limit") {
                None => 20,
                Some(l) => l
                    .parse::<u32>()
                    .ok()
                    .filter(|l| (1..=100).contains(l))
                    .ok_or_else(|| bad("limit", "an integer from 1 to 100"))?,
            },
            before_seq: q
                .get("cursor")
                .map(|c| {
                    c.strip_prefix('c')
                        .and_then(|n| n.parse::<i64>().ok())
                        .filter(|n| *n > 0)
                        .ok_or_else(|| bad("cursor", "a next_cursor from an earlier page"))
                })
                .transpose()?,
        };
        let (items, next) = store::open().await?.list(&query).await?;
        Ok(serde_json::json!({
            "items": items,
            "next_cursor": next.map(|n| format!("c{n}")),
        }))
    }
    .await;
    adapter::render(200, result)
}

async fn patch(req: Request, id: &str) -> HttpResponse {
    let if_match = req
        .headers()
        .get("if-match")
        .map(|v| v.to_str().ok().and_then(ticket::lifecycle::parse_if_match));
    let result = async {
        let version = match if_match {
            None => {
                return Err(
                    Problem::new(428, "precondition-required", "Precondition required")
                        .with_detail(
                            "send If-Match with the ticket's version (its ETag), so a change never \
                         overwrites one you have not seen",
                        ),
                );
            }
            Some(None) => {
                return Err(Problem::bad_request(
                    "If-Match must be the ticket's ETag, e.g. \"3\"",
                ));
            }
            Some(Some(v)) => v,
        };
        let input = adapter::read_json::<PatchInput>(req, 64 * 1024).await?;
        input.validate(&crate::rules().policy)?;
        store::open().await?.patch(id, version, &input).await
    }
    .await;
    match result {
        Ok(t) => adapter::json_with_headers(200, &t, &ticket_headers(&t)),
        Err(p) => adapter::problem(&p),
    }
}

async fn events(id: &str) -> HttpResponse {
    let result = async {
        let items = store::open()
            .await?
            .events(id)
            .await?
            .ok_or_else(|| Problem::not_found(format!("no ticket {id}")))?;
        Ok(serde_json::json!({ "items": items }))
    }
    .await;
    adapter::render(200, result)
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NoteInput {
    kind: String,
    text: String,
    #[serde(default)]
    actor: Option<String>,
}

async fn add_note(req: Request, id: &str) -> HttpResponse {
    let result = async {
        let n = adapter::read_json::<NoteInput>(req, 64 * 1024).await?;
        let mut bad = Vec::new();
        if n.kind != "note" {
            bad.push((
                "kind",
                "only \"note\" is added by hand; other events come from changes",
            ));
        }
        if n.text.trim().is_empty() || n.text.len() > ticket::MAX_TEXT_BYTES {
            bad.push(("text", "1 to 4096 bytes"));
        }
        if n.actor
            .as_ref()
            .is_some_and(|a| a.trim().is_empty() || a.len() > 128)
        {
            bad.push(("actor", "1 to 128 bytes"));
        }
        if let Some((name, reason)) = bad.first() {
            return Err(
                Problem::unprocessable(format!("{name} is not valid")).with_param(*name, *reason)
            );
        }
        store::open()
            .await?
            .add_note(id, n.actor.as_deref(), &n.text)
            .await
    }
    .await;
    adapter::render(201, result)
}

async fn list_agents() -> Result<serde_json::Value, Problem> {
    let items = store::open().await?.agents_json().await?;
    Ok(serde_json::json!({ "items": items }))
}

async fn get_agent(id: &str) -> HttpResponse {
    let result = async {
        store::open()
            .await?
            .agent_json(id)
            .await?
            .ok_or_else(|| Problem::not_found(format!("no agent {id}")))
    }
    .await;
    adapter::render(200, result)
}

async fn put_agent(req: Request, id: &str) -> HttpResponse {
    let result = async {
        let input = adapter::read_json::<AgentInput>(req, 64 * 1024).await?;
        input.validate(id, &crate::rules().policy)?;
        let store = store::open().await?;
        let created = store.put_agent(id, &input).await?;
        let body = store
            .agent_json(id)
            .await?
            .ok_or_else(|| Problem::internal("the agent vanished after it was written"))?;
        Ok((created, body))
    }
    .await;
    match result {
        Ok((created, body)) => adapter::json(if created { 201 } else { 200 }, &body),
        Err(p) => adapter::problem(&p),
    }
}
