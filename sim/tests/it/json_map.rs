//! The patched serde_json (vendor/serde_json/PATCHED.md) keeps every JSON object as a sorted vector
//! instead of a `BTreeMap`. Everything the simulator writes, compares and hashes depends on that map
//! behaving exactly as the B-tree did; these tests drive both with the same operations and compare.

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};

fn key(rng: &mut ChaCha8Rng) -> String {
    // Few distinct keys, so that operations hit present and absent keys alike; shared prefixes and
    // a key that is a prefix of another, as in `spec`/`specs`; keys too long to be interned (over 64
    // bytes), one of them a prefix of the other, so that owned and interned keys meet.
    const LONG: &str = "a-key-longer-than-sixty-four-bytes-which-the-map-keeps-owned-not-interned";
    const LONGER: &str = "a-key-longer-than-sixty-four-bytes-which-the-map-keeps-owned-not-interned-2";
    const KEYS: [&str; 14] =
        ["a", "ab", "abc", "b", "spec", "specs", "status", "", "z", "zz", "lastTransitionTime", "lastUpdateTime", LONG, LONGER];
    KEYS[(rng.next_u32() as usize) % KEYS.len()].to_string()
}

fn hash_of<T: Hash>(t: &T) -> u64 {
    let mut h = DefaultHasher::new();
    t.hash(&mut h);
    h.finish()
}

fn assert_same(map: &Map<String, Value>, model: &BTreeMap<String, Value>, step: usize) {
    assert_eq!(map.len(), model.len(), "step {step}: len");
    let got: Vec<_> = map.iter().collect();
    let want: Vec<_> = model.iter().collect();
    assert_eq!(got, want, "step {step}: iteration order");
    assert!(map.keys().rev().eq(model.keys().rev()), "step {step}: reverse keys");
    assert_eq!(serde_json::to_string(map).unwrap(), serde_json::to_string(model).unwrap(), "step {step}: serialization");
    assert_eq!(format!("{map:?}"), format!("{model:?}"), "step {step}: debug");
    let owned: Vec<(String, Value)> = map.clone().into_iter().collect();
    assert_eq!(owned, model.clone().into_iter().collect::<Vec<_>>(), "step {step}: owned iteration");
    assert_eq!(hash_of(map), hash_of(model), "step {step}: hash");
}

#[test]
fn a_json_object_behaves_as_the_btree_map_it_replaces_under_random_operations() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut map = Map::new();
    let mut model: BTreeMap<String, Value> = BTreeMap::new();
    for step in 0..20_000 {
        let k = key(&mut rng);
        let v = json!(rng.next_u32() % 100);
        match rng.next_u32() % 9 {
            0 | 1 => assert_eq!(map.insert(k.clone(), v.clone()), model.insert(k, v), "step {step}: insert"),
            2 => assert_eq!(map.remove(&k), model.remove(&k), "step {step}: remove"),
            3 => assert_eq!(map.get(k.as_str()), model.get(&k), "step {step}: get"),
            4 => {
                let got = map.entry(k.clone()).or_insert(v.clone()).clone();
                let want = model.entry(k).or_insert(v).clone();
                assert_eq!(got, want, "step {step}: entry");
            }
            5 => {
                if let serde_json::map::Entry::Occupied(e) = map.entry(k.clone()) {
                    assert_eq!(Some(e.remove()), model.remove(&k), "step {step}: occupied remove");
                } else {
                    assert!(!model.contains_key(&k), "step {step}: vacant");
                }
            }
            6 => {
                let limit = rng.next_u32() % 100;
                map.retain(|_, v| v.as_u64().is_some_and(|n| n as u32 >= limit));
                model.retain(|_, v| v.as_u64().is_some_and(|n| n as u32 >= limit));
            }
            7 => {
                if let (Some(a), Some(b)) = (map.get_mut(k.as_str()), model.get_mut(&k)) {
                    *a = v.clone();
                    *b = v;
                }
            }
            _ => {
                let mut other = Map::new();
                let mut other_model = BTreeMap::new();
                for _ in 0..(rng.next_u32() % 4) {
                    let (k, v) = (key(&mut rng), json!(rng.next_u32() % 100));
                    other.insert(k.clone(), v.clone());
                    other_model.insert(k, v);
                }
                map.append(&mut other);
                model.append(&mut other_model);
                assert!(other.is_empty(), "step {step}: append empties the other map");
            }
        }
        assert_same(&map, &model, step);
    }
}

