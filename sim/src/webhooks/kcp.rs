//! (not yet written)

use crate::store::api::Webhook;

/// The webhooks of this module.
pub fn webhooks() -> Vec<Box<dyn Webhook>> {
    vec![]
}
