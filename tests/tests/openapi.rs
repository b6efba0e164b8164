//! `openapi/openapi.json` against the running app: every (path, method, status) the document
//! lists is produced by a real request, every response validates against the documented schema
//! and content type, every request body the app accepts validates against the documented
//! request schema, every `oneOf`/`anyOf` branch and every declared property is seen at least
//! once, and a status the document does not list for a route fails the test. Also: the served
//! `GET /v1/openapi.json` is the file, and every `/v1` route of `spin.toml` is documented.

#[path = "openapi/validator.rs"]
mod validator;

use serde_json::{Value, json};
use std::cell::RefCell;
use std::collections::BTreeSet;
use tandem_tests::{
    Body, Host, HttpResponse, JSON_POST_PREFLIGHT, OTHER_ORIGIN, cors_headers, request_with,
    start_app, workspace_root,
};
use tempfile::TempDir;
use validator::{Sites, Validator, escape};

const TOKEN: &str = "openapi-test-token";
const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Routes whose behaviour differs from the document, reported rather than documented:
/// (method, path, status the app gives). The test fails when one of them starts to behave as
/// documented, so this list only ever shrinks.
const KNOWN_DEVIATIONS: &[(&str, &str, u16)] = &[
    // (method, path template, status the app answers instead of the documented one)
];

fn document_text() -> String {
    std::fs::read_to_string(workspace_root().join("openapi/openapi.json"))
        .expect("openapi/openapi.json is readable")
}

fn document() -> Value {
    serde_json::from_str(&document_text()).expect("openapi/openapi.json is JSON")
}

/// The schemas of a request body or response object at `base`.
fn content<'a>(base: String, holder: &'a Value, out: &mut Vec<(String, &'a Value)>) {
    for (media, m) in holder["content"].as_object().into_iter().flatten() {
        let loc = format!("{base}/content/{}", escape(media));
        if let Some(s) = m.get("schema") {
            out.push((format!("{loc}/schema"), s));
        }
        if let Some(s) = m.get("x-item-schema") {
            out.push((format!("{loc}/x-item-schema"), s));
        }
    }
}

/// The schemas of the headers a response object at `base` declares in place (not `$ref`s).
fn header_schemas<'a>(base: String, holder: &'a Value, out: &mut Vec<(String, &'a Value)>) {
    for (name, h) in holder["headers"].as_object().into_iter().flatten() {
        if let Some(s) = h.get("schema") {
            out.push((format!("{base}/headers/{}/schema", escape(name)), s));
        }
    }
}

/// Every schema site of the document: components, request bodies, responses, headers,
/// parameters.
fn schema_sites(doc: &Value) -> Vec<(String, &Value)> {
    let mut out = Vec::new();
    for (name, schema) in doc["components"]["schemas"].as_object().unwrap() {
        out.push((format!("#/components/schemas/{}", escape(name)), schema));
    }
    for (name, r) in doc["components"]["responses"].as_object().unwrap() {
        let base = format!("#/components/responses/{}", escape(name));
        header_schemas(base.clone(), r, &mut out);
        content(base, r, &mut out);
    }
    for (name, h) in doc["components"]["headers"]
        .as_object()
        .into_iter()
        .flatten()
    {
        out.push((
            format!("#/components/headers/{}/schema", escape(name)),
            &h["schema"],
        ));
    }
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in METHODS {
            let Some(op) = item.get(*method) else {
                continue;
            };
            let base = format!("#/paths/{}/{method}", escape(path));
            if let Some(rb) = op.get("requestBody") {
                content(format!("{base}/requestBody"), rb, &mut out);
            }
            for (status, r) in op["responses"].as_object().unwrap() {
                header_schemas(format!("{base}/responses/{status}"), r, &mut out);
                content(format!("{base}/responses/{status}"), r, &mut out);
            }
            for (i, p) in op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
            {
                if let Some(s) = p.get("schema") {
                    out.push((format!("{base}/parameters/{i}/schema"), s));
                }
            }
        }
    }
    for (name, p) in doc["components"]["parameters"].as_object().unwrap() {
        out.push((
            format!("#/components/parameters/{name}/schema"),
            &p["schema"],
        ));
    }
    out
}

/// Lints every schema of the document; returns the coverage sites (request and response
/// schemas, not parameters or headers).
fn lint(doc: &Value) -> Result<Sites, Vec<String>> {
    let v = Validator::new(doc);
    let mut sites = Sites::default();
    let mut errors = Vec::new();
    for (loc, schema) in schema_sites(doc) {
        let mut scratch = Sites::default();
        let target = if loc.contains("/parameters/") || loc.contains("/headers/") {
            &mut scratch
        } else {
            &mut sites
        };
        errors.extend(v.lint(schema, &loc, target));
    }
    if errors.is_empty() {
        Ok(sites)
    } else {
        Err(errors)
    }
}

