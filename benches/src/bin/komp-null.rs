//! `komp-null`: the limit for the HTTP benchmark. An axum server (same axum,
//! tokio and hyper as `komp serve`, default multi-threaded runtime) that
//! reads the request body, does no inference, and answers with a fixed
//! response of the same size as a real prediction.
//!
//! `komp-null --listen 127.0.0.1:9090 --response postsortering=resp.json`
//! serves `POST /v1/components/postsortering/predict` with the bytes of
//! resp.json (content-type application/json).

use anyhow::{Context, Result};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use clap::Parser;
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "127.0.0.1:9090")]
    listen: String,
    /// NAME=FILE: the answer for POST /v1/components/NAME/predict (repeatable).
    #[arg(long = "response")]
    responses: Vec<String>,
}

async fn predict(
    State(r): State<Arc<HashMap<String, Bytes>>>,
    Path(name): Path<String>,
    body: Bytes,
) -> axum::response::Response {
    std::hint::black_box(&body);
    match r.get(&name) {
        Some(b) => ([(header::CONTENT_TYPE, "application/json")], b.clone()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let a = Args::parse();
    let mut map = HashMap::new();
    for r in &a.responses {
        let (name, file) = r.split_once('=').context("--response NAME=FILE")?;
        map.insert(name.to_string(), Bytes::from(std::fs::read(file).with_context(|| format!("read {file}"))?));
    }
    let app = axum::Router::new().route("/v1/components/{name}/predict", post(predict)).with_state(Arc::new(map));
    let listener = tokio::net::TcpListener::bind(&a.listen).await?;
    eprintln!("komp-null listening on {}", a.listen);
    axum::serve(listener, app).await?;
    Ok(())
}
