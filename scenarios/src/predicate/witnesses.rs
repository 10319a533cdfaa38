//! What a wait remembers between checks of its predicate, so that a check costs what changed
//! since the last one rather than what the predicate selects.
//!
//! A wait re-checks its predicate after every change. A fleet-wide target (every `Cluster` of a
//! fleet of thousands) would cost O(fleet) per check and O(fleet²) over the wait. Two mechanisms
//! avoid it:
//! - the *witness* of a per-object check (the object that made an `all` fail or an `any` pass): while
//!   it is still selected and still decides the same way, the answer is known from that one object;
//! - when the caller reports every object written between checks ([`Witnesses::changed`]; the
//!   simulator does), a *tracked selection*: the names the target selects and those of them that
//!   decide, kept up to date from the reported changes only.

use super::{selects, Resource, WorldView};
use crate::target::Target;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

/// What decided the last answers of a predicate's checks, by target (its address within one
/// predicate value). Use one `Witnesses` per predicate value, for as long as it lives.
#[derive(Debug, Default)]
pub struct Witnesses {
    /// Per target: the name of the object that decided the last per-object check.
    last: RefCell<BTreeMap<usize, String>>,
    /// Per target: its tracked selection (only when changes are reported).
    tracked: RefCell<BTreeMap<usize, Tracked>>,
    /// Whether the caller reports every write through [`Witnesses::changed`].
    follows_changes: bool,
}

/// A target's selection, kept up to date from reported changes.
#[derive(Debug)]
pub(super) struct Tracked {
    /// The change key of the target (see [`WorldView::change_key`]).
    key: ChangeKey,
    /// The target's namespace (objects of cluster-scoped kinds are reported with "").
    namespace: String,
    /// Names of the selected objects.
    pub(super) selected: BTreeSet<String>,
    /// Of those, the names of the objects that decide a per-object check.
    pub(super) deciders: BTreeSet<String>,
    /// Names written since the last check of this target.
    dirty: BTreeSet<String>,
}

/// Under which names a world reports the writes of a target's objects: the management cluster's
/// name and the kind's canonical name, as they are passed to [`Witnesses::changed`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeKey {
    /// Management cluster name.
    pub management: String,
    /// Canonical kind name.
    pub kind: String,
}

/// Which objects decide a per-object check.
pub(super) type Decides<'a> = &'a dyn Fn(&dyn Resource) -> bool;

impl Witnesses {
    /// Witnesses for a caller that reports, before each check, every object written since the last
    /// one ([`Witnesses::changed`]): per-object checks, counts and existence then cost what changed.
    pub fn following_changes() -> Self {
        Witnesses { follows_changes: true, ..Witnesses::default() }
    }

    /// An object was written (created, updated or deleted) since the last check: `management` and
    /// `kind` as the world's [`WorldView::change_key`] names them, `namespace` "" for cluster-scoped
    /// kinds. Only meaningful for witnesses made by [`Witnesses::following_changes`].
    pub fn changed(&self, management: &str, kind: &str, namespace: &str, name: &str) {
        for t in self.tracked.borrow_mut().values_mut() {
            if t.key.management == management
                && t.key.kind == kind
                && (namespace.is_empty() || namespace == t.namespace)
                && !t.dirty.contains(name)
            {
                t.dirty.insert(name.to_string());
            }
        }
    }

    /// The name of the object that decided target `slot`'s last per-object check.
    pub(super) fn last(&self, slot: usize) -> Option<String> {
        self.last.borrow().get(&slot).cloned()
    }

    /// Remember (or forget) what decided target `slot`'s per-object check.
    pub(super) fn set_last(&self, slot: usize, name: Option<&str>) {
        match name {
            Some(n) => self.last.borrow_mut().insert(slot, n.to_string()),
            None => self.last.borrow_mut().remove(&slot),
        };
    }

    /// Target `t`'s tracked selection brought up to date (`decides` picks the deciders; `None` for
    /// checks that only count), given to `answer`; `None` when changes are not followed or the
    /// world cannot name the target's changes, and the caller must select afresh.
    pub(super) fn with_tracked<R>(
        &self,
        world: &dyn WorldView,
        t: &Target,
        decides: Option<Decides<'_>>,
        answer: impl FnOnce(&Tracked) -> R,
    ) -> Result<Option<R>, String> {
        if !self.follows_changes {
            return Ok(None);
        }
        let slot = t as *const Target as usize;
        let mut tracked = self.tracked.borrow_mut();
        let view = world.management(t.management.as_deref())?;
        match tracked.get_mut(&slot) {
            Some(tr) => {
                for name in std::mem::take(&mut tr.dirty) {
                    tr.selected.remove(&name);
                    tr.deciders.remove(&name);
                    if let Some(r) = view.get(&t.kind, t.namespace(), &name)? {
                        if selects(t, r) {
                            if decides.is_some_and(|d| d(r)) {
                                tr.deciders.insert(name.clone());
                            }
                            tr.selected.insert(name);
                        }
                    }
                }
                Ok(Some(answer(tr)))
            }
            None => {
                let Some(key) = world.change_key(t.management.as_deref(), &t.kind) else { return Ok(None) };
                let objects = super::select(world, t)?;
                let selected = objects.iter().map(|r| r.name().to_string()).collect();
                let deciders = match decides {
                    Some(d) => objects.iter().filter(|r| d(**r)).map(|r| r.name().to_string()).collect(),
                    None => BTreeSet::new(),
                };
                let tr = Tracked { key, namespace: t.namespace().to_string(), selected, deciders, dirty: BTreeSet::new() };
                let out = answer(&tr);
                tracked.insert(slot, tr);
                Ok(Some(out))
            }
        }
    }
}
