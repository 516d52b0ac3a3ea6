//! One module per page of the dashboard.

pub mod dead_letters;
pub mod fraud;
pub mod lake;
pub mod markets;
pub mod overview;
pub mod pipelines;
pub mod plugins;
mod shadow;
mod sql;
