//! [`Shared`]: a value shared copy-on-write between an object and its clones (bodies, labels and
//! annotations), so cloning an object to edit it copies nothing until a real write.

use litemap::LiteMap;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// A value shared copy-on-write between an object and its clones: cloning bumps a reference count,
/// and the first write through `&mut` copies the value (`Arc::make_mut`). It reads as the value
/// (through `Deref`).
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Shared<T>(Arc<T>);

impl<T> Shared<T> {
    /// Whether two values are the same allocation (then they are equal without a comparison).
    pub fn shares(&self, other: &Shared<T>) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl<T: Clone> Shared<T> {
    /// The value, unshared (copied only if someone else holds it).
    pub fn into_inner(self) -> T {
        Arc::try_unwrap(self.0).unwrap_or_else(|shared| (*shared).clone())
    }

    /// A copy of the value.
    pub fn to_inner(&self) -> T {
        (*self.0).clone()
    }
}

impl<T> From<T> for Shared<T> {
    fn from(v: T) -> Self {
        Shared(Arc::new(v))
    }
}

impl<T> std::ops::Deref for Shared<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: Clone> std::ops::DerefMut for Shared<T> {
    fn deref_mut(&mut self) -> &mut T {
        Arc::make_mut(&mut self.0)
    }
}

impl<T: fmt::Debug> fmt::Debug for Shared<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl<'a, T> IntoIterator for &'a Shared<T>
where
    &'a T: IntoIterator,
{
    type Item = <&'a T as IntoIterator>::Item;
    type IntoIter = <&'a T as IntoIterator>::IntoIter;
    fn into_iter(self) -> Self::IntoIter {
        self.0.as_ref().into_iter()
    }
}

impl<K: Ord + Clone, V: Clone> From<BTreeMap<K, V>> for Shared<LiteMap<K, V>> {
    fn from(m: BTreeMap<K, V>) -> Self {
        m.into_iter().collect()
    }
}

impl<K: Ord + Clone, V: Clone> FromIterator<(K, V)> for Shared<LiteMap<K, V>> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Shared(Arc::new(iter.into_iter().collect()))
    }
}

impl<K: Ord + Clone, V: Clone> Extend<(K, V)> for Shared<LiteMap<K, V>> {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        let map = Arc::make_mut(&mut self.0);
        for (k, v) in iter {
            map.insert(k, v);
        }
    }
}
