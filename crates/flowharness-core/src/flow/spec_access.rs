//! Read access to a checked [`FlowSpec`]. Its fields are the crate's own,
//! so a spec only comes from [`FlowSpec::load`], [`FlowSpec::parse`] or
//! [`FlowSpec::from_tables`], checked, and stays as it was checked.

use super::spec::{Channel, FieldRef, FlowSpec, PathDef, Reference, Severity, State, StateSource};
use super::timing::Timing;
use crate::schema::Schema;

impl FlowSpec {
    /// The flow's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What the flow is, as the spec describes it.
    #[must_use]
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The first topic's schema (a flow on one topic has no other; see [`FlowSpec::channels`]).
    #[must_use]
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// The first topic.
    #[must_use]
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The field messages are keyed by.
    #[must_use]
    pub fn key(&self) -> &FieldRef {
        &self.key
    }

    /// Where a message's state comes from.
    #[must_use]
    pub fn state_source(&self) -> &StateSource {
        &self.state_source
    }

    /// The flow's states, in the spec's order.
    #[must_use]
    pub fn states(&self) -> &[State] {
        &self.states
    }

    /// The fields that together identify one flow.
    #[must_use]
    pub fn flow_id(&self) -> &[FieldRef] {
        &self.flow_id
    }

    /// The header every message of a flow carries its correlation id in, where the contract says.
    #[must_use]
    pub fn id_header(&self) -> Option<&str> {
        self.id_header.as_deref()
    }

    /// The states a flow may start in.
    #[must_use]
    pub fn start(&self) -> &[usize] {
        &self.start
    }

    /// The states a flow may end in.
    #[must_use]
    pub fn end(&self) -> &[usize] {
        &self.end
    }

    /// The end states after which a key may start a new flow.
    #[must_use]
    pub fn restart_after(&self) -> &[usize] {
        &self.restart_after
    }

    /// The path (index into [`FlowSpec::paths`]) a restart takes, if the spec names one.
    #[must_use]
    pub fn restart_path(&self) -> Option<usize> {
        self.restart_path
    }

    /// Per state: the allowed next states with their generation weights.
    #[must_use]
    pub fn transitions(&self) -> &[Vec<(usize, u32)>] {
        &self.transitions
    }

    /// The named paths.
    #[must_use]
    pub fn paths(&self) -> &[PathDef] {
        &self.paths
    }

    /// Fields whose value stays the same across a flow.
    #[must_use]
    pub fn invariants(&self) -> &[FieldRef] {
        &self.invariants
    }

    /// Fields whose value is never repeated across messages.
    #[must_use]
    pub fn unique(&self) -> &[FieldRef] {
        &self.unique
    }

    /// What a flow left open at the end of a run counts as.
    #[must_use]
    pub fn incomplete(&self) -> Severity {
        self.incomplete
    }

    /// The flow's timing rules, if it has any.
    #[must_use]
    pub fn timing(&self) -> Option<&Timing> {
        self.timing.as_ref()
    }

    /// References from one state's field to earlier flows' values.
    #[must_use]
    pub fn references(&self) -> &[Reference] {
        &self.references
    }

    /// Every topic of the flow, in name order (one for most flows).
    #[must_use]
    pub fn channels(&self) -> &[Channel] {
        &self.channels
    }

    /// How far producers' clocks may disagree across topics, in milliseconds.
    #[must_use]
    pub fn cross_topic_skew_ms(&self) -> i64 {
        self.cross_topic_skew_ms
    }
}
