//! An example of plugging exactly one Tandem capability into a component of your own.
//!
//! `POST /route {"text": "..."}` sends a customer message to a desk of an imaginary call centre,
//! chosen from the intent Tandem's `intent` interface finds. The component imports only
//! `tandem:service/intent@0.1.0`; `build.sh` composes it with Tandem's intent component, so the
//! classification runs in-process and the result is one component to deploy (README,
//! "Composing Tandem into your own component").

use futures::StreamExt;
use spin_sdk::http::body::IncomingBodyExt;
use spin_sdk::http::{Method, Request, Response};
use spin_sdk::http_service;

mod bindings {
    spin_sdk::wit_bindgen::generate!({
        runtime_path: "spin_sdk::wit_bindgen::rt",
        inline: r#"
            package example:intent-router;
            world router {
                import tandem:service/intent@0.1.0;
            }
        "#,
        path: "../../wit",
        generate_all,
    });
}

use bindings::tandem::service::intent;

type HttpResponse = Response<http_body_util::Full<bytes::Bytes>>;

/// The desk for an intent: this team's own routing table, not Tandem's.
fn desk(intent: &str, out_of_scope: bool) -> &'static str {
    if out_of_scope {
        return "front-desk";
    }
    match intent {
        i if i.starts_with("refund") || i.starts_with("payment") || i.contains("invoice") => {
            "billing-desk"
        }
        i if i.starts_with("order") || i.starts_with("delivery") || i.contains("shipping") => {
            "logistics-desk"
        }
        "complaint" | "talk_to_human" => "escalations-desk",
        _ => "front-desk",
    }
}

fn reply(status: u16, body: serde_json::Value) -> HttpResponse {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(http_body_util::Full::new(bytes::Bytes::from(
            body.to_string(),
        )))
        .expect("status and header are valid")
}

fn problem(status: u16, detail: &str) -> HttpResponse {
    let mut r = reply(
        status,
        serde_json::json!({
            "type": "about:blank",
            "title": if status < 500 { "Bad request" } else { "Server error" },
            "status": status,
            "detail": detail,
        }),
    );
    r.headers_mut().insert(
        "content-type",
        spin_sdk::http::HeaderValue::from_static("application/problem+json"),
    );
    r
}

#[http_service]
async fn handle(req: Request) -> HttpResponse {
    if req.method() != Method::POST {
        return problem(405, "POST a JSON body {\"text\": \"...\"}");
    }
    let mut body = Vec::new();
    let mut stream = req.into_body().stream();
    while let Some(Ok(chunk)) = stream.next().await {
        body.extend_from_slice(&chunk);
        if body.len() > 16 * 1024 {
            return problem(413, "at most 16 KiB");
        }
    }
    let text = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("text")?.as_str().map(str::to_string));
    let Some(text) = text else {
        return problem(400, "send {\"text\": \"...\"}");
    };
    let request = intent::ClassifyRequest {
        text,
        top_k: Some(1),
    };
    match intent::classify(&request) {
        Ok(c) => reply(
            200,
            serde_json::json!({
                "intent": c.intent,
                "confidence": c.confidence,
                "out_of_scope": c.out_of_scope,
                "desk": desk(&c.intent, c.out_of_scope),
                "model": c.model.version,
            }),
        ),
        Err(e) => problem(422, &format!("the intent service refused the text: {e:?}")),
    }
}
