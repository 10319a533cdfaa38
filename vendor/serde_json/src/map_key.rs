//! The key of a JSON object entry as the sorted-vector map stores it (see PATCHED.md at the crate
//! root): interned when it can be, owned otherwise.
//!
//! The keys of the objects a program keeps are few and repeat in every object (`apiVersion`,
//! `status`, `lastTransitionTime`, ...). An interned key is a reference to one leaked `String` per
//! distinct key text and thread, so an entry holds no allocation of its own for its key, cloning a
//! map copies references instead of allocating each key again, and two interned keys with the same
//! text are the same reference. A key is interned when it is short (`MAX_INTERNED_LEN`) and the
//! thread's table has room (`MAX_INTERNED`), which bounds what is leaked; any other key is owned
//! and freed with its entry. Which way a key is held never shows: it reads, compares, hashes and
//! prints as the `String` it stands for. The table is only ever looked up, never iterated, so its
//! hashing (FNV-1a, no random seed) cannot reach what a program does.

use alloc::boxed::Box;
use alloc::string::String;
use core::cmp::Ordering;
use core::fmt::{self, Debug};
use core::hash::{Hash, Hasher};
use core::mem::ManuallyDrop;
use core::ptr::NonNull;

/// Keys longer than this are owned, never interned.
#[cfg(feature = "std")]
const MAX_INTERNED_LEN: usize = 64;

/// How many distinct keys one thread interns at most (each is leaked, so this bounds the leak to a
/// few megabytes per thread, even for maps keyed by data, such as names).
#[cfg(feature = "std")]
const MAX_INTERNED: usize = 1 << 15;

/// A map key: one pointer (8 bytes) and, when interned, no allocation of its own, where a `String`
/// takes 24 bytes and an allocation; a map entry is then 40 bytes. Interned keys are shared by every
/// map of the thread, so reading one (its length, its bytes) mostly hits the cache.
///
/// The pointer is to a `String`, which is at least 2-aligned, so its lowest bit is free and tells
/// the two ways apart: clear for an interned key (a `&'static String`, never freed), set for an
/// owned one (a `Box<String>` this key frees).
pub(crate) struct Key {
    ptr: NonNull<String>,
}

/// The tag bit of an owned key's pointer.
const OWNED: usize = 1;

// One pointer, and `Option<Key>` no bigger (the pointer is never null).
const _: () = assert!(core::mem::size_of::<Key>() == 8 && core::mem::size_of::<Option<Key>>() == 8);

// SAFETY: a `Key` is either a `&'static String` or a `Box<String>`, both `Send` and `Sync`; it
// hands out only shared references to the text, and only the key that owns a box frees it.
unsafe impl Send for Key {}
unsafe impl Sync for Key {}

impl Key {
    /// The key for `s`, interned if it can be.
    #[inline]
    pub fn new(s: String) -> Key {
        #[cfg(feature = "std")]
        {
            if s.len() <= MAX_INTERNED_LEN {
                return match intern(s) {
                    Ok(k) => Key::interned(k),
                    Err(s) => Key::owned(s),
                };
            }
        }
        Key::owned(s)
    }

    #[inline]
    fn interned(s: &'static String) -> Key {
        Key { ptr: NonNull::from(s) }
    }

    #[inline]
    fn owned(s: String) -> Key {
        let ptr = NonNull::from(Box::leak(Box::new(s)));
        Key { ptr: ptr.map_addr(|a| a | OWNED) }
    }

    #[inline]
    fn is_owned(&self) -> bool {
        self.ptr.addr().get() & OWNED != 0
    }

    /// The pointer without its tag.
    #[inline]
    fn untagged(&self) -> *mut String {
        self.ptr.as_ptr().map_addr(|a| a & !OWNED)
    }

    /// The key's text.
    #[inline]
    pub fn as_string(&self) -> &String {
        // SAFETY: the untagged pointer is a live `&'static String` or this key's own box.
        unsafe { &*self.untagged() }
    }

    /// The key's text, owned (an interned key is copied).
    #[inline]
    pub fn into_string(self) -> String {
        let this = ManuallyDrop::new(self);
        if this.is_owned() {
            // SAFETY: an owned key's untagged pointer came from `Box::leak` and is freed only here
            // or in `drop`, which will not run (`ManuallyDrop`).
            *unsafe { Box::from_raw(this.untagged()) }
        } else {
            this.as_string().clone()
        }
    }
}

impl Drop for Key {
    #[inline]
    fn drop(&mut self) {
        if self.is_owned() {
            // SAFETY: as in `into_string`: the box this key owns, freed once.
            drop(unsafe { Box::from_raw(self.untagged()) });
        }
    }
}

#[cfg(feature = "std")]
fn intern(s: String) -> Result<&'static String, String> {
    use core::cell::RefCell;
    use std::collections::HashMap;
    use std::hash::BuildHasherDefault;

    std::thread_local! {
        static INTERNED: RefCell<HashMap<&'static str, &'static String, BuildHasherDefault<Fnv1a>>> =
            RefCell::new(HashMap::default());
    }
    let mut slot = Some(s);
    let interned = INTERNED.try_with(|table| {
        let s = slot.take().unwrap_or_default();
        let mut table = table.borrow_mut();
        if let Some(k) = table.get(s.as_str()) {
            return Ok(*k);
        }
        if table.len() >= MAX_INTERNED {
            return Err(s);
        }
        let k: &'static String = Box::leak(Box::new(s));
        table.insert(k.as_str(), k);
        Ok(k)
    });
    // Without a table (the thread is being torn down), the key is owned.
    interned.unwrap_or_else(|_| Err(slot.take().unwrap_or_default()))
}

/// FNV-1a: a fixed, seedless hash for the intern table.
#[cfg(feature = "std")]
struct Fnv1a(u64);

#[cfg(feature = "std")]
impl Default for Fnv1a {
    #[inline]
    fn default() -> Self {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }
}

#[cfg(feature = "std")]
impl Hasher for Fnv1a {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

impl Clone for Key {
    #[inline]
    fn clone(&self) -> Self {
        if self.is_owned() {
            Key::owned(self.as_string().clone())
        } else {
            Key { ptr: self.ptr }
        }
    }
}

impl PartialEq for Key {
    #[inline]
    fn eq(&self, other: &Key) -> bool {
        // Two interned keys with the same text are one pointer.
        self.ptr == other.ptr || self.as_string() == other.as_string()
    }
}

impl Eq for Key {}

impl PartialOrd for Key {
    #[inline]
    fn partial_cmp(&self, other: &Key) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Key {
    #[inline]
    fn cmp(&self, other: &Key) -> Ordering {
        self.as_string().cmp(other.as_string())
    }
}

impl Hash for Key {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_string().hash(state);
    }
}

impl Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Debug::fmt(self.as_string(), f)
    }
}
