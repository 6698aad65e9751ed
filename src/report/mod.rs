//! Reports for CI: JUnit XML of a flow check.

pub mod junit;
