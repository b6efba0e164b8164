//! The schedule: routes the host calls on a timer, so time-driven work (sweeps, deliveries)
//! runs under `tandem up` without an external cron.
//!
//! Configured by application variables, so the manifest stays valid for Spin, which ignores
//! them (there an operator calls the same routes from any cron):
//!
//! - `schedule_interval_seconds`: a whole number of seconds; `0`, empty or undeclared: off;
//! - `schedule_routes`: comma-separated absolute paths, each served by a `[[trigger.http]]`;
//! - `agent_token`, when declared and not empty: sent as `Authorization: Bearer <token>`.
//!
//! Like any application variable, each takes its value from `SPIN_VARIABLE_<NAME>` when set.
//! Every interval the host sends `POST <path>` with an empty body to each route in turn,
//! through its own router (`server::handle_internal`, passed to [`run`] by `tandem up`). A tick that comes while the
//! previous one still runs is skipped, so runs never overlap. Only non-2xx answers are logged.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use bytes::Bytes;
use http::HeaderValue;
use http_body_util::{BodyExt, Full};
use tokio::sync::watch;

use crate::factors::variables::Value;
use crate::manifest::Manifest;
use crate::routing::Router;

/// Seconds between runs.
pub const INTERVAL_VARIABLE: &str = "schedule_interval_seconds";
/// The routes run each time.
pub const ROUTES_VARIABLE: &str = "schedule_routes";
/// The bearer token sent with each request.
pub const TOKEN_VARIABLE: &str = "agent_token";

/// Longest interval accepted: a year (a longer one is a mistake, and would overflow timers).
const MAX_INTERVAL_SECONDS: u64 = 366 * 24 * 3600;

/// A validated schedule.
#[derive(Clone)]
pub struct Schedule {
    /// Time between the starts of two runs.
    pub interval: Duration,
    /// Paths (with optional query) posted to, in order.
    pub routes: Vec<String>,
    /// `Bearer <agent_token>`, if the variable is declared and not empty.
    authorization: Option<HeaderValue>,
}

impl fmt::Debug for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Schedule")
            .field("interval", &self.interval)
            .field("routes", &self.routes)
            .field(
                "authorization",
                &self.authorization.as_ref().map(|_| "<secret>"),
            )
            .finish()
    }
}

/// Where a variable's value came from, for messages.
fn source(name: &str, manifest: &Manifest, env: &dyn Fn(&str) -> Option<String>) -> String {
    let env_name = format!("SPIN_VARIABLE_{}", name.to_ascii_uppercase());
    if env(&env_name).is_some() {
        env_name
    } else {
        format!("its default in {}", manifest.path.display())
    }
}

impl Schedule {
    /// Reads and checks the schedule variables; `None` when the schedule is off. The routes
    /// are checked even then, so a typo shows before the schedule is switched on.
    pub fn from_variables(
        manifest: &Manifest,
        app: &BTreeMap<String, Value>,
        env: &dyn Fn(&str) -> Option<String>,
        router: &Router,
    ) -> Result<Option<Self>> {
        let value = |name: &str| app.get(name).map(|v| v.expose().trim().to_string());

        let mut routes = Vec::new();
        if let Some(list) = value(ROUTES_VARIABLE) {
            for route in list.split(',').map(str::trim).filter(|r| !r.is_empty()) {
                let fail = |why: &str| {
                    anyhow::anyhow!(
                        "application variable `{ROUTES_VARIABLE}` (from {}): `{route}` {why}",
                        source(ROUTES_VARIABLE, manifest, env)
                    )
                };
                if !route.starts_with('/') {
                    return Err(fail("is not an absolute path (it must start with `/`)"));
                }
                let path = route
                    .parse::<http::uri::PathAndQuery>()
                    .map_err(|e| fail(&format!("is not a valid path: {e}")))?;
                if router.route(path.path()).is_none() {
                    return Err(fail("is served by no `[[trigger.http]]` route"));
                }
                routes.push(route.to_string());
            }
        }

        let seconds = match value(INTERVAL_VARIABLE).as_deref() {
            None | Some("") => 0,
            Some(text) => match text.parse::<u64>() {
                Ok(n) if n <= MAX_INTERVAL_SECONDS => n,
                _ => bail!(
                    "application variable `{INTERVAL_VARIABLE}` (from {}) must be a whole number \
                     of seconds from 0 (off) to {MAX_INTERVAL_SECONDS}, not {text:?}",
                    source(INTERVAL_VARIABLE, manifest, env)
                ),
            },
        };
        if seconds == 0 {
            return Ok(None);
        }
        if routes.is_empty() {
            eprintln!(
                "tandem: `{INTERVAL_VARIABLE}` is {seconds} but `{ROUTES_VARIABLE}` lists no \
                 route: no schedule"
            );
            return Ok(None);
        }

        let authorization = match app.get(TOKEN_VARIABLE).map(Value::expose) {
            None | Some("") => None,
            Some(token) => {
                let Ok(mut header) = HeaderValue::from_str(&format!("Bearer {token}")) else {
                    bail!(
                        "application variable `{TOKEN_VARIABLE}` (from {}) cannot be sent in an \
                         `Authorization` header (control characters or non-ASCII)",
                        source(TOKEN_VARIABLE, manifest, env)
                    );
                };
                header.set_sensitive(true);
                Some(header)
            }
        };
        Ok(Some(Self {
            interval: Duration::from_secs(seconds),
            routes,
            authorization,
        }))
    }

