//! Subcommands that are more than a call into the library: dead letters, and talking to a
//! running `finlake run` through its API.

pub mod dlq;
pub mod fraud;
pub mod remote;
