//! The `wasi:http` side of outbound HTTP: an instance's [`OutboundHttpState`], whose hooks send
//! the requests its component's policy allows through wasmtime's client and refuse every other
//! one with `HTTP-request-denied` and one line on stderr.

use std::sync::Arc;
use std::time::Duration;

use http_body_util::BodyExt;
use wasmtime::component::{Linker, ResourceTable};
use wasmtime_wasi_http::{
    Error as HttpError, RequestOptions, WasiBody, WasiHttpCtx, WasiHttpCtxView, WasiHttpView,
};

use super::policy::OutboundPolicy;

/// Connect timeout of an outbound request whose guest set none.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Time to the response head of an outbound request whose guest set none.
pub const FIRST_BYTE_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest pause between response body frames of an outbound request whose guest set none.
pub const BETWEEN_BYTES_TIMEOUT: Duration = Duration::from_secs(10);

/// The `wasi:http` state of one instance: the context and the hooks applying its policy.
pub struct OutboundHttpState {
    ctx: WasiHttpCtx,
    hooks: OutboundHooks,
}

impl OutboundHttpState {
    /// State of an instance whose outgoing requests `policy` checks.
    pub fn new(policy: Arc<OutboundPolicy>) -> Self {
        Self {
            ctx: WasiHttpCtx::new(),
            hooks: OutboundHooks::new(policy),
        }
    }

    /// The `wasi:http` view over `table`, the resource table the instance shares with WASI.
    pub fn view<'a>(&'a mut self, table: &'a mut ResourceTable) -> WasiHttpCtxView<'a> {
        WasiHttpCtxView {
            ctx: &mut self.ctx,
            table,
            hooks: &mut self.hooks,
        }
    }

    /// The hooks, needed to turn a host request into a guest request.
    pub fn hooks(&mut self) -> &mut dyn wasmtime_wasi_http::WasiHttpHooks {
        &mut self.hooks
    }
}

/// Links `wasi:http@0.3` (handler and client) for store data that is a [`WasiHttpView`].
pub fn add_to_linker<T: WasiHttpView + 'static>(linker: &mut Linker<T>) -> anyhow::Result<()> {
    crate::error::wt(
        wasmtime_wasi_http::p3::add_to_linker(linker),
        "linking wasi:http 0.3",
    )
}

/// The guest's request options with this host's defaults where it set none.
pub fn with_default_timeouts(options: Option<RequestOptions>) -> RequestOptions {
    let options = options.unwrap_or_default();
    RequestOptions {
        connect_timeout: Some(options.connect_timeout.unwrap_or(CONNECT_TIMEOUT)),
        first_byte_timeout: Some(options.first_byte_timeout.unwrap_or(FIRST_BYTE_TIMEOUT)),
        between_bytes_timeout: Some(
            options
                .between_bytes_timeout
                .unwrap_or(BETWEEN_BYTES_TIMEOUT),
        ),
    }
}

/// `wasi:http` hooks of one instance: requests its component's policy allows go out through
/// wasmtime's client; the others fail with `HTTP-request-denied` and one line on stderr.
pub struct OutboundHooks {
    policy: Arc<OutboundPolicy>,
}

impl OutboundHooks {
    /// Hooks applying `policy`.
    pub fn new(policy: Arc<OutboundPolicy>) -> Self {
        Self { policy }
    }
}

/// What `send_request` returns: the response and the future of its connection's I/O.
type SendResult = Result<
    (
        http::Response<WasiBody>,
        Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ),
    HttpError,
>;

impl wasmtime_wasi_http::WasiHttpHooks for OutboundHooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> Box<dyn Future<Output = SendResult> + Send> {
        if let Err(refusal) = self.policy.check(request.uri()) {
            eprintln!("{refusal}");
            return Box::new(async { Err(HttpError::HttpRequestDenied) });
        }
        let options = with_default_timeouts(options);
        Box::new(async move {
            let (res, io) =
                wasmtime_wasi_http::default_send_request(request, Some(options)).await?;
            Ok((
                res.map(BodyExt::boxed_unsync),
                Box::new(io) as Box<dyn Future<Output = Result<(), HttpError>> + Send>,
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::factors::outbound_http::allowed_hosts::AllowedHosts;

    #[test]
    fn guest_timeouts_win_and_missing_ones_get_defaults() {
        let o = with_default_timeouts(None);
        assert_eq!(o.connect_timeout, Some(CONNECT_TIMEOUT));
        assert_eq!(o.first_byte_timeout, Some(FIRST_BYTE_TIMEOUT));
        assert_eq!(o.between_bytes_timeout, Some(BETWEEN_BYTES_TIMEOUT));
        let o = with_default_timeouts(Some(RequestOptions {
            connect_timeout: Some(Duration::from_secs(1)),
            ..RequestOptions::default()
        }));
        assert_eq!(o.connect_timeout, Some(Duration::from_secs(1)));
        assert_eq!(o.first_byte_timeout, Some(FIRST_BYTE_TIMEOUT));
    }

    fn empty_request(url: &str) -> http::Request<WasiBody> {
        let body = http_body_util::Empty::<bytes::Bytes>::new()
            .map_err(|never| match never {})
            .boxed_unsync();
        http::Request::builder()
            .uri(url)
            .header(http::header::HOST, "127.0.0.1")
            .body(body)
            .unwrap()
    }

    async fn send(hooks: &mut OutboundHooks, url: &str) -> SendResult {
        use wasmtime_wasi_http::WasiHttpHooks as _;
        let fut = hooks.send_request(empty_request(url), None, Box::new(async { Ok(()) }));
        Box::into_pin(fut).await
    }

    #[tokio::test]
    async fn hooks_refuse_what_is_not_allowed_and_send_what_is() {
        // A one-shot HTTP server on a free port.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let service = hyper::service::service_fn(|_req| async {
                Ok::<_, std::convert::Infallible>(http::Response::new(http_body_util::Full::new(
                    bytes::Bytes::from_static(b"pong"),
                )))
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });

        // No allowed hosts: refused without any connection attempt.
        let mut offline = OutboundHooks::new(Arc::new(OutboundPolicy::new(
            "intent",
            AllowedHosts::default(),
        )));
        let url = format!("http://127.0.0.1:{port}/ping");
        assert!(matches!(
            send(&mut offline, &url).await,
            Err(HttpError::HttpRequestDenied)
        ));

        let allowed = AllowedHosts::parse(&[format!("http://127.0.0.1:{port}")]).unwrap();
        let mut online =
            OutboundHooks::new(Arc::new(OutboundPolicy::new("webhooks", allowed.clone())));
        // Another port of an allowed host is still refused.
        assert!(matches!(
            send(&mut online, "http://127.0.0.1:9/").await,
            Err(HttpError::HttpRequestDenied)
        ));
        let (res, io) = send(&mut online, &url).await.unwrap();
        assert_eq!(res.status(), 200);
        let io = tokio::spawn(Box::into_pin(io));
        let body = res.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], b"pong");
        drop(io);
    }
}