/// (path, METHOD, status) for every documented response; `*` = any undocumented method (405).
fn documented(doc: &Value) -> BTreeSet<(String, String, u16)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in METHODS {
            if let Some(op) = item.get(*method) {
                for status in op["responses"].as_object().unwrap().keys() {
                    let status = status.parse().expect("numeric status keys");
                    out.insert((path.clone(), method.to_uppercase(), status));
                }
            }
        }
        if item.get("x-method-not-allowed").is_some() {
            out.insert((path.clone(), "*".into(), 405));
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The validator on tiny schemas.

fn check(doc: &Value, instance: Value) -> Result<(), Vec<String>> {
    Validator::new(doc).validate_at("#/s", &instance)
}

#[test]
fn validator_accepts_and_rejects() {
    let doc = json!({
        "s": {"$ref": "#/defs/point"},
        "defs": {
            "point": {
                "type": "object",
                "properties": {
                    "x": {"type": "integer", "minimum": 0, "maximum": 10},
                    "label": {"type": ["string", "null"], "minLength": 2, "maxLength": 3},
                    "tags": {"type": "array", "items": {"enum": ["a", "b"]}, "maxItems": 2},
                    "kind": {"const": "pt"}
                },
                "required": ["x", "kind"],
                "additionalProperties": false
            }
        }
    });
    assert!(check(&doc, json!({"x": 3, "kind": "pt"})).is_ok());
    assert!(check(&doc, json!({"x": 3.0, "kind": "pt", "label": null})).is_ok());
    assert!(
        check(
            &doc,
            json!({"x": 3, "kind": "pt", "label": "好吗", "tags": ["a"]})
        )
        .is_ok()
    );
    for bad in [
        json!({"kind": "pt"}),                                  // required
        json!({"x": 3, "kind": "pt", "y": 1}),                  // additionalProperties
        json!({"x": 3.5, "kind": "pt"}),                        // integer
        json!({"x": "3", "kind": "pt"}),                        // type
        json!({"x": 11, "kind": "pt"}),                         // maximum
        json!({"x": -1, "kind": "pt"}),                         // minimum
        json!({"x": 1, "kind": "pt", "label": "a"}),            // minLength (characters)
        json!({"x": 1, "kind": "pt", "label": "好好好好"}),     // maxLength (characters)
        json!({"x": 1, "kind": "pt", "tags": ["c"]}),           // enum
        json!({"x": 1, "kind": "pt", "tags": ["a", "a", "b"]}), // maxItems
        json!({"x": 1, "kind": "pl"}),                          // const
        json!([1]),                                             // type object
    ] {
        assert!(check(&doc, bad.clone()).is_err(), "accepted {bad}");
    }
    let err = check(&doc, json!({"x": 1, "kind": "pt", "y": 2})).unwrap_err();
    assert!(err[0].contains("\"y\""), "{err:?}");
}

#[test]
fn validator_combinators_and_coverage() {
    let doc = json!({
        "s": {"oneOf": [
            {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"], "additionalProperties": false},
            {"type": "object", "properties": {"b": {"type": "string"}}, "required": ["b"], "additionalProperties": false},
            {"type": "object", "properties": {"a": {"type": "string"}, "b": {}}, "required": ["a", "b"], "additionalProperties": false}
        ]},
        "t": {"allOf": [{"$ref": "#/s"}, {"properties": {"a": {"const": "x"}}}]},
        "u": {"anyOf": [{"type": "integer"}, {"type": "null"}]}
    });
    let v = Validator::new(&doc);
    assert!(v.validate_at("#/s", &json!({"a": "1"})).is_ok());
    assert!(v.validate_at("#/s", &json!({"b": "1"})).is_ok());
    // Branch 2 only (0 and 1 forbid the other property).
    assert!(v.validate_at("#/s", &json!({"a": "1", "b": 1})).is_ok());
    // No branch.
    assert!(v.validate_at("#/s", &json!({"c": 1})).is_err());
    assert!(v.validate_at("#/t", &json!({"a": "x"})).is_ok());
    assert!(v.validate_at("#/t", &json!({"a": "y"})).is_err());
    assert!(v.validate_at("#/u", &json!(null)).is_ok());
    assert!(v.validate_at("#/u", &json!("7")).is_err());
    assert!(v.validate_at("#/nowhere", &json!(1)).is_err());

    let mut sites = Sites::default();
    assert!(v.lint(&doc["s"], "#/s", &mut sites).is_empty());
    assert!(v.lint(&doc["u"], "#/u", &mut sites).is_empty());
    // Every branch of s and every property in them was seen; of u only the null branch.
    let uncovered = v.uncovered(&sites);
    assert_eq!(
        uncovered,
        vec!["branch never matched: #/u/anyOf/0".to_string()]
    );
    assert!(v.validate_at("#/u", &json!(3)).is_ok());
    assert!(v.uncovered(&sites).is_empty());

    // A oneOf with two matching branches fails.
    let doc = json!({"s": {"oneOf": [{"type": "integer"}, {"type": "number"}]}});
    assert!(check(&doc, json!(1)).is_err());
    assert!(check(&doc, json!(1.5)).is_ok());
}

#[test]
fn validator_refuses_keywords_it_does_not_check() {
    let doc = json!({
        "s": {"type": "string", "pattern": "^a$"},
        "t": {"$ref": "#/missing"},
        "u": {"type": "text"}
    });
    let v = Validator::new(&doc);
    let mut sites = Sites::default();
    for loc in ["#/s", "#/t", "#/u"] {
        let schema = v.resolve(loc).unwrap();
        assert!(!v.lint(schema, loc, &mut sites).is_empty(), "{loc}");
    }
    assert!(v.validate_at("#/s", &json!("a")).is_err());
}

// ---------------------------------------------------------------------------------------------
// The document on its own.

#[test]
fn document_is_openapi_3_1_and_uses_only_checked_keywords() {
    let doc = document();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(
        doc["jsonSchemaDialect"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    if let Err(errors) = lint(&doc) {
        panic!("the document's schemas:\n{}", errors.join("\n"));
    }
    // Operations behind the agent token document both ways of being refused.
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in METHODS {
            let Some(op) = item.get(*method) else {
                continue;
            };
            let security = op.get("security").and_then(Value::as_array);
            let needs_token = security.is_some_and(|s| {
                !s.is_empty()
                    && s.iter()
                        .all(|r| r.as_object().is_some_and(|r| !r.is_empty()))
            });
            let optional_token = security.is_some_and(|s| {
                s.iter()
                    .any(|r| r.as_object().is_some_and(|r| r.is_empty()))
                    && s.iter()
                        .any(|r| r.as_object().is_some_and(|r| !r.is_empty()))
            });
            if needs_token || optional_token {
                for status in ["401", "403"] {
                    assert!(
                        op["responses"].get(status).is_some(),
                        "{method} {path} takes a token but does not document {status}"
                    );
                }
            }
            for scheme in security
                .into_iter()
                .flatten()
                .flat_map(|r| r.as_object().unwrap().keys())
            {
                assert!(
                    doc["components"]["securitySchemes"].get(scheme).is_some(),
                    "{method} {path}: unknown security scheme {scheme}"
                );
            }
        }
    }
}

/// The routes of `spin.toml` (`route = "..."` lines).
fn spin_routes() -> Vec<String> {
    let manifest = std::fs::read_to_string(workspace_root().join("spin.toml")).unwrap();
    manifest
        .lines()
        .filter_map(|l| l.trim().strip_prefix("route = \""))
        .filter_map(|l| l.strip_suffix('"'))
        .map(str::to_string)
        .collect()
}

#[test]
fn every_api_route_of_spin_toml_is_documented_and_nothing_else() {
    let doc = document();
    let paths: Vec<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let routes = spin_routes();
    // The API is /v1; a catch-all outside it (the web front end) serves pages, not API.
    let api: Vec<&String> = routes.iter().filter(|r| r.starts_with("/v1/")).collect();
    assert!(api.len() >= 7, "{routes:?}");
    for route in &api {
        match route.strip_suffix("/...") {
            Some(prefix) => {
                assert!(
                    paths.contains(&prefix),
                    "spin.toml serves {route}: the document lacks {prefix}"
                );
                let health = format!("{prefix}/health");
                assert!(
                    paths.contains(&health.as_str()),
                    "spin.toml serves {route}: the document lacks {health}"
                );
            }
            None => assert!(
                paths.contains(&route.as_str()),
                "spin.toml serves {route}: the document lacks it"
            ),
        }
    }
    for path in paths {
        let served = api.iter().any(|r| match r.strip_suffix("/...") {
            Some(prefix) => path == prefix || path.starts_with(&format!("{prefix}/")),
            None => path == *r,
        });
        assert!(
            served,
            "the document has {path}, which no spin.toml route serves"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The document against the running app.

struct Api<'d> {
    host: Host,
    doc: &'d Value,
    v: Validator<'d>,
    exercised: RefCell<BTreeSet<(String, String, u16)>>,
    failures: RefCell<Vec<String>>,
}

impl<'d> Api<'d> {
    fn fail(&self, msg: String) {
        self.failures.borrow_mut().push(msg);
    }

    /// Sends a request to `concrete` (an instance of the documented `template`) and checks the
    /// answer against the document.
    fn call(
        &self,
        method: &str,
        template: &str,
        concrete: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> HttpResponse {
        let sent = match body {
            Some(b) => Body::Sized(b),
            None => Body::Empty,
        };
        let res = request_with(self.host.addr, method, concrete, headers, sent)
            .unwrap_or_else(|e| panic!("{method} {concrete}: {e:#}\n{}", self.host.stderr()));
        let what = format!("{method} {concrete} → {}", res.status);
        let Some(item) = self.doc["paths"].get(template) else {
            self.fail(format!("{what}: {template} is not in the document"));
            return res;
        };
        let item_loc = format!("#/paths/{}", escape(template));
        let op_key = method.to_ascii_lowercase();
        let (response, loc, key) = match item.get(&op_key) {
            Some(op) => {
                let status = res.status.to_string();
                let Some(r) = op["responses"].get(&status) else {
                    self.fail(format!(
                        "{what}: status {} is not documented for {method} {template}: {}",
                        res.status,
                        res.text()
                    ));
                    return res;
                };
                if (200..300).contains(&res.status)
                    && let (Some(body), Some(rb)) = (body, op.get("requestBody"))
                {
                    self.check_request(
                        &what,
                        body,
                        rb,
                        &format!("{item_loc}/{op_key}/requestBody"),
                    );
                }
                let loc = format!("{item_loc}/{op_key}/responses/{status}");
                (r, loc, method.to_string())
            }
            None => {
                let Some(r) = item.get("x-method-not-allowed") else {
                    self.fail(format!("{what}: {method} is not documented for {template}"));
                    return res;
                };
                if res.status != 405 {
                    self.fail(format!(
                        "{what}: an undocumented method must be a 405: {}",
                        res.text()
                    ));
                    return res;
                }
                let documented: BTreeSet<String> = METHODS
                    .iter()
                    .filter(|m| item.get(**m).is_some())
                    .map(|m| m.to_uppercase())
                    .collect();
                let allowed: BTreeSet<String> = res.json()["allowed"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|m| m.as_str().map(str::to_string))
                    .collect();
                if allowed != documented {
                    self.fail(format!(
                        "{what}: the app allows {allowed:?}, the document {documented:?}"
                    ));
                }
                (
                    r,
                    format!("{item_loc}/x-method-not-allowed"),
                    "*".to_string(),
                )
            }
        };
        self.check_response(&what, response, &loc, &res);
        self.exercised
            .borrow_mut()
            .insert((template.to_string(), key, res.status));
        res
    }

    fn check_request(&self, what: &str, body: &[u8], rb: &Value, loc: &str) {
        let (rb, loc) = self.deref(rb, loc);
        let Ok(value) = serde_json::from_slice::<Value>(body) else {
            return self.fail(format!("{what}: the app accepted a body that is not JSON"));
        };
        let schema_loc = format!("{loc}/content/application~1json/schema");
        if rb["content"].get("application/json").is_none() {
            return self.fail(format!(
                "{what}: no application/json request body documented"
            ));
        }
        if let Err(e) = self.v.validate_at(&schema_loc, &value) {
            self.fail(format!(
                "{what}: the app accepted a request body the document rejects: {}\n  {value}",
                e.join("\n  ")
            ));
        }
    }

    /// A `$ref`'d object and its location, or the object itself.
    fn deref<'v>(&self, obj: &'v Value, loc: &str) -> (&'v Value, String)
    where
        'd: 'v,
    {
        match obj.get("$ref").and_then(Value::as_str) {
            Some(r) => (
                self.v.resolve(r).expect("lint checked the refs"),
                r.to_string(),
            ),
            None => (obj, loc.to_string()),
        }
    }

    fn check_response(&self, what: &str, response: &Value, loc: &str, res: &HttpResponse) {
        let (response, loc) = self.deref(response, loc);
        let headers = response["headers"].as_object();
        for (name, h) in headers.into_iter().flatten() {
            let (h, h_loc) = self.deref(h, &format!("{loc}/headers/{}", escape(name)));
            match res.header(name) {
                None if h["required"] == true => {
                    self.fail(format!("{what}: header {name} is missing"));
                }
                None => {}
                Some(value) => {
                    let value = Value::String(value.to_string());
                    if h.get("schema").is_some()
                        && let Err(e) = self.v.validate_at(&format!("{h_loc}/schema"), &value)
                    {
                        self.fail(format!("{what}: header {name}: {}", e.join("; ")));
                    }
                }
            }
        }
        // CORS is what lets other sites' pages call a route: only where documented (the
        // customer routes), never on an agent or admin route.
        for (name, _) in cors_headers(res) {
            let documented =
                headers.is_some_and(|hs| hs.keys().any(|k| k.eq_ignore_ascii_case(&name)));
            if !documented {
                self.fail(format!("{what}: undocumented CORS header {name}"));
            }
        }
        let Some(content) = response.get("content").and_then(Value::as_object) else {
            if !res.body.is_empty() {
                self.fail(format!("{what}: a body where the document has none"));
            }
            return;
        };
        let media = res
            .header("content-type")
            .and_then(|c| c.split(';').next())
            .map(str::trim)
            .unwrap_or("");
        let Some(m) = content.get(media) else {
            return self.fail(format!(
                "{what}: content type {media:?}, documented {:?}",
                content.keys().collect::<Vec<_>>()
            ));
        };
        let media_loc = format!("{loc}/content/{}", escape(media));
        let text = res.text();
        let value = if media.ends_with("json") {
            match serde_json::from_slice::<Value>(&res.body) {
                Ok(v) => v,
                Err(e) => return self.fail(format!("{what}: not JSON ({e}): {text}")),
            }
        } else {
            Value::String(text.clone())
        };
        if m.get("schema").is_some()
            && let Err(e) = self.v.validate_at(&format!("{media_loc}/schema"), &value)
        {
            self.fail(format!(
                "{what}: the response does not match the document:\n  {}\n  {}",
                e.join("\n  "),
                shorten(&text)
            ));
        }
        if m.get("x-item-schema").is_some() {
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                let result = serde_json::from_str::<Value>(line)
                    .map_err(|e| vec![format!("not JSON: {e}")])
                    .and_then(|v| {
                        self.v
                            .validate_at(&format!("{media_loc}/x-item-schema"), &v)
                    });
                if let Err(e) = result {
                    self.fail(format!("{what}: line {line}: {}", e.join("; ")));
                }
            }
        }
    }

    fn get(&self, template: &str, concrete: &str, headers: &[(&str, &str)]) -> HttpResponse {
        self.call("GET", template, concrete, headers, None)
    }

    fn send(
        &self,
        method: &str,
        template: &str,
        concrete: &str,
        headers: &[(&str, &str)],
        body: &Value,
    ) -> HttpResponse {
        let bytes = body.to_string().into_bytes();
        self.call(method, template, concrete, headers, Some(&bytes))
    }

    fn raw(
        &self,
        method: &str,
        template: &str,
        concrete: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> HttpResponse {
        self.call(method, template, concrete, headers, Some(body))
    }
}

fn shorten(text: &str) -> String {
    if text.chars().count() > 300 {
        format!("{}…", text.chars().take(300).collect::<String>())
    } else {
        text.to_string()
    }
}

/// Asserts a status inside the scenario (the document check happens in `call` regardless).
fn expect(res: &HttpResponse, status: u16, what: &str) -> Value {
    assert_eq!(res.status, status, "{what}: {}", res.text());
    serde_json::from_slice(&res.body).unwrap_or(Value::Null)
}

#[test]
fn every_documented_path_method_and_status_against_the_running_app() {
    let text = document_text();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let sites = lint(&doc).unwrap_or_else(|e| panic!("{}", e.join("\n")));
    let dir = TempDir::new().unwrap();
    let host = start_app(
        &dir.path().join("data"),
        vec![
            ("SPIN_VARIABLE_AGENT_TOKEN", TOKEN),
            // Deliveries run only when this test asks; one try, then the dead-letter list.
            ("SPIN_VARIABLE_SCHEDULE_INTERVAL_SECONDS", "0"),
            ("SPIN_VARIABLE_WEBHOOK_MAX_ATTEMPTS", "1"),
        ],
    )
    .unwrap();
    let api = Api {
        host,
        doc: &doc,
        v: Validator::new(&doc),
        exercised: RefCell::default(),
        failures: RefCell::default(),
    };
    let bearer = format!("Bearer {TOKEN}");
    let agent: &[(&str, &str)] = &[("Authorization", bearer.as_str())];
    let wrong: &[(&str, &str)] = &[("Authorization", "Bearer not-the-token")];
    let none: &[(&str, &str)] = &[];
    // A browser's CORS preflight of a JSON POST from a page of another origin.
    let preflight: &[(&str, &str)] =
        &[[("Origin", OTHER_ORIGIN)].as_slice(), JSON_POST_PREFLIGHT].concat();

    // Health, this document.
    for (path, component) in [
        ("/v1/health", "health"),
        ("/v1/embed/health", "embed"),
        ("/v1/intent/health", "intent"),
        ("/v1/faq/health", "faq"),
        ("/v1/tickets/health", "ticket"),
        ("/v1/agents/health", "ticket"),
        ("/v1/handoff/health", "handoff"),
        ("/v1/feedback/health", "feedback"),
    ] {
        let h = expect(&api.get(path, path, none), 200, path);
        assert_eq!(h["component"], component, "{path}");
    }
    for path in [
        "/v1/health",
        "/v1/embed/health",
        "/v1/intent/health",
        "/v1/faq/health",
        "/v1/tickets/health",
        "/v1/agents/health",
        "/v1/handoff/health",
        "/v1/feedback/health",
        "/v1/assist/health",
    ] {
        expect(&api.call("HEAD", path, path, none, None), 200, path);
    }
    let served = api.get("/v1/openapi.json", "/v1/openapi.json", none);
    expect(&served, 200, "openapi.json");
    if served.text() != text {
        api.fail(
            "GET /v1/openapi.json is not openapi/openapi.json: rebuild the health component".into(),
        );
    }

    // Embed.
    let p = "/v1/embed";
    let e = expect(
        &api.send(
            "POST",
            p,
            p,
            none,
            &json!({"texts": ["我的订单到哪了", "where is my order", ""]}),
        ),
        200,
        "embed",
    );
    assert_eq!(e["embeddings"].as_array().map(Vec::len), Some(3), "{e}");
    expect(
        &api.raw("POST", p, p, none, b"{\"texts\": ["),
        400,
        "embed 400",
    );
    expect(
        &api.send("POST", p, p, none, &json!({"texts": ["订".repeat(2001)]})),
        413,
        "embed 413",
    );
    expect(
        &api.send("POST", p, p, none, &json!({"texts": []})),
        422,
        "embed 422",
    );

    // Intent.
    let p = "/v1/intent";
    let r = api.send(
        "POST",
        p,
        p,
        none,
        &json!({"text": "where is my order", "top_k": 3}),
    );
    expect(&r, 200, "intent");
    expect(
        &api.raw("POST", p, p, none, b"{not json"),
        400,
        "intent 400",
    );
    let long = "订".repeat(2000);
    expect(
        &api.send("POST", p, p, none, &json!({"text": long})),
        413,
        "intent 413",
    );
    expect(
        &api.send("POST", p, p, none, &json!({"text": "  "})),
        422,
        "intent 422",
    );

    // FAQ: answered, not answered, agent mode (with and without a best answer).
    let p = "/v1/faq";
    let known = "Do you accept returns without a reason within 7 days?";
    let off_topic = "what is the boiling point of tungsten in kelvin";
    let a = expect(
        &api.send("POST", p, p, none, &json!({"question": known})),
        200,
        "faq",
    );
    assert!(a["answer"].is_string(), "{a}");
    let a = expect(
        &api.send("POST", p, p, none, &json!({"question": off_topic})),
        200,
        "faq",
    );
    assert_eq!(a["no_answer"], true, "{a}");
    let ask_agent = json!({"question": known, "lang": "zh", "top_k": 3, "mode": "agent"});
    let a = expect(&api.send("POST", p, p, agent, &ask_agent), 200, "faq agent");
    assert!(a["best"].is_object(), "{a}");
    let ask_off = json!({"question": off_topic, "mode": "agent"});
    let a = expect(&api.send("POST", p, p, agent, &ask_off), 200, "faq agent");
    assert!(a["best"].is_null(), "{a}");
    expect(&api.send("POST", p, p, none, &ask_off), 401, "faq 401");
    expect(&api.send("POST", p, p, wrong, &ask_off), 403, "faq 403");
    expect(&api.raw("POST", p, p, none, b""), 400, "faq 400");
    expect(
        &api.send("POST", p, p, none, &json!({"question": long})),
        413,
        "faq 413",
    );
    expect(
        &api.send("POST", p, p, none, &json!({"question": "x", "top_k": 11})),
        422,
        "faq 422",
    );

    // Handoff.
    let p = "/v1/handoff";
    let decide = json!({
        "conversation_id": "c-openapi", "customer": {"tier": "vip"}, "agents_online": 0,
        "at": "2026-12-07T22:00:00+08:00",
        "turns": [
            {"role": "customer", "text": "我的订单还没到", "intent": "order_status", "confidence": 0.9,
             "negative": 0.4},
            {"role": "bot", "text": "抱歉，我查不到。", "answered": false},
            {"role": "customer", "text": "转人工 please, I want a human"}
        ]
    });
    let d = expect(&api.send("POST", p, p, none, &decide), 200, "handoff");
    assert_eq!(d["decision"], "ticket", "{d}");
    // 22:00 in Beijing: the general queue's calendar (kb/kb.yaml) has closed.
    assert_eq!(
        d["business_hours"]["next_open"], "2026-12-08T09:00:00+08:00",
        "{d}"
    );
    let plain = json!({"conversation_id": "c-2", "customer": null, "within_business_hours": true,
                       "turns": [{"role": "customer", "text": "hello"}]});
    expect(&api.send("POST", p, p, none, &plain), 200, "handoff");
    expect(&api.raw("POST", p, p, none, b"[1,"), 400, "handoff 400");
    let big = json!({"conversation_id": "c", "turns": [{"role": "customer", "text": long}]});
    expect(&api.send("POST", p, p, none, &big), 413, "handoff 413");
    let empty = json!({"conversation_id": "c", "turns": []});
    expect(&api.send("POST", p, p, none, &empty), 422, "handoff 422");

    // Agents.
    let p = "/v1/agents/{id}";
    let ann =
        json!({"name": "Ann", "queues": ["orders", "general"], "capacity": 5, "status": "online"});
    expect(
        &api.send("PUT", p, "/v1/agents/ann-1", agent, &ann),
        201,
        "put agent",
    );
    let ann2 = json!({"name": "Ann Lee", "queues": ["orders", "general"], "capacity": 6, "status": "online"});
    expect(
        &api.send("PUT", p, "/v1/agents/ann-1", agent, &ann2),
        200,
        "replace agent",
    );
    expect(
        &api.send("PUT", p, "/v1/agents/ann-1", none, &ann),
        401,
        "put agent 401",
    );
    expect(
        &api.send("PUT", p, "/v1/agents/ann-1", wrong, &ann),
        403,
        "put agent 403",
    );
    expect(
        &api.raw("PUT", p, "/v1/agents/ann-1", agent, b"{"),
        400,
        "put agent 400",
    );
    let huge_name = json!({"name": "a".repeat(70_000), "queues": ["orders"], "capacity": 1, "status": "online"});
    expect(
        &api.send("PUT", p, "/v1/agents/ann-1", agent, &huge_name),
        413,
        "put agent 413",
    );
    let zero = json!({"name": "Z", "queues": ["orders"], "capacity": 0, "status": "online"});
    expect(
        &api.send("PUT", p, "/v1/agents/zed", agent, &zero),
        422,
        "put agent 422",
    );
    expect(&api.get(p, "/v1/agents/ann-1", agent), 200, "get agent");
    expect(&api.get(p, "/v1/agents/ann-1", none), 401, "get agent 401");
    expect(&api.get(p, "/v1/agents/ann-1", wrong), 403, "get agent 403");
    expect(
        &api.get(p, "/v1/agents/nobody", agent),
        404,
        "get agent 404",
    );
    let p = "/v1/agents";
    let list = expect(&api.get(p, p, agent), 200, "agents");
    assert_eq!(list["items"][0]["id"], "ann-1", "{list}");
    expect(&api.get(p, p, none), 401, "agents 401");
    expect(&api.get(p, p, wrong), 403, "agents 403");

    // Tickets: create, replay, conflict.
    let p = "/v1/tickets";
    let create = json!({
        "customer": {"id": "c-openapi", "name": "王小明", "channel": "web",
                     "contact": "13812345678", "tier": "vip"},
        "transcript": [
            {"role": "customer", "text": "我的订单TD2026112612345还没到", "intent": "order_status", "confidence": 0.8},
            {"role": "bot", "text": "抱歉，我来帮您查询。", "answered": false},
            {"role": "agent", "text": "您好，我来处理。"}
        ],
        "subject": "订单未到", "category": "order_status", "priority": "high"
    });
    let key: &[(&str, &str)] = &[("Idempotency-Key", "openapi-1")];
    let created = expect(&api.send("POST", p, p, key, &create), 201, "create");
    let id = created["ticket"]["id"].as_str().unwrap().to_string();
    let access = created["access_token"].as_str().unwrap().to_string();
    expect(&api.send("POST", p, p, key, &create), 200, "replay");
    let mut other = create.clone();
    other["subject"] = json!("另一件事");
    expect(
        &api.send("POST", p, p, key, &other),
        409,
        "idempotency conflict",
    );
    let classified = json!({"customer": {"id": "c-2"},
                            "transcript": [{"role": "customer", "text": "where is my refund"}]});
    expect(
        &api.send("POST", p, p, none, &classified),
        201,
        "create, classified",
    );
    expect(
        &api.raw("POST", p, p, none, b"{\"customer\":"),
        400,
        "create 400",
    );
    let huge = json!({"customer": {"id": "c"},
                      "transcript": [{"role": "customer", "text": "a".repeat(1_100_000)}]});
    expect(&api.send("POST", p, p, none, &huge), 413, "create 413");
    let no_turns = json!({"customer": {"id": "c"}, "transcript": []});
    expect(&api.send("POST", p, p, none, &no_turns), 422, "create 422");

    // Tickets: list.
    let page = expect(&api.get(p, "/v1/tickets?limit=1", agent), 200, "list");
    assert!(page["next_cursor"].is_string(), "{page}");
    expect(&api.get(p, p, none), 401, "list 401");
    expect(&api.get(p, p, wrong), 403, "list 403");
    expect(
        &api.get(p, "/v1/tickets?status=%ff", agent),
        400,
        "list 400",
    );
    expect(&api.get(p, "/v1/tickets?limit=0", agent), 422, "list 422");

    // Tickets: read.
    let p = "/v1/tickets/{id}";
    let at = format!("/v1/tickets/{id}");
    let access_bearer = format!("Bearer {access}");
    let t = expect(&api.get(p, &at, agent), 200, "get (agent)");
    assert!(t["customer"]["contact"].is_string(), "{t}");
    let t = expect(
        &api.get(p, &at, &[("Authorization", &access_bearer)]),
        200,
        "get (customer)",
    );
    assert!(t.get("assignee").is_none(), "{t}");
    expect(&api.get(p, &at, none), 401, "get 401");
    expect(&api.get(p, &at, wrong), 403, "get 403");
    expect(
        &api.get(p, "/v1/tickets/tk_0000000000000000", agent),
        404,
        "get 404",
    );

    // Tickets: change.
    let v1: &[(&str, &str)] = &[("Authorization", bearer.as_str()), ("If-Match", "\"1\"")];
    let change = json!({"status": "open", "priority": "urgent", "queue": "orders",
                        "category": "delivery_delay", "assignee": "ann-1",
                        "actor": "openapi-test", "note": "checked 13812345678"});
    let t = expect(&api.send("PATCH", p, &at, v1, &change), 200, "patch");
    assert_eq!(t["version"], 2, "{t}");
    let open = json!({"status": "pending"});
    expect(&api.send("PATCH", p, &at, v1, &open), 412, "patch 412");
    let v2: &[(&str, &str)] = &[("Authorization", bearer.as_str()), ("If-Match", "\"2\"")];
    expect(
        &api.send("PATCH", p, &at, v2, &json!({"status": "new"})),
        409,
        "patch 409",
    );
    expect(&api.send("PATCH", p, &at, agent, &open), 428, "patch 428");
    let bad_match: &[(&str, &str)] = &[("Authorization", bearer.as_str()), ("If-Match", "*")];
    expect(
        &api.send("PATCH", p, &at, bad_match, &open),
        400,
        "patch 400",
    );
    expect(&api.send("PATCH", p, &at, v2, &json!({})), 422, "patch 422");
    let long_note = json!({"note": "a".repeat(70_000)});
    expect(&api.send("PATCH", p, &at, v2, &long_note), 413, "patch 413");
    let unknown = "/v1/tickets/tk_0000000000000000";
    expect(&api.send("PATCH", p, unknown, v1, &open), 404, "patch 404");
    expect(&api.send("PATCH", p, &at, none, &open), 401, "patch 401");
    expect(&api.send("PATCH", p, &at, wrong, &open), 403, "patch 403");

    // Tickets: audit trail.
    let p = "/v1/tickets/{id}/events";
    let ev = format!("/v1/tickets/{id}/events");
    let unknown_ev = "/v1/tickets/tk_0000000000000000/events";
    let note = json!({"kind": "note", "text": "called back", "actor": "ann-1"});
    expect(&api.send("POST", p, &ev, agent, &note), 201, "note");
    expect(&api.raw("POST", p, &ev, agent, b"note"), 400, "note 400");
    expect(&api.send("POST", p, &ev, none, &note), 401, "note 401");
    expect(&api.send("POST", p, &ev, wrong, &note), 403, "note 403");
    expect(
        &api.send("POST", p, unknown_ev, agent, &note),
        404,
        "note 404",
    );
    let long_text = json!({"kind": "note", "text": "a".repeat(70_000)});
    expect(
        &api.send("POST", p, &ev, agent, &long_text),
        413,
        "note 413",
    );
    let not_note = json!({"kind": "status", "text": "x"});
    expect(&api.send("POST", p, &ev, agent, &not_note), 422, "note 422");
    let trail = expect(&api.get(p, &ev, agent), 200, "events");
    assert!(
        trail["items"].as_array().is_some_and(|i| i.len() >= 3),
        "{trail}"
    );
    expect(&api.get(p, &ev, none), 401, "events 401");
    expect(&api.get(p, &ev, wrong), 403, "events 403");
    expect(&api.get(p, unknown_ev, agent), 404, "events 404");

    // Feedback: one event of each kind, with every field its kind takes.
    let p = "/v1/feedback";
    let common = |id: &str, turn: &str| {
        json!({"event_id": id, "conversation_id": "conv-openapi", "turn_id": turn,
               "intent_predicted": "order_status", "faq_predicted": "return_how_to",
               "channel": "web", "created_at": "2026-01-02T03:04:05Z"})
    };
    let with = |mut base: Value, extra: Value| {
        for (k, v) in extra.as_object().unwrap() {
            base[k] = v.clone();
        }
        base
    };
    let rating = with(
        common("evt-rating", "t-1"),
        json!({"kind": "rating", "rating": 5, "comment": "很快 thanks"}),
    );
    let mut outcome = with(
        common("evt-outcome", "t-2"),
        json!({"kind": "outcome", "resolved": true, "handled_by": "both",
               "agent_id": "ann-1", "contact_count": 1}),
    );
    let correction = with(
        common("evt-correction", "t-3"),
        json!({"kind": "correction", "intent_corrected": "refund_status",
               "faq_corrected": "refund_time", "text": "我的退款呢", "comment": "wrong intent",
               "agent_id": "ann-1"}),
    );
    let comment = with(
        common("evt-comment", "t-4"),
        json!({"kind": "comment", "comment": "太慢了，很不满意"}),
    );
    outcome["comment"] = json!("resolved by Ann");
    // No comment: the stored event's sentiment is null.
    let bare = json!({"event_id": "evt-bare", "conversation_id": "conv-2", "kind": "rating",
                      "rating": 3});
    for e in [&rating, &outcome, &correction, &comment, &bare] {
        expect(&api.send("POST", p, p, none, e), 201, "feedback");
    }
    expect(
        &api.send("POST", p, p, none, &rating),
        200,
        "feedback replay",
    );
    let mut changed = rating.clone();
    changed["rating"] = json!(1);
    expect(&api.send("POST", p, p, none, &changed), 409, "feedback 409");
    expect(&api.raw("POST", p, p, none, b"\xff"), 400, "feedback 400");
    let long_comment = with(
        common("evt-long", "t-5"),
        json!({"kind": "comment", "comment": long}),
    );
    expect(
        &api.send("POST", p, p, none, &long_comment),
        413,
        "feedback 413",
    );
    let six = with(
        common("evt-six", "t-6"),
        json!({"kind": "rating", "rating": 6}),
    );
    expect(&api.send("POST", p, p, none, &six), 422, "feedback 422");
    // Drill-down: the conversations behind a figure, in each format.
    let p = "/v1/feedback/conversations";
    let rows = expect(
        &api.get(
            p,
            "/v1/feedback/conversations?subset=resolved&group_by=intent&key=refund_status&limit=10",
            agent,
        ),
        200,
        "drill-down",
    );
    // The events above: one resolved conversation, its intent corrected to refund_status.
    assert_eq!(rows["total"], 1, "{rows}");
    let all = api.get(
        p,
        "/v1/feedback/conversations?format=jsonl&from=2026-01-01",
        agent,
    );
    expect(&all, 200, "drill-down jsonl");
    let csv = api.get(
        p,
        "/v1/feedback/conversations?format=csv&subset=rated",
        agent,
    );
    expect(&csv, 200, "drill-down csv");
    assert!(
        csv.text().starts_with("conversation_id,started_at,"),
        "{}",
        csv.text()
    );
    expect(
        &api.get(p, "/v1/feedback/conversations?subset=%FF", agent),
        400,
        "drill-down 400",
    );
    expect(
        &api.get(p, "/v1/feedback/conversations?subset=happy", agent),
        422,
        "drill-down 422",
    );
    expect(&api.get(p, p, none), 401, "drill-down 401");
    expect(&api.get(p, p, wrong), 403, "drill-down 403");
    let p = "/v1/feedback";

    // The preflight a page of another origin sends first (the chat widget's ratings).
    expect(
        &api.call("OPTIONS", p, p, preflight, None),
        204,
        "feedback preflight",
    );

    let p = "/v1/feedback/stats";
    let s = expect(&api.get(p, p, agent), 200, "stats");
    assert!(s.get("groups").is_none(), "{s}");
    let by_agent = "/v1/feedback/stats?from=2026-01-01&to=2099-01-01&group_by=agent";
    let s = expect(&api.get(p, by_agent, agent), 200, "stats by agent");
    assert!(s["groups"].as_array().is_some_and(|g| !g.is_empty()), "{s}");
    expect(&api.get(p, p, none), 401, "stats 401");
    expect(&api.get(p, p, wrong), 403, "stats 403");
    expect(
        &api.get(p, "/v1/feedback/stats?from=%ff", agent),
        400,
        "stats 400",
    );
    expect(
        &api.get(p, "/v1/feedback/stats?group_by=week", agent),
        422,
        "stats 422",
    );

    let p = "/v1/feedback/export";
    let export = api.get(p, "/v1/feedback/export?since=2000-01-01", agent);
    assert_eq!(export.status, 200, "{}", export.text());
    assert_eq!(export.text().lines().count(), 1, "{}", export.text());
    expect(&api.get(p, p, none), 401, "export 401");
    expect(&api.get(p, p, wrong), 403, "export 403");
    expect(
        &api.get(p, "/v1/feedback/export?since=%ff", agent),
        400,
        "export 400",
    );
    expect(
        &api.get(p, "/v1/feedback/export?since=yesterday", agent),
        422,
        "export 422",
    );

    // Graph: the KB's nodes with what the feedback and tickets above added.
    let p = "/v1/graph/health";
    let h = expect(&api.get(p, p, none), 200, p);
    assert_eq!(h["component"], "knowledge");
    expect(&api.call("HEAD", p, p, none, None), 200, p);
    let p = "/v1/graph";
    let s = expect(&api.get(p, p, agent), 200, "graph");
    assert!(s["nodes_by_kind"]["intent"].as_u64() > Some(10), "{s}");
    expect(&api.get(p, p, none), 401, "graph 401");
    expect(&api.get(p, p, wrong), 403, "graph 403");
    expect(&api.get(p, "/v1/graph?x=%FF", agent), 400, "graph 400");
    expect(&api.get(p, "/v1/graph?nope=1", agent), 422, "graph 422");
    let p = "/v1/graph/nodes/{id}";
    let n = expect(
        &api.get(p, "/v1/graph/nodes/intent:order_status", agent),
        200,
        "graph node",
    );
    // The correction above: order_status was refund_status.
    assert_eq!(n["node"]["stats"]["corrected"], 1, "{n}");
    let edge = |kind: &str| {
        n["neighbours"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["edge"] == kind)
            .cloned()
            .unwrap_or_else(|| panic!("no {kind} edge: {n}"))
    };
    assert_eq!(edge("confused_with")["node"]["id"], "intent:refund_status");
    // The outcome above credits the FAQ entry it names.
    let resolved = edge("resolved_by");
    assert_eq!(
        (
            &resolved["node"]["id"],
            &resolved["count"],
            &resolved["origin"]
        ),
        (&json!("faq:return_how_to"), &json!(1), &json!("live"))
    );
    let only = "/v1/graph/nodes/intent%3Aorder_status?kind=faq&limit=2";
    let f = expect(&api.get(p, only, agent), 200, "graph node of a kind");
    assert!(f["neighbours"].as_array().unwrap().len() <= 2, "{f}");
    let gone = "/v1/graph/nodes/intent:no_such_intent";
    expect(&api.get(p, gone, agent), 404, "graph node 404");
    let bad = "/v1/graph/nodes/not-a-node";
    expect(&api.get(p, bad, agent), 422, "graph node 422");
    let n400 = "/v1/graph/nodes/intent:order_status?kind=%FF";
    expect(&api.get(p, n400, agent), 400, "graph node 400");
    let any = "/v1/graph/nodes/intent:order_status";
    expect(&api.get(p, any, none), 401, "graph node 401");
    expect(&api.get(p, any, wrong), 403, "graph node 403");
    let p = "/v1/graph/path";
    let walk = "/v1/graph/path?from=faq:return_how_to&to=calendar:office";
    let w = expect(&api.get(p, walk, agent), 200, "graph path");
    assert_eq!(w["nodes"][0]["id"], "faq:return_how_to", "{w}");
    let short = format!("{walk}&max_hops=1");
    expect(&api.get(p, &short, agent), 404, "graph path 404");
    expect(
        &api.get(p, "/v1/graph/path?from=faq:x", agent),
        422,
        "graph path 422",
    );
    expect(
        &api.get(p, "/v1/graph/path?from=%FF", agent),
        400,
        "graph path 400",
    );
    expect(&api.get(p, walk, none), 401, "graph path 401");
    expect(&api.get(p, walk, wrong), 403, "graph path 403");
    let p = "/v1/graph/subgraph";
    let some = "/v1/graph/subgraph?kinds=intent,queue&limit=5";
    let g = expect(&api.get(p, some, agent), 200, "graph subgraph");
    assert_eq!(
        (g["nodes"].as_array().unwrap().len(), &g["truncated"]),
        (5, &json!(true))
    );
    let all = expect(&api.get(p, p, agent), 200, "graph subgraph");
    assert!(
        all["edges"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["origin"] == "live"),
        "{all}"
    );
    let bogus = "/v1/graph/subgraph?kinds=intent,bogus";
    expect(&api.get(p, bogus, agent), 422, "graph subgraph 422");
    expect(
        &api.get(p, "/v1/graph/subgraph?kinds=%FF", agent),
        400,
        "graph subgraph 400",
    );
    expect(&api.get(p, p, none), 401, "graph subgraph 401");
    expect(&api.get(p, p, wrong), 403, "graph subgraph 403");

    // Assist: a conversation that starts with the bot, hands off (a new ticket), continues.
    if doc["paths"].get("/v1/assist").is_some() {
        let p = "/v1/assist";
        let h = expect(
            &api.get("/v1/assist/health", "/v1/assist/health", none),
            200,
            p,
        );
        assert_eq!(h["component"], "assist");
        let first = json!({"customer": {"id": "c-assist", "tier": "vip", "name": "Wang",
                                        "channel": "web", "contact": "13812345678"},
                           "message": "hello there"});
        let t = expect(&api.send("POST", p, p, none, &first), 200, "assist");
        assert!(t["ticket"].is_null(), "{t}");
        let cid = t["conversation_id"].as_str().unwrap().to_string();
        let human = json!({"conversation_id": cid, "customer": null,
                           "message": "转人工 I want a human"});
        let t = expect(&api.send("POST", p, p, none, &human), 200, "assist handoff");
        assert_eq!(t["ticket"]["new"], true, "{t}");
        let more = json!({"conversation_id": cid, "message": "thanks"});
        let t = expect(&api.send("POST", p, p, none, &more), 200, "assist");
        assert_eq!(t["ticket"]["new"], false, "{t}");
        expect(&api.raw("POST", p, p, none, b"{"), 400, "assist 400");
        let gone = json!({"conversation_id": format!("cv_{}", "0".repeat(26)), "message": "hi"});
        expect(&api.send("POST", p, p, none, &gone), 404, "assist 404");
        expect(
            &api.send("POST", p, p, none, &json!({"message": long})),
            413,
            "assist 413",
        );
        expect(
            &api.send("POST", p, p, none, &json!({"message": " "})),
            422,
            "assist 422",
        );
        expect(
            &api.call("OPTIONS", p, p, preflight, None),
            204,
            "assist preflight",
        );
    }

    // Knowledge gaps: questions assist could not answer (one it guesses an intent for).
    let p = "/v1/knowledge/gaps";
    for message in ["what's the weather like tomorrow", "明天北京天气怎么样"] {
        let a = "/v1/assist";
        expect(
            &api.send("POST", a, a, none, &json!({"message": message})),
            200,
            "assist gap",
        );
    }
    // Two questions the bot cannot answer, each handed to a person and answered on the
    // ticket: two FAQ drafts.
    for question in ["do you sell dog food", "宠物狗粮有卖吗"] {
        let a = "/v1/assist";
        let first = expect(
            &api.send("POST", a, a, none, &json!({"message": question})),
            200,
            "assist gap",
        );
        assert_eq!(first["reply"]["source"], "fallback", "{first}");
        let conversation = first["conversation_id"].clone();
        let human = json!({"conversation_id": conversation, "message": "转人工 I want a person"});
        let t = expect(&api.send("POST", a, a, none, &human), 200, "assist handoff");
        let ticket = t["ticket"]["id"].as_str().unwrap().to_string();
        let events = format!("/v1/tickets/{ticket}/events");
        let note = json!({"kind": "note", "actor": "ann-1", "text": "Not yet: clothing and electronics only."});
        expect(
            &api.send("POST", "/v1/tickets/{id}/events", &events, agent, &note),
            201,
            "reply note",
        );
    }
    let g = expect(&api.get(p, p, agent), 200, "gaps");
    assert!(g["questions"].as_u64() >= Some(2), "{g}");
    expect(
        &api.get(p, "/v1/knowledge/gaps?limit=0", agent),
        422,
        "gaps 422",
    );
    expect(
        &api.get(p, "/v1/knowledge/gaps?from=%FF", agent),
        400,
        "gaps 400",
    );
    expect(&api.get(p, p, none), 401, "gaps 401");
    expect(&api.get(p, p, wrong), 403, "gaps 403");

    // Knowledge: the summary, the drafts, their review and export.
    let p = "/v1/knowledge/health";
    expect(&api.get(p, p, none), 200, p);
    expect(&api.call("HEAD", p, p, none, None), 200, p);
    let p = "/v1/knowledge";
    let k = expect(&api.get(p, p, agent), 200, "knowledge");
    assert!(k["drafts"]["draft"].as_u64() >= Some(2), "{k}");
    expect(
        &api.get(p, "/v1/knowledge?x=%FF", agent),
        400,
        "knowledge 400",
    );
    expect(
        &api.get(p, "/v1/knowledge?x=1", agent),
        422,
        "knowledge 422",
    );
    expect(&api.get(p, p, none), 401, "knowledge 401");
    expect(&api.get(p, p, wrong), 403, "knowledge 403");
    let p = "/v1/knowledge/drafts";
    let list = expect(
        &api.get(p, "/v1/knowledge/drafts?status=draft&limit=10", agent),
        200,
        "drafts",
    );
    // The two above (an earlier ticket's reply may have made another).
    let draft_ids: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| {
            ["do you sell dog food", "宠物狗粮有卖吗"].contains(&d["question"].as_str().unwrap())
        })
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(draft_ids.len(), 2, "{list}");
    expect(
        &api.get(p, "/v1/knowledge/drafts?status=%FF", agent),
        400,
        "drafts 400",
    );
    expect(
        &api.get(p, "/v1/knowledge/drafts?status=maybe", agent),
        422,
        "drafts 422",
    );
    expect(&api.get(p, p, none), 401, "drafts 401");
    expect(&api.get(p, p, wrong), 403, "drafts 403");
    let p = "/v1/knowledge/drafts/{id}";
    let (one, two) = (
        format!("/v1/knowledge/drafts/{}", draft_ids[0]),
        format!("/v1/knowledge/drafts/{}", draft_ids[1]),
    );
    expect(&api.get(p, &one, agent), 200, "draft");
    expect(
        &api.get(p, "/v1/knowledge/drafts/dr_0000000000000000", agent),
        404,
        "draft 404",
    );
    expect(&api.get(p, &format!("{one}?x=1"), agent), 422, "draft 422");
    expect(&api.get(p, &one, none), 401, "draft 401");
    expect(&api.get(p, &one, wrong), 403, "draft 403");
    let accept = json!({"version": 1, "status": "accepted", "faq_id": "pet_food",
                        "intent": "product_inquiry", "reviewed_by": "ann-1",
                        "question": "do you sell dog food?", "answer": "Not yet.", "lang": "en"});
    expect(&api.send("PATCH", p, &one, agent, &accept), 200, "accept");
    expect(
        &api.send("PATCH", p, &one, agent, &accept),
        409,
        "stale review",
    );
    let merge = json!({"version": 1, "status": "merged", "faq_id": "return_policy_7day"});
    expect(&api.send("PATCH", p, &two, agent, &merge), 200, "merge");
    let nowhere = json!({"version": 2, "status": "merged", "faq_id": "no_such_entry"});
    expect(
        &api.send("PATCH", p, &two, agent, &nowhere),
        422,
        "review 422",
    );
    expect(&api.raw("PATCH", p, &two, agent, b"{"), 400, "review 400");
    let huge = json!({"version": 2, "answer": "长".repeat(10_000)});
    expect(&api.send("PATCH", p, &two, agent, &huge), 413, "review 413");
    let gone = "/v1/knowledge/drafts/dr_0000000000000000";
    expect(
        &api.send("PATCH", p, gone, agent, &merge),
        404,
        "review 404",
    );
    expect(&api.send("PATCH", p, &two, none, &merge), 401, "review 401");
    expect(
        &api.send("PATCH", p, &two, wrong, &merge),
        403,
        "review 403",
    );
    let p = "/v1/knowledge/drafts/export";
    let export = api.get(p, p, agent);
    expect(&export, 200, "export");
    assert_eq!(export.text().lines().count(), 2, "{}", export.text());
    expect(
        &api.get(p, "/v1/knowledge/drafts/export?x=1", agent),
        422,
        "export 422",
    );
    expect(&api.get(p, p, none), 401, "export 401");
    expect(&api.get(p, p, wrong), 403, "export 403");

    // Webhooks: subscriptions, the outbox, a delivery run (the receiver is not an allowed
    // host, so its one try fails and the delivery is dead), the dead letter replayed.
    let p = "/v1/webhooks/health";
    expect(&api.get(p, p, none), 200, p);
    expect(&api.call("HEAD", p, p, none, None), 200, p);
    let p = "/v1/webhooks";
    let sub = json!({"url": "https://hooks.example.com/tandem", "events": ["ticket.created"],
                     "description": "CRM 客户系统", "active": true});
    let created = expect(&api.send("POST", p, p, agent, &sub), 201, "subscribe");
    let sid = created["id"].as_str().unwrap().to_string();
    let private = json!({"url": "http://10.0.0.7/hook", "events": ["*"]});
    expect(
        &api.send("POST", p, p, agent, &private),
        422,
        "subscribe 422",
    );
    expect(&api.raw("POST", p, p, agent, b"{"), 400, "subscribe 400");
    let huge = json!({"url": "https://hooks.example.com/", "events": ["*"], "description": "x".repeat(9000)});
    expect(&api.send("POST", p, p, agent, &huge), 413, "subscribe 413");
    expect(&api.send("POST", p, p, none, &sub), 401, "subscribe 401");
    expect(&api.send("POST", p, p, wrong, &sub), 403, "subscribe 403");
    expect(&api.get(p, p, agent), 200, "webhooks");
    expect(&api.get(p, "/v1/webhooks?x=1", agent), 422, "webhooks 422");
    expect(&api.get(p, p, none), 401, "webhooks 401");
    expect(&api.get(p, p, wrong), 403, "webhooks 403");
    let p = "/v1/webhooks/{id}";
    let one = format!("/v1/webhooks/{sid}");
    let gone = "/v1/webhooks/wh_0000000000000000";
    expect(&api.get(p, &one, agent), 200, "webhook");
    expect(&api.get(p, gone, agent), 404, "webhook 404");
    expect(&api.get(p, &one, none), 401, "webhook 401");
    expect(&api.get(p, &one, wrong), 403, "webhook 403");
    let change = json!({"url": "https://hooks.example.com/v2", "events": ["ticket.created"],
                        "description": null, "active": true});
    expect(
        &api.send("PATCH", p, &one, agent, &change),
        200,
        "webhook patch",
    );
    expect(
        &api.send("PATCH", p, &one, agent, &json!({"events": ["nope"]})),
        422,
        "patch 422",
    );
    expect(&api.raw("PATCH", p, &one, agent, b"[1,"), 400, "patch 400");
    expect(&api.send("PATCH", p, &one, agent, &huge), 413, "patch 413");
    expect(
        &api.send("PATCH", p, gone, agent, &change),
        404,
        "patch 404",
    );
    expect(&api.send("PATCH", p, &one, none, &change), 401, "patch 401");
    expect(
        &api.send("PATCH", p, &one, wrong, &change),
        403,
        "patch 403",
    );
    let customer = json!({"customer": {"id": "webhook-c1"},
                          "transcript": [{"role": "customer", "text": "订单还没到 my order is late"}]});
    expect(
        &api.send("POST", "/v1/tickets", "/v1/tickets", none, &customer),
        201,
        "ticket for the hook",
    );
    let p = "/v1/webhooks/deliver";
    let run = expect(&api.call("POST", p, p, agent, None), 200, "deliver");
    assert_eq!(
        (run["claimed"].as_u64(), run["dead"].as_u64()),
        (Some(1), Some(1)),
        "{run}"
    );
    expect(
        &api.call("POST", p, "/v1/webhooks/deliver?limit=0", agent, None),
        422,
        "deliver 422",
    );
    expect(
        &api.call("POST", p, "/v1/webhooks/deliver?limit=%FF", agent, None),
        400,
        "deliver 400",
    );
    expect(&api.call("POST", p, p, none, None), 401, "deliver 401");
    expect(&api.call("POST", p, p, wrong, None), 403, "deliver 403");
    let p = "/v1/webhooks/events";
    let events = expect(
        &api.get(p, "/v1/webhooks/events?after=0&limit=1000", agent),
        200,
        "events",
    );
    assert!(
        events["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["type"] == "ticket.created"),
        "{events}"
    );
    expect(
        &api.get(p, "/v1/webhooks/events?after=-1", agent),
        422,
        "events 422",
    );
    expect(
        &api.get(p, "/v1/webhooks/events?after=%FF", agent),
        400,
        "events 400",
    );
    expect(&api.get(p, p, none), 401, "events 401");
    expect(&api.get(p, p, wrong), 403, "events 403");
    let p = "/v1/webhooks/deliveries";
    let dead = expect(
        &api.get(p, "/v1/webhooks/deliveries?state=dead", agent),
        200,
        "dead letters",
    );
    let letter = dead["deliveries"][0]["id"].as_i64().unwrap();
    assert!(
        dead["deliveries"][0]["last_error"]
            .as_str()
            .unwrap()
            .contains("allowed_outbound_hosts"),
        "{dead}"
    );
    expect(
        &api.get(
            p,
            &format!("/v1/webhooks/deliveries?subscription={sid}&limit=5"),
            agent,
        ),
        200,
        "deliveries",
    );
    expect(
        &api.get(p, "/v1/webhooks/deliveries?subscription=nope", agent),
        422,
        "deliveries 422 subscription",
    );
    expect(
        &api.get(p, "/v1/webhooks/deliveries?state=lost", agent),
        422,
        "deliveries 422",
    );
    expect(
        &api.get(p, "/v1/webhooks/deliveries?state=%FF", agent),
        400,
        "deliveries 400",
    );
    expect(&api.get(p, p, none), 401, "deliveries 401");
    expect(&api.get(p, p, wrong), 403, "deliveries 403");
    let p = "/v1/webhooks/deliveries/{id}/replay";
    let replay = format!("/v1/webhooks/deliveries/{letter}/replay");
    let pending = expect(&api.call("POST", p, &replay, agent, None), 200, "replay");
    assert_eq!(pending["state"], "pending");
    expect(
        &api.call("POST", p, &replay, agent, None),
        409,
        "replay 409",
    );
    expect(
        &api.call(
            "POST",
            p,
            "/v1/webhooks/deliveries/999999/replay",
            agent,
            None,
        ),
        404,
        "replay 404",
    );
    expect(&api.call("POST", p, &replay, none, None), 401, "replay 401");
    expect(
        &api.call("POST", p, &replay, wrong, None),
        403,
        "replay 403",
    );
    let p = "/v1/webhooks/{id}";
    expect(
        &api.call("DELETE", p, &one, none, None),
        401,
        "unsubscribe 401",
    );
    expect(
        &api.call("DELETE", p, &one, wrong, None),
        403,
        "unsubscribe 403",
    );
    expect(
        &api.call("DELETE", p, &one, agent, None),
        200,
        "unsubscribe",
    );
    expect(
        &api.call("DELETE", p, &one, agent, None),
        404,
        "unsubscribe 404",
    );
    // The schedule's ticket work, run by hand.
    let p = "/v1/tickets/sweep";
    let swept = expect(&api.call("POST", p, p, agent, None), 200, "sweep");
    assert!(swept["escalated"].is_array(), "{swept}");
    expect(&api.call("POST", p, p, none, None), 401, "sweep 401");
    expect(&api.call("POST", p, p, wrong, None), 403, "sweep 403");

    // SLA figures.
    let p = "/v1/tickets/sla";
    let sla = expect(
        &api.get(p, "/v1/tickets/sla?from=2026-01-01", agent),
        200,
        "sla",
    );
    assert!(sla["overall"]["tickets"].as_u64() >= Some(1), "{sla}");
    expect(
        &api.get(p, "/v1/tickets/sla?from=yesterday", agent),
        422,
        "sla 422",
    );
    expect(
        &api.get(p, "/v1/tickets/sla?from=%FF", agent),
        400,
        "sla 400",
    );
    expect(&api.get(p, p, none), 401, "sla 401");
    expect(&api.get(p, p, wrong), 403, "sla 403");

    // Customers: a CRM's record, the tickets that fill from it.
    let p = "/v1/customers/health";
    expect(&api.get(p, p, none), 200, p);
    expect(&api.call("HEAD", p, p, none, None), 200, p);
    let p = "/v1/customers/{id}";
    let record = json!({
        "name": "王小明", "tier": "vip", "language": "zh", "contact": "wang@example.com",
        "recent_orders": [{"id": "TD2026120100001", "status": "shipped", "total": 299.5,
                           "currency": "CNY", "placed_at": "2026-12-01T10:00:00+08:00",
                           "items": ["蓝牙耳机 earbuds"]}],
        "attributes": {"plan": "gold"}, "source": "salesforce"
    });
    let crm = "/v1/customers/crm-c1";
    expect(
        &api.send("PUT", p, crm, agent, &record),
        201,
        "customer new",
    );
    expect(
        &api.send("PUT", p, crm, agent, &record),
        200,
        "customer replaced",
    );
    expect(
        &api.send("PUT", p, crm, agent, &json!({"language": "fr"})),
        422,
        "customer 422",
    );
    expect(&api.raw("PUT", p, crm, agent, b"{"), 400, "customer 400");
    let big = json!({"attributes": {"notes": "长".repeat(6000)}});
    expect(&api.send("PUT", p, crm, agent, &big), 413, "customer 413");
    expect(&api.send("PUT", p, crm, none, &record), 401, "customer 401");
    expect(
        &api.send("PUT", p, crm, wrong, &record),
        403,
        "customer 403",
    );
    let filed = json!({"customer": {"id": "crm-c1"},
                       "transcript": [{"role": "customer", "text": "退款 refund please"}]});
    let t = expect(
        &api.send("POST", "/v1/tickets", "/v1/tickets", agent, &filed),
        201,
        "ticket of a known customer, filed by a CRM",
    );
    assert_eq!(t["ticket"]["customer"]["tier"], "vip", "{t}");
    let c = expect(&api.get(p, crm, agent), 200, "customer");
    assert_eq!(c["tickets"].as_array().unwrap().len(), 1, "{c}");
    // A customer with tickets and no record.
    let c = expect(
        &api.get(p, "/v1/customers/webhook-c1", agent),
        200,
        "customer without a record",
    );
    assert!(c["record"].is_null(), "{c}");
    expect(
        &api.get(p, "/v1/customers/nobody", agent),
        404,
        "customer 404",
    );
    let p = "/v1/customers";
    let all = expect(
        &api.get(p, "/v1/customers?limit=5", agent),
        200,
        "customers",
    );
    assert_eq!(all["items"][0]["id"], "crm-c1", "{all}");
    expect(
        &api.get(p, "/v1/customers?limit=0", agent),
        422,
        "customers 422",
    );
    expect(
        &api.get(p, "/v1/customers?limit=%FF", agent),
        400,
        "customers 400",
    );
    expect(&api.get(p, p, none), 401, "customers 401");
    expect(&api.get(p, p, wrong), 403, "customers 403");
    let p = "/v1/customers/{id}";
    expect(&api.get(p, crm, none), 401, "customer get 401");
    expect(&api.get(p, crm, wrong), 403, "customer get 403");

    // Every path with an undocumented method: a 405 listing the documented ones.
    let mut deviations = Vec::new();
    for (template, item) in doc["paths"].as_object().unwrap() {
        if item.get("x-method-not-allowed").is_none() {
            continue;
        }
        let method = ["GET", "POST", "PUT", "PATCH", "DELETE"]
            .into_iter()
            .find(|m| item.get(m.to_ascii_lowercase()).is_none())
            .unwrap();
        let id = if template.starts_with("/v1/agents/") {
            "ann-1"
        } else {
            "tk_0000000000000000"
        };
        let concrete = template.replace("{id}", id);
        if let Some(&(_, _, status)) = KNOWN_DEVIATIONS
            .iter()
            .find(|(m, p, _)| *m == method && p == template)
        {
            let res = request_with(api.host.addr, method, &concrete, agent, Body::Empty).unwrap();
            assert_eq!(
                res.status, status,
                "{method} {template} no longer answers {status} (now {}): remove it from \
                 KNOWN_DEVIATIONS",
                res.status
            );
            deviations.push((template.clone(), "*".to_string(), 405));
            continue;
        }
        api.call(method, template, &concrete, agent, None);
    }

    // What the document lists and the test never saw, and the schemas never exercised.
    let mut failures = api.failures.borrow().clone();
    let exercised = api.exercised.borrow();
    let documented = documented(&doc);
    for (path, method, status) in documented.difference(&exercised) {
        if !deviations.contains(&(path.clone(), method.clone(), *status)) {
            failures.push(format!("never exercised: {method} {path} → {status}"));
        }
    }
    failures.extend(api.v.uncovered(&sites));
    eprintln!(
        "openapi: {} documented (path, method, status) triples, {} produced by the app and \
         validated; known deviations (reported, not documented): {deviations:?}",
        documented.len(),
        exercised.intersection(&documented).count()
    );
    assert!(
        failures.is_empty(),
        "{} problems:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
