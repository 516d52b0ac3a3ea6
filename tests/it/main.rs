//! The one integration test binary of the host (one binary: one link of the big dependencies).

mod common;
mod e2e;
mod fraud;
mod gold;
mod handoff;
mod hostile;
mod languages;
mod live;
mod maintenance;
mod multihost;
mod netns;
mod plugins;
mod query;
mod s3;
mod shadow;
mod swap;
