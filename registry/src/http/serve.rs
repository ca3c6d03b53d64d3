//! Serving a router on a socket with the protections `komp serve` has.
//!
//! `axum::serve` has no timeouts: a client that sends half a request head,
//! or a body one byte a minute, holds its connection (and a task) forever,
//! and enough of them exhaust file descriptors. Here every connection is
//! HTTP/1.1 with a header-read timeout (hyper), and every request has a
//! whole-request timeout, body included (tower-http, 408). `komp serve`
//! (`komp_server::run`) uses the same loop.

use axum::http::StatusCode;
use axum::Router;
use std::future::Future;
use std::time::Duration;

/// Timeouts of [`serve`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeLimits {
    /// How long a client may take to send a complete request head, and how
    /// long an idle kept-alive connection stays open.
    pub header_timeout: Duration,
    /// How long one request may take, body upload included; then 408.
    /// Long enough for the largest component on a slow link.
    pub request_timeout: Duration,
}

impl Default for ServeLimits {
    fn default() -> Self {
        ServeLimits { header_timeout: Duration::from_secs(30), request_timeout: Duration::from_secs(300) }
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets
/// in-flight requests finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: ServeLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let app = router.layer(request_timeout(limits.request_timeout));
    serve_connections(listener, app, limits.header_timeout, shutdown).await
}

/// The whole-request timeout of [`serve`] (408 with an empty body), for a
/// caller that wraps it in its own layers (such as an error body) and serves
/// with [`serve_connections`].
pub fn request_timeout(timeout: Duration) -> tower_http::timeout::TimeoutLayer {
    tower_http::timeout::TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, timeout)
}

/// The connection loop of [`serve`] without its request timeout: HTTP/1.1
/// with a header-read timeout, graceful shutdown. `app` must bound its
/// requests itself (see [`request_timeout`]).
pub async fn serve_connections(
    listener: tokio::net::TcpListener,
    app: Router,
    header_timeout: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => {
                    // Out of file descriptors and the like: wait, do not spin.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout)
            .serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
        });
    }
    drop(listener);
    graceful.shutdown().await;
}
