//! A set of entity types as a bitmask: what the ledger records per request
//! (the PII classes detected), so the record of processing can list the
//! categories of data each provider received without storing any value.

use serde::{Deserialize, Serialize};

use super::{EntityType, Finding};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EntitySet(u32);

impl EntitySet {
    fn bit(t: EntityType) -> u32 {
        // The bit is the type's place in `EntityType::ALL`: new types are
        // appended there, so stored masks keep their meaning.
        let i = EntityType::ALL.iter().position(|e| *e == t).unwrap_or(31);
        1 << i
    }

    pub fn of(findings: &[Finding]) -> Self {
        findings
            .iter()
            .fold(Self::default(), |s, f| s.with(f.entity_type))
    }

    #[must_use]
    pub fn with(self, t: EntityType) -> Self {
        EntitySet(self.0 | Self::bit(t))
    }

    #[must_use]
    pub fn union(self, other: EntitySet) -> Self {
        EntitySet(self.0 | other.0)
    }

    pub fn contains(self, t: EntityType) -> bool {
        self.0 & Self::bit(t) != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The stored form. Bits of no known type are dropped when read.
    pub fn bits(self) -> i64 {
        i64::from(self.0)
    }

    pub fn from_bits(bits: i64) -> Self {
        let known = (1u32 << EntityType::ALL.len()) - 1;
        EntitySet(u32::try_from(bits & i64::from(known)).unwrap_or(0))
    }

    /// The types in the set, in `EntityType::ALL` order.
    pub fn types(self) -> impl Iterator<Item = EntityType> {
        EntityType::ALL
            .into_iter()
            .filter(move |t| self.contains(*t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_keeps_its_bits() {
        let s = EntitySet::default()
            .with(EntityType::EmailAddress)
            .with(EntityType::Secret);
        assert_eq!(EntitySet::from_bits(s.bits()), s);
        assert_eq!(
            s.types().collect::<Vec<_>>(),
            vec![EntityType::EmailAddress, EntityType::Secret]
        );
        assert_eq!(EntitySet::default().with(EntityType::CreditCard).bits(), 1);
        assert_eq!(
            EntitySet::from_bits(-1).types().count(),
            EntityType::ALL.len()
        );
        assert!(EntitySet::from_bits(0).is_empty());
    }
}
