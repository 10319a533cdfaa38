//! A map kept as one vector of entries sorted by key: the backing store of `Map` in this patched
//! copy of serde_json (see PATCHED.md at the crate root).
//!
//! It has the observable behaviour of the `BTreeMap` it replaces (iteration in key order, the last
//! value wins on a repeated key, the same `Eq`, `Hash` and `Debug`), with a different cost: an entry
//! takes the bytes of its key and value instead of a share of an 11-slot B-tree node (a
//! two-key map took a whole ~630-byte leaf), lookups are a binary search over one contiguous array,
//! and inserting in the middle moves the entries after it. JSON objects have tens of keys at most, so
//! the moves are cheaper than the tree's allocations; appending in key order costs O(1).
//!
//! Keys are stored as [`Key`]s (interned where they can be, see `map_key.rs`), so an entry takes 40
//! bytes and no key allocation; the map is only ever keyed by `String` (the type parameter `K` is
//! that `String`, named for the signatures `map.rs` shares with the published crate), and every key
//! it hands out is that `String`.
//!
//! The vector is an `ecow::EcoVec`: reference-counted and copied on write. Cloning a map (and so a
//! `Value` holding one) shares its entries instead of copying the tree under it; the first write
//! through a shared map copies that one level, whose nested maps stay shared. A program that clones
//! an object to edit one field then copies the maps on that field's path, not the whole object, and
//! two maps that share their entries compare equal without reading them.

use crate::map_key::Key;
use alloc::string::String;
use alloc::vec::Vec;
use ecow::EcoVec;
use core::borrow::Borrow;
use core::cmp::Ordering;
use core::fmt::{self, Debug};
use core::hash::{Hash, Hasher};
use core::iter::FusedIterator;
use core::marker::PhantomData;
use core::{mem, slice};

/// Up to this many entries, lookups scan for an equal key instead of searching ([`SortedVecMap::position`]).
const LINEAR_SCAN_MAX: usize = 16;

/// Entries sorted by key, keys unique. `K` is always `String`.
pub struct SortedVecMap<K, V> {
    entries: EcoVec<(Key, V)>,
    key: PhantomData<fn() -> K>,
}

impl<K, V> Default for SortedVecMap<K, V> {
    #[inline]
    fn default() -> Self {
        SortedVecMap { entries: EcoVec::new(), key: PhantomData }
    }
}

/// `key` against a stored key.
#[inline]
fn cmp_key<Q>(stored: &Key, key: &Q) -> Ordering
where
    String: Borrow<Q>,
    Q: ?Sized + Ord,
{
    stored.as_string().borrow().cmp(key)
}

impl<V: Clone> SortedVecMap<String, V> {
    #[inline]
    pub fn with_capacity(capacity: usize) -> Self {
        SortedVecMap { entries: EcoVec::with_capacity(capacity), key: PhantomData }
    }

    /// `Ok(index)` of the key, or `Err(index)` where it would be inserted.
    #[inline]
    fn find<Q>(&self, key: &Q) -> Result<usize, usize>
    where
        String: Borrow<Q>,
        Q: ?Sized + Ord,
    {
        // Objects are often built, and parsed from sorted output, in key order: try the end first.
        match self.entries.last() {
            None => return Err(0),
            Some((last, _)) => match cmp_key(last, key) {
                Ordering::Less => return Err(self.entries.len()),
                Ordering::Equal => return Ok(self.entries.len() - 1),
                Ordering::Greater => {}
            },
        }
        self.entries.binary_search_by(|(k, _)| cmp_key(k, key))
    }

    /// The index of the key, for lookups that need no insertion point. A small map is scanned for an
    /// equal key: `str` equality compares lengths before bytes, and interned keys are shared by every
    /// map, so most entries cost one integer comparison on a cached key, where each step of a binary
    /// search compares key bytes.
    #[inline]
    fn position<Q>(&self, key: &Q) -> Option<usize>
    where
        String: Borrow<Q>,
        Q: ?Sized + Ord,
    {
        if self.entries.len() <= LINEAR_SCAN_MAX {
            self.entries.iter().position(|(k, _)| k.as_string().borrow() == key)
        } else {
            self.find(key).ok()
        }
    }

