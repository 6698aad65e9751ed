//! Flow contracts: declarative specs over sequences of messages, a checker
//! of what consumers observe, and a generator of interleaved flows.

pub mod checker;
pub mod fields;
pub mod findings;
pub mod fixture_io;
mod generate_event;
pub mod generate_out;
mod generate_values;
pub mod generator;
mod held;
pub mod path;
mod ready;
mod schema_paths;
pub mod shipped;
mod spare;
pub mod spec;
mod spec_access;
mod spec_build;
mod spec_file;
mod templates;
mod times;
pub mod timing;

pub use spec::{FlowSpec, Severity};
