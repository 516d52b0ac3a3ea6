//! Small SVG charts: the geometry ([`scale`], [`layout`]) is plain Rust; the components that
//! draw it exist in the browser build only.

pub mod layout;
pub mod scale;

#[cfg(target_arch = "wasm32")]
mod svg;
#[cfg(target_arch = "wasm32")]
pub use svg::*;
#[cfg(target_arch = "wasm32")]
mod graph;
#[cfg(target_arch = "wasm32")]
pub use graph::PipelineGraphView;