    #[inline]
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    #[inline]
    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        String: Borrow<Q>,
        Q: ?Sized + Ord,
    {
        self.position(key).map(|i| &self.entries[i].1)
    }

    #[inline]
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        String: Borrow<Q>,
        Q: ?Sized + Ord,
    {
        self.position(key).is_some()
    }

    #[inline]
    pub fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        String: Borrow<Q>,
        Q: ?Sized + Ord,
    {
        match self.position(key) {
            Some(i) => Some(&mut self.entries.make_mut()[i].1),
            None => None,
        }
    }

    #[inline]
    pub fn get_key_value<Q>(&self, key: &Q) -> Option<(&String, &V)>
    where
        String: Borrow<Q>,
        Q: ?Sized + Ord,
    {
        self.position(key).map(|i| {
            let (k, v) = &self.entries[i];
            (k.as_string(), v)
        })
    }

    /// Inserts, returning the value the key had (the key itself is kept, as `BTreeMap` does).
    #[inline]
    pub fn insert(&mut self, key: String, value: V) -> Option<V> {
        match self.find(key.as_str()) {
            Ok(i) => Some(mem::replace(&mut self.entries.make_mut()[i].1, value)),
            Err(i) => {
                self.entries.insert(i, (Key::new(key), value));
                None
            }
        }
    }

    /// `insert` of a key already made.
    #[inline]
    fn insert_key(&mut self, key: Key, value: V) {
        match self.find(key.as_string().as_str()) {
            Ok(i) => self.entries.make_mut()[i].1 = value,
            Err(i) => self.entries.insert(i, (key, value)),
        }
    }

    #[inline]
    pub fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        String: Borrow<Q>,
        Q: ?Sized + Ord,
    {
        match self.position(key) {
            Some(i) => Some(self.entries.remove(i).1),
            None => None,
        }
    }

    #[inline]
    pub fn remove_entry<Q>(&mut self, key: &Q) -> Option<(String, V)>
    where
        String: Borrow<Q>,
        Q: ?Sized + Ord,
    {
        match self.position(key) {
            Some(i) => {
                let (k, v) = self.entries.remove(i);
                Some((k.into_string(), v))
            }
            None => None,
        }
    }

    /// Moves every entry of `other` into `self` (a key in both takes `other`'s value).
    pub fn append(&mut self, other: &mut Self) {
        if self.entries.is_empty() {
            mem::swap(&mut self.entries, &mut other.entries);
            return;
        }
        for (k, v) in mem::take(&mut other.entries) {
            self.insert_key(k, v);
        }
    }

    #[inline]
    pub fn entry(&mut self, key: String) -> Entry<'_, V> {
        match self.find(key.as_str()) {
            Ok(index) => Entry::Occupied(OccupiedEntry { entries: &mut self.entries, index }),
            Err(index) => Entry::Vacant(VacantEntry { entries: &mut self.entries, index, key }),
        }
    }

    #[inline]
    pub fn retain<F>(&mut self, mut f: F)
    where
        F: FnMut(&String, &mut V) -> bool,
    {
        self.entries.retain(|(k, v)| f(k.as_string(), v));
    }
}

impl<K, V: Clone> SortedVecMap<K, V> {
    #[inline]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    #[inline]
    pub fn capacity(&self) -> usize {
        self.entries.capacity()
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    #[inline]
    pub fn iter(&self) -> Iter<'_, V> {
        Iter { iter: self.entries.iter() }
    }

    #[inline]
    pub fn iter_mut(&mut self) -> IterMut<'_, V> {
        IterMut { iter: self.entries.make_mut().iter_mut() }
    }

    #[inline]
    pub fn keys(&self) -> Keys<'_, V> {
        Keys { iter: self.entries.iter() }
    }

    #[inline]
    pub fn values(&self) -> Values<'_, V> {
        Values { iter: self.entries.iter() }
    }

    #[inline]
    pub fn values_mut(&mut self) -> ValuesMut<'_, V> {
        ValuesMut { iter: self.entries.make_mut().iter_mut() }
    }

    #[inline]
    pub fn into_values(self) -> IntoValues<V> {
        IntoValues { iter: self.entries.into_iter() }
    }
}

