//! Keys for memoizing pure functions of JSON inputs (the topology controller's patch engine): the
//! inputs are written out as an unambiguous byte string (type tags, lengths, keys in their stored
//! order) into a reused buffer, and the key is that string's 128-bit XXH3 hash, so a collision is out
//! of reach for any run. The hash has a fixed seed: the same inputs give the same key in every
//! process, and nothing is iterated in hash order.

use serde_json::Value;
use std::cell::RefCell;
use std::hash::Hasher;

/// Appends whatever is hashed into it to a byte string (so derived `Hash` impls can feed a key).
pub struct Feed<'a>(&'a mut Vec<u8>);

impl Hasher for Feed<'_> {
    fn write(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }
    fn finish(&self) -> u64 {
        // Only the byte string matters; see [`key`].
        0
    }
}

thread_local! {
    // The byte string of the key being made, kept between calls so that it is allocated once.
    static BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// The 128-bit key of whatever `feed` writes.
pub fn key(feed: impl FnOnce(&mut Feed<'_>)) -> u128 {
    BUF.with(|b| {
        let mut b = b.borrow_mut();
        b.clear();
        feed(&mut Feed(&mut b));
        xxhash_rust::xxh3::xxh3_128(&b)
    })
}

/// A bounded table of remembered results by key: `N` slots, each keeping the last value whose key
/// maps to it (a direct-mapped cache), so it never grows and never needs clearing. A lookup yields a
/// value only for the very key it was stored under. Used per thread, inside a `thread_local!`, for
/// pure functions whose answers are worth reusing across reconciles; it is only looked up, never
/// iterated, so what it holds cannot change what a run does.
pub struct Slots<V, const N: usize> {
    slots: Vec<Option<(u128, V)>>,
}

impl<V: Clone, const N: usize> Slots<V, N> {
    /// An empty table (its slots are allocated on the first store).
    pub const fn new() -> Self {
        Slots { slots: Vec::new() }
    }

    /// The value stored under `key`, if its slot still holds it.
    pub fn get(&self, key: u128) -> Option<&V> {
        match self.slots.get(Self::slot(key)) {
            Some(Some((k, v))) if *k == key => Some(v),
            _ => None,
        }
    }

    /// Store `v` under `key`, replacing whatever its slot held.
    pub fn put(&mut self, key: u128, v: V) {
        if self.slots.is_empty() {
            self.slots.resize(N, None);
        }
        self.slots[Self::slot(key)] = Some((key, v));
    }

    fn slot(key: u128) -> usize {
        (key % N as u128) as usize
    }
}

impl<V: Clone, const N: usize> Default for Slots<V, N> {
    fn default() -> Self {
        Self::new()
    }
}

/// Write a JSON value structurally (type tags, lengths, keys in their stored order).
pub fn hash_json(v: &Value, h: &mut Feed<'_>) {
    let out = &mut *h.0;
    match v {
        Value::Null => out.push(0),
        Value::Bool(b) => out.push(if *b { 2 } else { 1 }),
        Value::Number(n) => {
            // serde_json keeps a number as u64, i64 or f64; each gets its own tag.
            if let Some(u) = n.as_u64() {
                out.push(3);
                out.extend_from_slice(&u.to_le_bytes());
            } else if let Some(i) = n.as_i64() {
                out.push(7);
                out.extend_from_slice(&i.to_le_bytes());
            } else {
                out.push(8);
                out.extend_from_slice(&n.as_f64().unwrap_or(f64::NAN).to_bits().to_le_bytes());
            }
        }
        Value::String(s) => {
            out.push(4);
            out.extend_from_slice(&(s.len() as u64).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        }
        Value::Array(a) => {
            out.push(5);
            out.extend_from_slice(&(a.len() as u64).to_le_bytes());
            a.iter().for_each(|x| hash_json(x, h));
        }
        Value::Object(m) => {
            out.push(6);
            out.extend_from_slice(&(m.len() as u64).to_le_bytes());
            for (k, x) in m {
                let out = &mut *h.0;
                out.extend_from_slice(&(k.len() as u64).to_le_bytes());
                out.extend_from_slice(k.as_bytes());
                hash_json(x, h);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn k(v: &Value) -> u128 {
        key(|h| hash_json(v, h))
    }

    #[test]
    fn a_slot_yields_only_the_value_stored_under_its_own_key() {
        let mut t: Slots<&str, 4> = Slots::new();
        assert_eq!(t.get(1), None);
        t.put(1, "one");
        assert_eq!(t.get(1), Some(&"one"));
        assert_eq!(t.get(5), None, "same slot, other key");
        t.put(5, "five");
        assert_eq!(t.get(5), Some(&"five"));
        assert_eq!(t.get(1), None, "replaced by the later key of its slot");
        t.put(2, "two");
        assert_eq!((t.get(2), t.get(5)), (Some(&"two"), Some(&"five")), "other slots keep theirs");
    }

    #[test]
    fn equal_values_share_a_key_and_different_ones_do_not() {
        assert_eq!(k(&json!({"a": [1, "x", null]})), k(&json!({"a": [1, "x", null]})));
        for (a, b) in [
            (json!({"a": 1}), json!({"a": "1"})),
            (json!(["ab", "c"]), json!(["a", "bc"])),
            (json!({"a": {"b": 1}}), json!({"a": {"c": 1}})),
            (json!(null), json!(false)),
            (json!([[]]), json!([])),
            (json!(1), json!(1.0)),
            (json!(-1), json!(1)),
        ] {
            assert_ne!(k(&a), k(&b), "{a} vs {b}");
        }
    }
}
