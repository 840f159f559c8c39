//! Prices with history: each change is a new version with the moment it
//! takes effect. Usage is priced with the version in force when the request
//! was made, so a past month re-prices to the same money whatever changed
//! since, and a change announced for the 1st applies from the 1st.

use serde::{Deserialize, Serialize};

use super::pricing::{Micros, Price};
use super::time::Millis;

/// One version: `price` applies to requests made at or after
/// `effective_from`, until the next version's. A model's price is a
/// `Price`; a flag evaluation's is micro-dollars per evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PriceVersion<P = Price> {
    pub effective_from: Millis,
    pub price: P,
}

/// A model's versions, oldest first, effective times distinct.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PriceHistory<P = Price>(Vec<PriceVersion<P>>);

/// The price of one OFREP flag evaluation, in micro-dollars.
pub type EvaluationPrices = PriceHistory<Micros>;

impl<P> Default for PriceHistory<P> {
    fn default() -> Self {
        PriceHistory(Vec::new())
    }
}

impl<P: Copy> PriceHistory<P> {
    /// Orders the versions; of two with the same time the later-listed wins
    /// (storage keeps one per time, so this does not arise from it).
    pub fn new(mut versions: Vec<PriceVersion<P>>) -> Self {
        versions.sort_by_key(|v| v.effective_from);
        versions.dedup_by(|later, earlier| {
            let same = later.effective_from == earlier.effective_from;
            if same {
                *earlier = *later;
            }
            same
        });
        PriceHistory(versions)
    }

    /// The version in force at `at`: the last that took effect at or before
    /// it. `None` before the first version (a model always has one from 0).
    pub fn at(&self, at: Millis) -> Option<&PriceVersion<P>> {
        let after = self.0.partition_point(|v| v.effective_from <= at);
        after.checked_sub(1).and_then(|i| self.0.get(i))
    }

    /// Versions that have not taken effect yet at `now`.
    pub fn scheduled(&self, now: Millis) -> impl Iterator<Item = &PriceVersion<P>> {
        self.0.iter().filter(move |v| v.effective_from > now)
    }

    pub fn versions(&self) -> &[PriceVersion<P>] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(effective_from: Millis, input: i64) -> PriceVersion {
        PriceVersion {
            effective_from,
            price: Price {
                input_per_mtok: input,
                ..Price::default()
            },
        }
    }

    fn input_at(h: &PriceHistory, at: Millis) -> Option<i64> {
        h.at(at).map(|v| v.price.input_per_mtok)
    }

    #[test]
    fn the_version_in_force_at_each_boundary() {
        let h = PriceHistory::new(vec![v(2_000, 30), v(0, 10), v(1_000, 20)]);
        assert_eq!(input_at(&h, 0), Some(10));
        assert_eq!(input_at(&h, 999), Some(10));
        assert_eq!(
            input_at(&h, 1_000),
            Some(20),
            "a version applies from its first millisecond"
        );
        assert_eq!(input_at(&h, 1_999), Some(20));
        assert_eq!(input_at(&h, 2_000), Some(30));
        assert_eq!(input_at(&h, i64::MAX), Some(30));
        assert_eq!(input_at(&PriceHistory::new(vec![v(5, 1)]), 4), None);
        assert_eq!(input_at(&PriceHistory::default(), 0), None);
    }

    #[test]
    fn scheduled_versions_are_those_still_ahead() {
        let h = PriceHistory::new(vec![v(0, 10), v(1_000, 20), v(1_000, 25)]);
        assert_eq!(h.versions().len(), 2, "one version per moment");
        assert_eq!(input_at(&h, 1_000), Some(25));
        assert_eq!(h.scheduled(999).count(), 1);
        assert_eq!(h.scheduled(1_000).count(), 0);
    }
}
