//! Which adapters a full pool keeps loaded: every pinned one, then the
//! most recently used, up to the engines' `max_loras`. The rest are loaded
//! on demand, evicting the least recently used unpinned one.

use std::collections::BTreeSet;

use crate::domain::time::Millis;

#[derive(Debug, Clone, Copy)]
pub struct Want<'a> {
    pub name: &'a str,
    pub pinned: bool,
    pub last_used: Millis,
}

/// The adapters to keep loaded; `max` 0 means no limit. Pinned adapters
/// come first whatever their use; ties go to the name, so every replica
/// picks the same set from the same facts.
pub fn resident<'a>(wants: &[Want<'a>], max: usize) -> BTreeSet<&'a str> {
    if max == 0 || wants.len() <= max {
        return wants.iter().map(|w| w.name).collect();
    }
    let mut order: Vec<&Want<'a>> = wants.iter().collect();
    order.sort_by(|a, b| {
        b.pinned
            .cmp(&a.pinned)
            .then(b.last_used.cmp(&a.last_used))
            .then(a.name.cmp(b.name))
    });
    order.into_iter().take(max).map(|w| w.name).collect()
}
