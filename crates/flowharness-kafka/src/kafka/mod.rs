//! The Kafka runtime: the embedded broker, how to reach any cluster, the
//! producer with delivery accounting, and the observer.

pub mod backend;
pub mod cluster;
pub mod containers;
pub mod embedded;
pub mod environment;
pub mod lag;
mod log_storage;
pub mod memory_log;
pub mod observer;
pub mod producer;
pub mod retention;

pub use cluster::Cluster;
pub use embedded::EmbeddedBroker;
pub use environment::{Connect, Environment};