#[test]
fn collecting_and_parsing_keep_the_last_value_of_a_repeated_key() {
    let pairs = vec![("b".to_string(), json!(1)), ("a".to_string(), json!(2)), ("b".to_string(), json!(3)), ("a".to_string(), json!(4))];
    let map: Map<String, Value> = pairs.iter().cloned().collect();
    let model: BTreeMap<String, Value> = pairs.into_iter().collect();
    assert_same(&map, &model, 0);
    assert_eq!(map["a"], json!(4));

    let parsed: Value = serde_json::from_str(r#"{"z": 1, "a": {"y": true, "b": null}, "z": 2}"#).unwrap();
    assert_eq!(parsed.to_string(), r#"{"a":{"b":null,"y":true},"z":2}"#);
}

#[test]
fn large_objects_inserted_out_of_order_read_back_sorted() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let mut map = Map::new();
    let mut model = BTreeMap::new();
    for _ in 0..5_000 {
        let k = format!("key-{}", rng.next_u32() % 3_000);
        map.insert(k.clone(), Value::Null);
        model.insert(k, Value::Null);
    }
    assert_same(&map, &model, 0);
    let mut extended = map.clone();
    extended.extend(model.keys().map(|k| (format!("{k}-x"), json!(1))));
    assert_eq!(extended.len(), 2 * model.len());
    assert!(extended.keys().zip(extended.keys().skip(1)).all(|(a, b)| a < b), "keys stay sorted and unique");
}

#[test]
fn keys_past_the_intern_table_bound_behave_the_same() {
    // One thread interns at most 32,768 distinct keys; past that, keys are owned. The maps must not
    // tell the difference: run in a fresh thread, so that this test's table starts empty.
    std::thread::spawn(|| {
        let mut map = Map::new();
        let mut model = BTreeMap::new();
        for i in 0..40_000u32 {
            let k = format!("k{}", i.wrapping_mul(2_654_435_761) % 100_000);
            map.insert(k.clone(), json!(i));
            model.insert(k, json!(i));
        }
        assert_same(&map, &model, 0);
        let clone = map.clone();
        assert_eq!(clone, map);
        for k in model.keys().step_by(7) {
            assert_eq!(map.remove(k.as_str()), model.get(k).cloned());
        }
        assert_eq!(map.len(), model.len() - model.keys().step_by(7).count());
        assert_eq!(serde_json::to_string(&clone).unwrap(), serde_json::to_string(&model).unwrap());
    })
    .join()
    .expect("the test thread");
}

#[test]
fn a_clone_is_independent_of_its_source_at_every_depth() {
    // Maps share their entries until written (copy on write): every way of writing through a clone
    // must leave the source as it was, however deep the write.
    let source = json!({"spec": {"a": 1, "nested": {"b": [1, {"c": "d"}]}}, "status": {"x": true}});
    let before = serde_json::to_string(&source).unwrap();
    let mut copy = source.clone();
    assert_eq!(copy, source);
    copy["spec"]["nested"]["b"][1]["c"] = json!("changed");
    copy["status"].as_object_mut().unwrap().insert("y".into(), json!(2));
    copy["spec"].as_object_mut().unwrap().remove("a");
    assert_eq!(copy, json!({"spec": {"nested": {"b": [1, {"c": "changed"}]}}, "status": {"x": true, "y": 2}}));
    assert_ne!(copy, source);

    let mut m: Map<String, Value> = source.as_object().unwrap().clone();
    for (_, v) in m.iter_mut() {
        *v = Value::Null;
    }
    m.values_mut().for_each(|v| *v = json!(0));
    *m.entry("spec").or_insert(Value::Null) = json!("e");
    m.retain(|k, _| k != "status");
    if let Some(v) = m.get_mut("spec") {
        *v = json!("g");
    }
    assert_eq!(Value::Object(m), json!({"spec": "g"}));

    let mut emptied = source.as_object().unwrap().clone();
    let mut appended = Map::new();
    appended.insert("z".into(), json!(1));
    appended.append(&mut emptied);
    assert_eq!(appended.len(), 3);
    let owned: Vec<(String, Value)> = source.as_object().unwrap().clone().into_iter().collect();
    assert_eq!(owned.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), ["spec", "status"]);
    assert_eq!(serde_json::to_string(&source).unwrap(), before);
}
