//! FinLake's dashboard: a Leptos client-side app served by the host at `/`.
//!
//! The pure parts (formatting, time, chart geometry, rates, config problems, result shaping)
//! are plain Rust and tested natively with `cargo test -p finlake-web`; everything that touches
//! the browser only compiles for wasm32 (`xtask/build-web.sh` builds it and runs wasm-bindgen).

pub mod charts;
pub mod format;
pub mod graph;
pub mod market;
pub mod problems;
pub mod rates;
pub mod requests;
pub mod rows;
pub mod time;

#[cfg(target_arch = "wasm32")]
mod api;
#[cfg(target_arch = "wasm32")]
mod app;
#[cfg(target_arch = "wasm32")]
mod auth;
#[cfg(target_arch = "wasm32")]
mod pages;
#[cfg(target_arch = "wasm32")]
mod sse;
#[cfg(target_arch = "wasm32")]
mod ui;

/// Runs when the module is instantiated (`init()` in index.html): mounts the app on `<body>`.
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::App);
}
