//! Keys for memoizing pure functions of JSON inputs (the topology controller's patch engine and
//! template rendering): a 128-bit hash made of two independently seeded SipHash runs, so a collision
//! is out of reach for any run. The hashers use fixed keys: the same inputs give the same key in every
//! process, and nothing is iterated in hash order.

use serde_json::Value;
use std::hash::{Hash, Hasher};

/// The 128-bit key of whatever `feed` hashes.
pub fn key(feed: impl Fn(&mut dyn Hasher)) -> u128 {
    let mut a = std::hash::DefaultHasher::new();
    let mut b = std::hash::DefaultHasher::new();
    0xa5u8.hash(&mut b);
    feed(&mut a);
    feed(&mut b);
    (u128::from(a.finish()) << 64) | u128::from(b.finish())
}

/// Hash a JSON value structurally (type tags, lengths, keys in their stored order).
pub fn hash_json(v: &Value, h: &mut dyn Hasher) {
    match v {
        Value::Null => h.write_u8(0),
        Value::Bool(b) => h.write_u8(if *b { 2 } else { 1 }),
        Value::Number(n) => {
            h.write_u8(3);
            h.write(n.to_string().as_bytes());
        }
        Value::String(s) => {
            h.write_u8(4);
            h.write_usize(s.len());
            h.write(s.as_bytes());
        }
        Value::Array(a) => {
            h.write_u8(5);
            h.write_usize(a.len());
            a.iter().for_each(|x| hash_json(x, h));
        }
        Value::Object(m) => {
            h.write_u8(6);
            h.write_usize(m.len());
            for (k, x) in m {
                h.write_usize(k.len());
                h.write(k.as_bytes());
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
    fn equal_values_share_a_key_and_different_ones_do_not() {
        assert_eq!(k(&json!({"a": [1, "x", null]})), k(&json!({"a": [1, "x", null]})));
        for (a, b) in [
            (json!({"a": 1}), json!({"a": "1"})),
            (json!(["ab", "c"]), json!(["a", "bc"])),
            (json!({"a": {"b": 1}}), json!({"a": {"c": 1}})),
            (json!(null), json!(false)),
            (json!([[]]), json!([])),
        ] {
            assert_ne!(k(&a), k(&b), "{a} vs {b}");
        }
    }
}
