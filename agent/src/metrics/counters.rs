//! Cumulative counters turned into per-interval deltas, as the CloudWatch agent sends net and
//! diskio metrics: the first reading of a counter yields nothing, and a counter that went
//! backwards (a reset: the interface or device was re-created, or the counter wrapped) yields
//! nothing for that interval and starts over from its new value.

use std::collections::HashMap;

/// The last reading of every counter, by (resource, field).
#[derive(Debug, Default)]
pub struct Deltas {
    last: HashMap<(String, &'static str), u64>,
}

impl Deltas {
    /// The change of counter `field` of `resource` since its last reading, if there was one
    /// and it did not go back.
    pub fn delta(&mut self, resource: &str, field: &'static str, value: u64) -> Option<u64> {
        let key = (resource.to_string(), field);
        if let Some(last) = self.last.get_mut(&key) {
            let delta = value.checked_sub(*last);
            *last = value;
            delta
        } else {
            self.last.insert(key, value);
            None
        }
    }

    /// The changes of `counters` of `resource` that have one (see [`Deltas::delta`]).
    pub fn deltas(&mut self, resource: &str, counters: &[(&'static str, u64)]) -> Vec<(&'static str, f64)> {
        counters
            .iter()
            .filter_map(|(field, value)| Some((*field, self.delta(resource, field, *value)? as f64)))
            .collect()
    }

    /// Forgets counters of resources not in `present` (a removed interface or device).
    pub fn retain(&mut self, present: &[&str]) {
        self.last
            .retain(|(resource, _), _| present.contains(&resource.as_str()));
    }
}

#[cfg(test)]
mod tests {
    use super::Deltas;

    #[test]
    fn first_reading_and_resets_yield_nothing() {
        let mut d = Deltas::default();
        assert_eq!(d.delta("eth0", "bytes_sent", 100), None);
        assert_eq!(d.delta("eth0", "bytes_sent", 150), Some(50));
        assert_eq!(d.delta("eth0", "bytes_sent", 150), Some(0));
        assert_eq!(d.delta("eth0", "bytes_sent", 10), None, "a reset");
        assert_eq!(d.delta("eth0", "bytes_sent", 30), Some(20));
        assert_eq!(d.delta("eth1", "bytes_sent", 30), None, "another resource");
        d.retain(&["eth1"]);
        assert_eq!(d.delta("eth0", "bytes_sent", 40), None, "forgotten");
    }
}