    /// The request sent to `route`; `addr` is the host's listen address (the `Host` header).
    pub fn request(&self, route: &str, addr: SocketAddr) -> http::Request<Bytes> {
        let mut req = http::Request::post(route)
            .header(http::header::HOST, addr.to_string())
            .header(http::header::CONTENT_LENGTH, 0)
            .header(http::header::USER_AGENT, "tandem-schedule");
        if let Some(auth) = &self.authorization {
            req = req.header(http::header::AUTHORIZATION, auth.clone());
        }
        req.body(Bytes::new())
            .expect("routes were checked as paths at load")
    }

    /// One line for the log at startup.
    pub fn describe(&self) -> String {
        let routes: Vec<String> = self.routes.iter().map(|r| format!("POST {r}")).collect();
        format!(
            "tandem: schedule every {} s: {}{}",
            self.interval.as_secs(),
            routes.join(", "),
            if self.authorization.is_some() {
                " (with the agent_token bearer token)"
            } else {
                ""
            }
        )
    }
}

/// Runs the schedule until `stop` turns true (or its sender goes away); a run in progress
/// finishes its current route first. `handle` serves one request as the host serves a
/// client's and answers with the serving component's id and the response.
pub async fn run<H, Fut>(
    schedule: Schedule,
    addr: SocketAddr,
    stop: watch::Receiver<bool>,
    handle: H,
) where
    H: Fn(http::Request<Bytes>) -> Fut,
    Fut: Future<Output = (String, http::Response<Full<Bytes>>)>,
{
    let schedule = &schedule;
    let handle = &handle;
    ticks(schedule.interval, &schedule.routes, stop, |route| {
        let route = route.to_string();
        async move {
            let start = Instant::now();
            let req = schedule.request(&route, addr);
            let (component, res) = handle(req).await;
            if !res.status().is_success() {
                let status = res.status().as_u16();
                let body = res
                    .into_body()
                    .collect()
                    .await
                    .map(|b| b.to_bytes())
                    .unwrap_or_default();
                eprintln!(
                    "{}",
                    summary(&route, status, &component, start.elapsed(), &body)
                );
            }
        }
    })
    .await;
}

/// `tandem: schedule POST /v1/tickets/sweep → 503 (tickets, 12 ms): <detail>`; the detail is
/// a problem response's `detail`, else the start of the body.
fn summary(route: &str, status: u16, component: &str, took: Duration, body: &[u8]) -> String {
    let detail = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("detail").and_then(|d| d.as_str()).map(str::to_string))
        .unwrap_or_else(|| {
            String::from_utf8_lossy(body)
                .chars()
                .take(200)
                .collect::<String>()
        });
    let detail = detail.split_whitespace().collect::<Vec<_>>().join(" ");
    format!(
        "tandem: schedule POST {route} → {status} ({component}, {} ms){}",
        took.as_millis(),
        if detail.is_empty() {
            String::new()
        } else {
            format!(": {detail}")
        }
    )
}

