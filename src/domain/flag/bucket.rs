//! Stable bucketing, bit for bit Unleash's: `murmur3_x86_32("{group}:{key}",
//! seed) % 100 + 1`, so a tenant moving from Unleash keeps every user in the
//! same bucket. Rollouts use seed 0; weighted variants seed 86028157.

/// The seed Unleash uses for variant weights.
pub const VARIANT_SEED: u32 = 86_028_157;

const C1: u32 = 0xcc9e_2d51;
const C2: u32 = 0x1b87_3593;

fn mix(k: u32) -> u32 {
    k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2)
}

/// MurmurHash3 x86 32-bit over the concatenation of `parts`. Short inputs
/// (every realistic `group:key`) are joined on the stack, so the hot path
/// never allocates; longer ones are joined on the heap.
pub fn murmur3_x86_32(parts: &[&[u8]], seed: u32) -> u32 {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let mut stack = [0u8; 128];
    let mut heap = Vec::new();
    let buf: &mut [u8] = if len <= stack.len() {
        &mut stack[..len]
    } else {
        heap.resize(len, 0);
        &mut heap
    };
    let mut at = 0;
    for p in parts {
        buf[at..at + p.len()].copy_from_slice(p);
        at += p.len();
    }
    murmur3_slice(buf, seed)
}

fn murmur3_slice(data: &[u8], seed: u32) -> u32 {
    let mut h = seed;
    let blocks = data.chunks_exact(4);
    let tail = blocks.remainder();
    for b in blocks {
        h ^= mix(u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        h = h.rotate_left(13).wrapping_mul(5).wrapping_add(0xe654_6b64);
    }
    if !tail.is_empty() {
        let k = tail
            .iter()
            .rev()
            .fold(0u32, |k, b| (k << 8) | u32::from(*b));
        h ^= mix(k);
    }
    // The length is mixed in modulo 2^32, as the reference does.
    h ^= data.len() as u32;
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

/// The bucket, 1 to 100, of `key` within `group`.
pub fn normalized(group: &str, key: &str, seed: u32) -> u32 {
    murmur3_x86_32(&[group.as_bytes(), b":", key.as_bytes()], seed) % 100 + 1
}

/// A weight point, 1 to `total`, for weighted variants.
pub fn normalized_weight(group: &str, key: &str, total: u32) -> u32 {
    murmur3_x86_32(&[group.as_bytes(), b":", key.as_bytes()], VARIANT_SEED) % total.max(1) + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_unleash_published_vectors() {
        // unleash-client-node, test/strategy/util.test: "normalized values
        // are the same across node, java, and go clients".
        assert_eq!(normalized("gr1", "123", 0), 73);
        assert_eq!(normalized("groupX", "999", 0), 25);
    }

    #[test]
    fn matches_reference_murmur3() {
        // Reference values of MurmurHash3_x86_32 (Appleby's SMHasher).
        assert_eq!(murmur3_x86_32(&[b""], 0), 0);
        assert_eq!(murmur3_x86_32(&[b""], 1), 0x514e_28b7);
        assert_eq!(murmur3_x86_32(&[b"1"], 0), 2_484_513_939);
        // Split anywhere, the same hash.
        let whole = murmur3_x86_32(&[b"Hello, world!"], 1234);
        assert_eq!(
            murmur3_x86_32(&[b"Hel", b"lo, w", b"", b"orld!"], 1234),
            whole
        );
    }

    #[test]
    fn rollout_buckets_are_even_and_monotone() {
        let keys: Vec<String> = (0..100_000).map(|i| format!("user-{i}")).collect();
        for pct in [1, 10, 33, 50, 90] {
            let share = keys
                .iter()
                .filter(|k| normalized("flag", k, 0) <= pct)
                .count();
            let expected = keys.len() as f64 * f64::from(pct) / 100.0;
            assert!(
                (share as f64 - expected).abs() <= keys.len() as f64 * 0.01,
                "{pct}%: {share}"
            );
        }
        // Everyone in at 10% is in at 20%: the bucket does not depend on the percentage.
        assert!(keys
            .iter()
            .filter(|k| normalized("flag", k, 0) <= 10)
            .all(|k| normalized("flag", k, 0) <= 20));
    }
}
