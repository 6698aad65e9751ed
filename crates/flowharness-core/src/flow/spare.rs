//! Values handed back after they were written, kept per state for the
//! generator to draw the next value of that state over
//! ([`Sampler::sample_into`](crate::generate::avro_sampler::Sampler::sample_into)):
//! a value freed on the thread that made it and a new one drawn in its
//! place cost far more than writing over it.

use serde_json::Value;

/// Values kept per state: a few batches' worth, so memory stays bounded.
#[derive(Debug, Default)]
pub(crate) struct Spare {
    by_state: Vec<Vec<Value>>,
}

/// Values kept per state at most; more are freed.
const KEEP: usize = 2048;

impl Spare {
    pub(crate) fn new(states: usize) -> Spare {
        Spare {
            by_state: (0..states).map(|_| Vec::new()).collect(),
        }
    }

    /// A value of `state` to draw over, if one was handed back.
    pub(crate) fn take(&mut self, state: usize) -> Option<Value> {
        self.by_state.get_mut(state)?.pop()
    }

    /// Keeps a value of `state` (one moved out, left null, is freed).
    pub(crate) fn put(&mut self, state: usize, value: Value) {
        if let Some(kept) = self.by_state.get_mut(state)
            && kept.len() < KEEP
            && !value.is_null()
        {
            kept.push(value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_by_state_and_a_bounded_number() {
        let mut spare = Spare::new(2);
        assert_eq!(spare.take(0), None);
        spare.put(1, Value::from(1));
        spare.put(5, Value::from(5));
        spare.put(1, Value::Null);
        assert_eq!(spare.take(0), None);
        assert_eq!(spare.take(1), Some(Value::from(1)));
        assert_eq!(spare.take(1), None, "a value moved out (null) is not kept");
        for i in 0..KEEP + 10 {
            spare.put(0, Value::from(i));
        }
        let mut kept = 0;
        while spare.take(0).is_some() {
            kept += 1;
        }
        assert_eq!(kept, KEEP);
    }
}
