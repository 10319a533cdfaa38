//! The [`WatchTransport`] of a real API server: list and watch one collection through `kube`
//! (`Api<DynamicObject>`), with kube's errors mapped onto [`TransportError`].

use super::watch::{EventStream, Listed, TransportError, WatchEvent, WatchTransport};
use futures::stream::BoxStream;
use futures::StreamExt as _;
use kube::api::{Api, DynamicObject, ListParams, WatchParams};
use serde_json::Value;

/// Server-side timeout of one watch request (kube-runtime's default).
pub const WATCH_TIMEOUT_S: u32 = 290;

/// Map a kube error onto the transport's categories.
pub fn transport_error(e: kube::Error) -> TransportError {
    match e {
        kube::Error::Api(s) if s.code == 410 || s.reason == "Expired" || s.reason == "Gone" => TransportError::Expired(s.message),
        kube::Error::Api(s) => TransportError::Api { code: s.code, reason: s.reason, message: s.message },
        kube::Error::SerdeError(e) => TransportError::Decode(e.to_string()),
        kube::Error::FromUtf8(e) => TransportError::Decode(e.to_string()),
        other => TransportError::Connection(other.to_string()),
    }
}

/// One collection: a kind (as an `Api`), optionally narrowed by a field selector.
#[derive(Clone)]
pub struct KubeCollection {
    api: Api<DynamicObject>,
    field_selector: Option<String>,
}

impl KubeCollection {
    /// A collection.
    pub fn new(api: Api<DynamicObject>, field_selector: Option<String>) -> Self {
        KubeCollection { api, field_selector }
    }
}

fn to_value(o: DynamicObject) -> Result<Value, TransportError> {
    serde_json::to_value(o).map_err(|e| TransportError::Decode(e.to_string()))
}

/// The event stream of one kube watch.
pub struct KubeEvents {
    inner: BoxStream<'static, kube::Result<kube::core::WatchEvent<DynamicObject>>>,
}

impl EventStream for KubeEvents {
    async fn next_event(&mut self) -> Option<Result<WatchEvent, TransportError>> {
        let ev = self.inner.next().await?;
        Some(match ev {
            Ok(kube::core::WatchEvent::Added(o)) => to_value(o).map(WatchEvent::Added),
            Ok(kube::core::WatchEvent::Modified(o)) => to_value(o).map(WatchEvent::Modified),
            Ok(kube::core::WatchEvent::Deleted(o)) => to_value(o).map(WatchEvent::Deleted),
            Ok(kube::core::WatchEvent::Bookmark(b)) => Ok(WatchEvent::Bookmark(b.metadata.resource_version)),
            Ok(kube::core::WatchEvent::Error(s)) => Err(transport_error(kube::Error::Api(s))),
            Err(e) => Err(transport_error(e)),
        })
    }
}

impl WatchTransport for KubeCollection {
    type Stream = KubeEvents;

    async fn list(&self) -> Result<Listed, TransportError> {
        let mut lp = ListParams::default();
        if let Some(f) = &self.field_selector {
            lp = lp.fields(f);
        }
        let list = self.api.list(&lp).await.map_err(transport_error)?;
        let resource_version = list.metadata.resource_version.clone().unwrap_or_default();
        let items = list.items.into_iter().map(to_value).collect::<Result<Vec<_>, _>>()?;
        Ok(Listed { items, resource_version })
    }

    async fn watch(&self, resource_version: &str) -> Result<KubeEvents, TransportError> {
        let mut wp = WatchParams::default().timeout(WATCH_TIMEOUT_S);
        if let Some(f) = &self.field_selector {
            wp = wp.fields(f);
        }
        let stream = self.api.watch(&wp, resource_version).await.map_err(transport_error)?;
        Ok(KubeEvents { inner: stream.boxed() })
    }
}