impl<K, V: Clone> Clone for SortedVecMap<K, V> {
    #[inline]
    fn clone(&self) -> Self {
        SortedVecMap { entries: self.entries.clone(), key: PhantomData }
    }

    #[inline]
    fn clone_from(&mut self, source: &Self) {
        self.entries.clone_from(&source.entries);
    }
}

impl<K, V: PartialEq> PartialEq for SortedVecMap<K, V> {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        // Maps that share their entries (clones not written since) are equal without a look.
        (self.entries.len() == other.entries.len() && core::ptr::eq(self.entries.as_ptr(), other.entries.as_ptr()))
            || self.entries == other.entries
    }
}

impl<K, V: Eq> Eq for SortedVecMap<K, V> {}

impl<K, V: Hash> Hash for SortedVecMap<K, V> {
    /// As `BTreeMap<String, _>` hashes: the length, then each entry in key order.
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_usize(self.entries.len());
        for (k, v) in &self.entries {
            k.hash(state);
            v.hash(state);
        }
    }
}

impl<K, V: Clone + Debug> Debug for SortedVecMap<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<Q, V: Clone> core::ops::Index<&Q> for SortedVecMap<String, V>
where
    String: Borrow<Q>,
    Q: ?Sized + Ord,
{
    type Output = V;

    #[inline]
    fn index(&self, key: &Q) -> &V {
        self.get(key).expect("no entry found for key")
    }
}

impl<V: Clone> FromIterator<(String, V)> for SortedVecMap<String, V> {
    /// Sorted once; of repeated keys the last value wins, as in `BTreeMap::from_iter`.
    fn from_iter<T: IntoIterator<Item = (String, V)>>(iter: T) -> Self {
        let mut input: Vec<(String, V)> = iter.into_iter().collect();
        if !input.windows(2).all(|w| w[0].0 < w[1].0) {
            // A stable sort keeps repeated keys in input order, so the last of each run is the last given.
            input.sort_by(|a, b| a.0.cmp(&b.0));
        }
        let mut entries: Vec<(Key, V)> = Vec::with_capacity(input.len());
        for (k, v) in input {
            match entries.last_mut() {
                Some(last) if *last.0.as_string() == k => last.1 = v,
                _ => entries.push((Key::new(k), v)),
            }
        }
        SortedVecMap { entries: EcoVec::from(entries), key: PhantomData }
    }
}

impl<V: Clone> Extend<(String, V)> for SortedVecMap<String, V> {
    fn extend<T: IntoIterator<Item = (String, V)>>(&mut self, iter: T) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

impl<V: Clone> IntoIterator for SortedVecMap<String, V> {
    type Item = (String, V);
    type IntoIter = IntoIter<V>;

    #[inline]
    fn into_iter(self) -> Self::IntoIter {
        IntoIter { iter: self.entries.into_iter() }
    }
}

/// A view into one key's place in the map.
pub enum Entry<'a, V> {
    Vacant(VacantEntry<'a, V>),
    Occupied(OccupiedEntry<'a, V>),
}

/// A key that is not in the map, and where it would go.
pub struct VacantEntry<'a, V> {
    entries: &'a mut EcoVec<(Key, V)>,
    index: usize,
    key: String,
}

impl<'a, V: Clone> VacantEntry<'a, V> {
    #[inline]
    pub fn key(&self) -> &String {
        &self.key
    }

    #[inline]
    pub fn insert(self, value: V) -> &'a mut V {
        let VacantEntry { entries, index, key } = self;
        entries.insert(index, (Key::new(key), value));
        &mut entries.make_mut()[index].1
    }
}

/// A key that is in the map.
pub struct OccupiedEntry<'a, V> {
    entries: &'a mut EcoVec<(Key, V)>,
    index: usize,
}

impl<'a, V: Clone> OccupiedEntry<'a, V> {
    #[inline]
    pub fn key(&self) -> &String {
        self.entries[self.index].0.as_string()
    }

