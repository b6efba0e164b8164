//! `feedback-seed`: posts N realistic feedback events to a running app over 16 concurrent
//! connections, through the real `POST /v1/feedback` (so the rows are exactly what the component
//! writes), for benchmarking `GET /v1/feedback/stats` over a large store.
//!
//! Events: four per conversation on average (rating, outcome, comment, and a correction for one
//! conversation in ten), spread over 30 days, 8 intents, 3 channels, 12 agents. Deterministic.

use anyhow::{Context, Result, bail};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

const INTENTS: [&str; 8] = [
    "order_status",
    "refund_status",
    "return_request",
    "delivery_delay",
    "payment_failed",
    "coupon_usage",
    "account_login",
    "complaint",
];
const CHANNELS: [&str; 3] = ["web", "app", "wechat"];

fn event(i: usize) -> String {
    let conv = i / 4;
    // 2026-10-27T00:00:00Z plus up to 30 days.
    let ms = 1_793_059_200_000i64 + (conv as i64 % 30) * 86_400_000 + (i as i64 % 4) * 60_000;
    let created = tandem_time(ms);
    let intent = INTENTS[conv % INTENTS.len()];
    let channel = CHANNELS[conv % CHANNELS.len()];
    let head = format!(
        r#""event_id":"seed-{i}","conversation_id":"conv-{conv}","created_at":"{created}","channel":"{channel}","intent_predicted":"{intent}""#
    );
    let body = match i % 4 {
        0 => format!(r#""kind":"rating","rating":{}"#, 1 + (conv * 7 + 3) % 5),
        1 => {
            let by = ["bot", "bot", "human", "both"][conv % 4];
            let agent = if by == "bot" {
                String::new()
            } else {
                format!(r#","agent_id":"agent_{}""#, conv % 12)
            };
            format!(
                r#""kind":"outcome","resolved":{},"handled_by":"{by}","contact_count":{}{agent}"#,
                !conv.is_multiple_of(6),
                1 + conv % 3
            )
        }
        2 if conv.is_multiple_of(10) => format!(
            r#""kind":"correction","intent_corrected":"{}","text":"我的退款 refund {conv}""#,
            INTENTS[(conv + 1) % INTENTS.len()]
        ),
        _ => format!(r#""kind":"comment","comment":"还行 ok {conv}, call 13812345678""#),
    };
    format!("{{{head},{body}}}")
}

/// RFC 3339 of milliseconds since the epoch (days → civil date, Howard Hinnant's algorithm).
fn tandem_time(ms: i64) -> String {
    let (days, rem) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let (h, mi, s) = (rem / 3_600_000, rem / 60_000 % 60, rem / 1000 % 60);
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

fn post(addr: &str, body: &str) -> Result<u16> {
    let mut s = TcpStream::connect(addr)?;
    write!(
        s,
        "POST /v1/feedback HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut raw = String::new();
    s.read_to_string(&mut raw)?;
    raw.split_whitespace()
        .nth(1)
        .context("no status")?
        .parse()
        .context("bad status")
}

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let (mut url, mut events, mut clients) = (String::new(), 100_000usize, 16usize);
    while let Some(a) = args.next() {
        let mut value = || args.next().context("missing value");
        match a.as_str() {
            "--url" => url = value()?,
            "--events" => events = value()?.parse()?,
            "--clients" => clients = value()?.parse()?,
            other => bail!("unknown argument {other} (--url URL --events N --clients N)"),
        }
    }
    let addr = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    if addr.is_empty() {
        bail!("--url http://127.0.0.1:PORT is required");
    }
    let start = Instant::now();
    let (next, failed) = (AtomicUsize::new(0), AtomicUsize::new(0));
    std::thread::scope(|scope| {
        for _ in 0..clients {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= events {
                        break;
                    }
                    match post(&addr, &event(i)) {
                        Ok(200 | 201) => {}
                        Ok(status) => {
                            failed.fetch_add(1, Ordering::Relaxed);
                            eprintln!("event {i}: HTTP {status}");
                        }
                        Err(e) => {
                            failed.fetch_add(1, Ordering::Relaxed);
                            eprintln!("event {i}: {e:#}");
                        }
                    }
                    if i > 0 && i % 10_000 == 0 {
                        eprintln!("{i} events, {:.0} s", start.elapsed().as_secs_f64());
                    }
                }
            });
        }
    });
    let secs = start.elapsed().as_secs_f64();
    println!(
        "seeded {events} events in {secs:.1} s ({:.0} events/s, {} failed)",
        events as f64 / secs,
        failed.load(Ordering::Relaxed)
    );
    if failed.load(Ordering::Relaxed) > 0 {
        bail!("some events failed");
    }
    Ok(())
}
