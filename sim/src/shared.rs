//! [`Shared`]: a value shared copy-on-write between an object and its clones (bodies, labels and
//! annotations), and [`SharedList`]: a list shared the same way (owner references, finalizers), so
//! cloning an object to edit it copies nothing until a real write.

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

/// A list shared copy-on-write between an object and its clones, held as one allocation
/// (`Arc<[T]>`: the count and the elements) or none when empty. It reads as a slice; `push`, `retain`,
/// `clear`, `iter_mut` and indexing for writes copy it first if anyone else holds it. Owner
/// references and finalizers are mostly read and rarely written, and most objects have one or two.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SharedList<T>(Option<Arc<[T]>>);

impl<T> Default for SharedList<T> {
    fn default() -> Self {
        SharedList(None)
    }
}

impl<T> std::ops::Deref for SharedList<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        self.0.as_deref().unwrap_or(&[])
    }
}

impl<T: Clone> SharedList<T> {
    /// The elements, unshared first if anyone else holds them.
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        match &mut self.0 {
            Some(a) => Arc::make_mut(a),
            None => &mut [],
        }
    }

    /// Mutable access to each element (unshares the list).
    pub fn iter_mut(&mut self) -> std::slice::IterMut<'_, T> {
        self.as_mut_slice().iter_mut()
    }

    fn edit(&mut self, f: impl FnOnce(&mut Vec<T>)) {
        let mut v = self.to_vec();
        f(&mut v);
        *self = v.into();
    }

    /// Append one element.
    pub fn push(&mut self, x: T) {
        self.edit(|v| v.push(x));
    }

    /// Keep the elements `keep` accepts; a list it keeps whole is not copied.
    pub fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        if self.iter().all(&mut keep) {
            return;
        }
        self.edit(|v| v.retain(|x| keep(x)));
    }

    /// Remove every element.
    pub fn clear(&mut self) {
        self.0 = None;
    }
}

impl<T> std::ops::Index<usize> for SharedList<T> {
    type Output = T;
    fn index(&self, i: usize) -> &T {
        &(**self)[i]
    }
}

impl<T: Clone> std::ops::IndexMut<usize> for SharedList<T> {
    fn index_mut(&mut self, i: usize) -> &mut T {
        &mut self.as_mut_slice()[i]
    }
}

impl<T> From<Vec<T>> for SharedList<T> {
    fn from(v: Vec<T>) -> Self {
        SharedList((!v.is_empty()).then(|| v.into()))
    }
}

impl<T> FromIterator<T> for SharedList<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        iter.into_iter().collect::<Vec<T>>().into()
    }
}

impl<'a, T> IntoIterator for &'a SharedList<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<T: fmt::Debug> fmt::Debug for SharedList<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