    #[inline]
    pub fn get(&self) -> &V {
        &self.entries[self.index].1
    }

    #[inline]
    pub fn get_mut(&mut self) -> &mut V {
        &mut self.entries.make_mut()[self.index].1
    }

    #[inline]
    pub fn into_mut(self) -> &'a mut V {
        let OccupiedEntry { entries, index } = self;
        &mut entries.make_mut()[index].1
    }

    #[inline]
    pub fn insert(&mut self, value: V) -> V {
        mem::replace(self.get_mut(), value)
    }

    #[inline]
    pub fn remove(self) -> V {
        self.remove_entry().1
    }

    #[inline]
    pub fn remove_entry(self) -> (String, V) {
        let (k, v) = self.entries.remove(self.index);
        (k.into_string(), v)
    }
}

macro_rules! entry_iterator {
    ($(#[$attr:meta])* $name:ident<$($lt:lifetime,)? V>, $inner:ty, $item:ty, |$e:ident| $map:expr) => {
        $(#[$attr])*
        pub struct $name<$($lt,)? V> {
            iter: $inner,
        }

        impl<$($lt,)? V: Clone> Iterator for $name<$($lt,)? V> {
            type Item = $item;

            #[inline]
            fn next(&mut self) -> Option<Self::Item> {
                self.iter.next().map(|$e| $map)
            }

            #[inline]
            fn size_hint(&self) -> (usize, Option<usize>) {
                self.iter.size_hint()
            }
        }

        impl<$($lt,)? V: Clone> DoubleEndedIterator for $name<$($lt,)? V> {
            #[inline]
            fn next_back(&mut self) -> Option<Self::Item> {
                self.iter.next_back().map(|$e| $map)
            }
        }

        impl<$($lt,)? V: Clone> ExactSizeIterator for $name<$($lt,)? V> {
            #[inline]
            fn len(&self) -> usize {
                self.iter.len()
            }
        }

        impl<$($lt,)? V: Clone> FusedIterator for $name<$($lt,)? V> {}

        impl<$($lt,)? V: Clone + Debug> Debug for $name<$($lt,)? V> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name)).field("remaining", &self.iter.len()).finish()
            }
        }
    };
}

entry_iterator!(
    /// Entries in key order.
    Iter<'a, V>, slice::Iter<'a, (Key, V)>, (&'a String, &'a V), |e| (e.0.as_string(), &e.1)
);
entry_iterator!(
    /// Entries in key order, values mutable.
    IterMut<'a, V>, slice::IterMut<'a, (Key, V)>, (&'a String, &'a mut V), |e| (e.0.as_string(), &mut e.1)
);
entry_iterator!(
    /// Keys in order.
    Keys<'a, V>, slice::Iter<'a, (Key, V)>, &'a String, |e| e.0.as_string()
);
entry_iterator!(
    /// Values in key order.
    Values<'a, V>, slice::Iter<'a, (Key, V)>, &'a V, |e| &e.1
);
entry_iterator!(
    /// Values in key order, mutable.
    ValuesMut<'a, V>, slice::IterMut<'a, (Key, V)>, &'a mut V, |e| &mut e.1
);
entry_iterator!(
    /// Values in key order, owned.
    IntoValues<V>, ecow::vec::IntoIter<(Key, V)>, V, |e| e.1
);
entry_iterator!(
    /// Entries in key order, owned (an interned key is copied out).
    IntoIter<V>, ecow::vec::IntoIter<(Key, V)>, (String, V), |e| (e.0.into_string(), e.1)
);

impl<'a, V> Clone for Iter<'a, V> {
    #[inline]
    fn clone(&self) -> Self {
        Iter { iter: self.iter.clone() }
    }
}

impl<'a, V> Clone for Keys<'a, V> {
    #[inline]
    fn clone(&self) -> Self {
        Keys { iter: self.iter.clone() }
    }
}

impl<'a, V> Clone for Values<'a, V> {
    #[inline]
    fn clone(&self) -> Self {
        Values { iter: self.iter.clone() }
    }
}
