//! The sources against a local HTTP server that replays response bodies of the real shapes.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;

use super::alpha_vantage::AlphaVantage;
use super::coingecko::CoinGecko;
use super::{Source, SourceError};

type Replies = Arc<Mutex<VecDeque<(u16, String, u64)>>>;

/// Serves the queued (status, body, delay ms) replies in order, for any path.
async fn replay(replies: Vec<(u16, String, u64)>) -> String {
    let queue: Replies = Arc::new(Mutex::new(replies.into_iter().collect()));
    async fn next(State(q): State<Replies>) -> (StatusCode, String) {
        let (status, body, delay) = q.lock().unwrap().pop_front().unwrap_or((500, "exhausted".into(), 0));
        tokio::time::sleep(Duration::from_millis(delay)).await;
        (StatusCode::from_u16(status).unwrap(), body)
    }
    let app = Router::new().route("/{*path}", get(next)).with_state(queue);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

const GECKO: &str = r#"{"bitcoin":{"usd":64123.5,"usd_24h_vol":31234567890.12,"last_updated_at":1764218700},"ethereum":{"usd":3201.7,"usd_24h_vol":15234567890.5,"last_updated_at":1764218701},"binancecoin":{"usd":580.1,"usd_24h_vol":1834567890.1,"last_updated_at":1764218702},"cardano":{"usd":0.4512,"usd_24h_vol":412345678.9,"last_updated_at":1764218703},"solana":{"usd":145.2,"usd_24h_vol":2534567890.3,"last_updated_at":1764218704}}"#;

fn quote(symbol: &str, price: &str, volume: &str) -> String {
    format!(
        r#"{{"Global Quote": {{"01. symbol": "{symbol}","02. open": "188.0000","03. high": "191.0000","04. low": "187.5000","05. price": "{price}","06. volume": "{volume}","07. latest trading day": "2026-11-26","08. previous close": "188.5000","09. change": "1.0000","10. change percent": "0.5305%"}}}}"#
    )
}

#[tokio::test]
async fn coingecko_turns_a_response_into_crypto_records_and_skips_unchanged_coins() {
    let base = replay(vec![(200, GECKO.into(), 0), (200, GECKO.into(), 0)]).await;
    let mut source = CoinGecko::new(&base, Duration::from_secs(5));
    let records = source.poll().await.unwrap();
    assert_eq!(records.len(), 5);
    let (key, value) = &records[0];
    let v: serde_json::Value = serde_json::from_str(value).unwrap();
    assert_eq!(key, "BTC");
    assert_eq!(v["price"], 64123.5);
    assert_eq!(v["ts"], 1_764_218_700_000i64);
    assert!(source.poll().await.unwrap().is_empty(), "nothing moved: nothing is sent twice");
}

#[tokio::test]
async fn coingecko_failures_are_typed_errors() {
    let base = replay(vec![
        (500, "upstream down".into(), 0),
        (429, r#"{"status":{"error_code":429,"error_message":"You've exceeded the Rate Limit"}}"#.into(), 0),
        (200, "{\"bitcoin\": {\"usd\": ".into(), 0),
        (200, GECKO.into(), 1500),
    ])
    .await;
    let mut source = CoinGecko::new(&base, Duration::from_millis(500));
    assert!(matches!(source.poll().await, Err(SourceError::Status { status: 500, .. })));
    assert!(matches!(source.poll().await, Err(SourceError::RateLimited { .. })));
    assert!(matches!(source.poll().await, Err(SourceError::Malformed { .. })));
    let timeout = source.poll().await.unwrap_err();
    assert!(matches!(timeout, SourceError::Http { .. }), "{timeout}");
}

#[tokio::test]
async fn alpha_vantage_derives_trades_from_volume_and_respects_rate_limits() {
    let mut replies: Vec<(u16, String, u64)> = Vec::new();
    for s in super::alpha_vantage::SYMBOLS {
        replies.push((200, quote(s, "189.5000", "1000000"), 0));
    }
    for (i, s) in super::alpha_vantage::SYMBOLS.iter().enumerate() {
        let body = match i {
            1 => r#"{"Global Quote": {}}"#.to_string(),
            _ => quote(s, "188.2500", "1000250"),
        };
        replies.push((200, body, 0));
    }
    replies.push((
        200,
        r#"{"Note": "Thank you for using Alpha Vantage! Our standard API call frequency is 5 calls per minute"}"#
            .into(),
        0,
    ));
    let base = replay(replies).await;
    let mut source = AlphaVantage::new(&base, "demo-key", Duration::from_secs(5));
    assert!(source.poll().await.unwrap().is_empty(), "the first poll only records volumes");
    let records = source.poll().await.unwrap();
    assert_eq!(records.len(), 4, "TSLA's empty quote is skipped, the others traded 250 shares");
    let v: serde_json::Value = serde_json::from_str(&records[0].1).unwrap();
    assert_eq!(v["symbol"], "AAPL");
    assert_eq!(v["quantity"], 250);
    assert_eq!(v["side"], "sell");
    assert_eq!(v["price"], 188.25);
    let err = source.poll().await.unwrap_err();
    assert!(matches!(err, SourceError::RateLimited { .. }), "{err}");
    assert!(err.to_string().contains("apikey=***"), "the key is never logged: {err}");
}
