//! The subcommands, one module each: its flags (the help texts of the subcommand itself are on
//! the `Command` variants in `main.rs`) and its body.

pub mod dlq;
pub mod fraud;
pub mod lake;
pub mod plugin;
pub mod produce;
pub mod query;
pub mod remote;
pub mod run;
pub mod shadow_report;
pub mod signal;
pub mod validate;