/// Every `interval` (the first one interval from now), runs `run_route` on each route in
/// turn. Ticks that fall while a run is still going are skipped, not queued: the next run
/// starts at the first tick after the previous run ended.
async fn ticks<F, Fut>(
    interval: Duration,
    routes: &[String],
    mut stop: watch::Receiver<bool>,
    mut run_route: F,
) where
    F: FnMut(&str) -> Fut,
    Fut: Future<Output = ()>,
{
    let mut next = tokio::time::Instant::now() + interval;
    loop {
        tokio::select! {
            () = tokio::time::sleep_until(next) => {}
            _ = stop.changed() => return,
        }
        for route in routes {
            if *stop.borrow() {
                return;
            }
            run_route(route).await;
        }
        let now = tokio::time::Instant::now();
        next += interval;
        while next < now {
            next += interval;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::sync::{Arc, Mutex};

    const MANIFEST: &str = r#"
spin_manifest_version = 2
[application]
name = "t"
[variables]
schedule_interval_seconds = { default = "0" }
schedule_routes = { default = "/v1/tickets/sweep, /v1/webhooks/deliver" }
agent_token = { required = true, secret = true }
[[trigger.http]]
route = "/v1/tickets/..."
component = "tickets"
[[trigger.http]]
route = "/v1/webhooks/deliver"
component = "webhooks"
[component.tickets]
source = "t.wasm"
[component.webhooks]
source = "w.wasm"
"#;

    fn configure(env: &[(&str, &str)]) -> Result<Option<Schedule>> {
        let manifest = crate::manifest::parse(MANIFEST, Path::new("/app/spin.toml")).unwrap();
        let env = |k: &str| {
            env.iter()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| v.to_string())
        };
        let app = crate::factors::variables::resolve_app_variables(&manifest.variables, &env)?;
        let router = Router::new(
            manifest
                .http_triggers
                .iter()
                .map(|t| (t.route.clone(), t.component.clone())),
        );
        Schedule::from_variables(&manifest, &app, &env, &router)
    }

    const TOKEN: (&str, &str) = ("SPIN_VARIABLE_AGENT_TOKEN", "t0k");

    #[test]
    fn off_unless_an_interval_is_set() {
        assert!(configure(&[TOKEN]).unwrap().is_none());
        assert!(
            configure(&[TOKEN, ("SPIN_VARIABLE_SCHEDULE_INTERVAL_SECONDS", "")])
                .unwrap()
                .is_none()
        );
        // Routes listing nothing: off as well.
        assert!(
            configure(&[
                TOKEN,
                ("SPIN_VARIABLE_SCHEDULE_INTERVAL_SECONDS", "5"),
                ("SPIN_VARIABLE_SCHEDULE_ROUTES", " , "),
            ])
            .unwrap()
            .is_none()
        );
    }

    #[test]
    fn interval_routes_and_token_from_variables() {
        let s = configure(&[TOKEN, ("SPIN_VARIABLE_SCHEDULE_INTERVAL_SECONDS", " 60 ")])
            .unwrap()
            .unwrap();
        assert_eq!(s.interval, Duration::from_secs(60));
        assert_eq!(s.routes, ["/v1/tickets/sweep", "/v1/webhooks/deliver"]);
        assert!(!format!("{s:?}").contains("t0k"));
        assert!(
            s.describe()
                .contains("POST /v1/tickets/sweep, POST /v1/webhooks/deliver")
        );

        let req = s.request("/v1/tickets/sweep", "127.0.0.1:3000".parse().unwrap());
        assert_eq!(req.method(), http::Method::POST);
        assert_eq!(req.uri().path(), "/v1/tickets/sweep");
        assert_eq!(req.headers()["authorization"], "Bearer t0k");
        assert_eq!(req.headers()["host"], "127.0.0.1:3000");
        assert!(req.body().is_empty());

        // An empty token sends no header.
        let s = configure(&[
            ("SPIN_VARIABLE_AGENT_TOKEN", ""),
            ("SPIN_VARIABLE_SCHEDULE_INTERVAL_SECONDS", "1"),
        ])
        .unwrap()
        .unwrap();
        let req = s.request("/v1/tickets/sweep", "127.0.0.1:3000".parse().unwrap());
        assert!(req.headers().get("authorization").is_none());
    }

    #[test]
    fn bad_values_fail_at_load_naming_them() {
        let err = configure(&[TOKEN, ("SPIN_VARIABLE_SCHEDULE_INTERVAL_SECONDS", "1m")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("schedule_interval_seconds"), "{err}");
        assert!(
            err.contains("SPIN_VARIABLE_SCHEDULE_INTERVAL_SECONDS"),
            "{err}"
        );
        assert!(err.contains("\"1m\""), "{err}");
        for bad in ["-5", "1.5", "99999999999"] {
            assert!(
                configure(&[TOKEN, ("SPIN_VARIABLE_SCHEDULE_INTERVAL_SECONDS", bad)]).is_err(),
                "{bad}"
            );
        }

        // Routes are checked even while the schedule is off.
        let err = configure(&[
            TOKEN,
            (
                "SPIN_VARIABLE_SCHEDULE_ROUTES",
                "/v1/tickets/sweep,/v1/nope",
            ),
        ])
        .unwrap_err()
        .to_string();
        assert!(err.contains("`/v1/nope`"), "{err}");
        assert!(err.contains("[[trigger.http]]"), "{err}");
        let err = configure(&[TOKEN, ("SPIN_VARIABLE_SCHEDULE_ROUTES", "v1/tickets/sweep")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("absolute path"), "{err}");
        assert!(configure(&[TOKEN, ("SPIN_VARIABLE_SCHEDULE_ROUTES", "/v1/tickets/a b")]).is_err());
        // A route prefix is matched like a request path; a query is kept.
        let s = configure(&[
            TOKEN,
            ("SPIN_VARIABLE_SCHEDULE_INTERVAL_SECONDS", "1"),
            (
                "SPIN_VARIABLE_SCHEDULE_ROUTES",
                "/v1/tickets/sweep?limit=50",
            ),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(s.routes, ["/v1/tickets/sweep?limit=50"]);

        let err = configure(&[
            ("SPIN_VARIABLE_AGENT_TOKEN", "bad\ntoken"),
            ("SPIN_VARIABLE_SCHEDULE_INTERVAL_SECONDS", "1"),
        ])
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("agent_token") && !err.contains("bad\ntoken"),
            "{err}"
        );
    }

    #[test]
    fn summary_shows_the_problem_detail() {
        let body = br#"{"type":"https://tandem.dev/problems/timeout","status":504,"detail":"component `tickets` did not respond within 30000 ms"}"#;
        assert_eq!(
            summary(
                "/v1/tickets/sweep",
                504,
                "tickets",
                Duration::from_millis(30001),
                body
            ),
            "tandem: schedule POST /v1/tickets/sweep → 504 (tickets, 30001 ms): component \
             `tickets` did not respond within 30000 ms"
        );
        assert_eq!(
            summary(
                "/v1/x",
                401,
                "x",
                Duration::from_millis(3),
                b"unauthorized\n"
            ),
            "tandem: schedule POST /v1/x → 401 (x, 3 ms): unauthorized"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn runs_never_overlap_and_late_ticks_are_skipped() {
        let routes = vec!["/a".to_string(), "/b".to_string()];
        let log = Arc::new(Mutex::new(Vec::<(String, u64)>::new()));
        let (stop_tx, stop_rx) = watch::channel(false);
        let start = tokio::time::Instant::now();
        let running = Arc::new(Mutex::new(false));
        let task = {
            let log = Arc::clone(&log);
            let running = Arc::clone(&running);
            tokio::spawn(async move {
                ticks(Duration::from_secs(10), &routes, stop_rx, |route| {
                    let log = Arc::clone(&log);
                    let running = Arc::clone(&running);
                    let route = route.to_string();
                    async move {
                        assert!(!std::mem::replace(&mut *running.lock().unwrap(), true));
                        let at = start.elapsed().as_secs();
                        log.lock().unwrap().push((route.clone(), at));
                        // The first run of `/a` takes 25 s: two ticks pass meanwhile.
                        if route == "/a" && at == 10 {
                            tokio::time::sleep(Duration::from_secs(25)).await;
                        }
                        *running.lock().unwrap() = false;
                    }
                })
                .await;
            })
        };
        tokio::time::sleep(Duration::from_secs(55)).await;
        stop_tx.send(true).unwrap();
        task.await.unwrap();
        let log = log.lock().unwrap().clone();
        assert_eq!(
            log,
            [
                ("/a".to_string(), 10),
                ("/b".to_string(), 35),
                // 20 and 30 were missed; the next tick on the 10 s grid is 40.
                ("/a".to_string(), 40),
                ("/b".to_string(), 40),
                ("/a".to_string(), 50),
                ("/b".to_string(), 50),
            ]
        );
    }
}
