//! Schema registries: the embedded Confluent-compatible one, and a client
//! for any (embedded, Confluent, Karapace, Apicurio ccompat, Redpanda).

pub mod client;
pub mod server;
pub mod store;

pub use client::{RegistryClient, RegistryConfig, SubjectStrategy};
pub use server::EmbeddedRegistry;
