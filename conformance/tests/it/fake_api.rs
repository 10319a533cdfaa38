//! A fake API server for turmoil, and the transport that talks to it: one collection of objects with
//! a resourceVersion counter and an event history, served over turmoil TCP with one JSON request line
//! per connection and JSON answer lines (a list; a watch stream of events and bookmarks that ends at
//! the server's timeout; writes). The test drives faults through [`FakeApi`]: compaction (410 in the
//! stream), expired watch requests (410 on the request), failing writes, lost answers; and through
//! turmoil: partitions, latency, crash and restart of the server host.

use capi_conformance::kube_backend::watch::{EventStream, Listed, TransportError, WatchEvent, WatchTransport};
use serde_json::{json, Value};
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use turmoil::net::{TcpListener, TcpStream};

/// Port of the fake API server.
pub const PORT: u16 = 6443;

/// The server's state (survives a restart of its host, like etcd).
#[derive(Debug, Default)]
pub struct FakeApi {
    /// Objects by name.
    pub objects: BTreeMap<String, Value>,
    /// Event history: (resourceVersion, type, object).
    pub log: Vec<(u64, &'static str, Value)>,
    /// The current resourceVersion.
    pub rv: u64,
    /// Watches from a resourceVersion below this get 410 (history dropped).
    pub compacted_below: u64,
    /// Answer watch requests themselves with 410 (the request, not the stream).
    pub expire_watch_requests: bool,
    /// Error codes to answer the next writes with (without applying them).
    pub fail_writes: VecDeque<u16>,
    /// Apply the next N writes but drop the connection before answering.
    pub lose_answers: u32,
    /// Server-side watch timeout.
    pub watch_timeout: Duration,
    /// Bookmark interval.
    pub bookmark_every: Duration,
    /// Every request, as `list`, `watch <rv>`, `apply <name>`, `create <name>`.
    pub requests: Vec<String>,
}

/// The shared handle.
pub type Shared = Arc<Mutex<FakeApi>>;

impl FakeApi {
    /// A server with a 5 s watch timeout and a bookmark every second.
    pub fn shared() -> Shared {
        Arc::new(Mutex::new(FakeApi {
            watch_timeout: Duration::from_secs(5),
            bookmark_every: Duration::from_secs(1),
            ..Default::default()
        }))
    }

    /// Create or update an object; returns its new resourceVersion.
    pub fn put(&mut self, name: &str, data: Value) -> u64 {
        self.rv += 1;
        let obj = json!({"metadata": {"namespace": "default", "name": name, "resourceVersion": self.rv.to_string()}, "data": data});
        let kind = if self.objects.insert(name.to_string(), obj.clone()).is_some() { "MODIFIED" } else { "ADDED" };
        self.log.push((self.rv, kind, obj));
        self.rv
    }

    /// Delete an object.
    pub fn delete(&mut self, name: &str) {
        if let Some(mut obj) = self.objects.remove(name) {
            self.rv += 1;
            obj["metadata"]["resourceVersion"] = json!(self.rv.to_string());
            self.log.push((self.rv, "DELETED", obj));
        }
    }

    /// Drop the whole history: every watch from an older resourceVersion gets 410.
    pub fn compact(&mut self) {
        self.compacted_below = self.rv;
        self.log.clear();
    }

    /// How many requests start with `prefix`.
    pub fn count(&self, prefix: &str) -> usize {
        self.requests.iter().filter(|r| r.starts_with(prefix)).count()
    }
}

fn lock(api: &Shared) -> std::sync::MutexGuard<'_, FakeApi> {
    api.lock().unwrap_or_else(|p| p.into_inner())
}

/// The server: accept connections for ever.
pub async fn serve(api: Shared) -> turmoil::Result {
    let listener = TcpListener::bind(("0.0.0.0", PORT)).await?;
    loop {
        let (stream, _) = listener.accept().await?;
        let api = api.clone();
        tokio::spawn(async move {
            let _ = handle(stream, api).await;
        });
    }
}

async fn line(w: &mut (impl AsyncWriteExt + Unpin), v: &Value) -> std::io::Result<()> {
    let mut s = v.to_string();
    s.push('\n');
    w.write_all(s.as_bytes()).await
}

async fn handle(stream: TcpStream, api: Shared) -> std::io::Result<()> {
    let (r, mut w) = stream.into_split();
    let mut reader = BufReader::new(r);
    let mut req = String::new();
    reader.read_line(&mut req).await?;
    let req: Value = serde_json::from_str(&req).unwrap_or(Value::Null);
    match req["op"].as_str() {
        Some("list") => {
            let answer = {
                let mut a = lock(&api);
                a.requests.push("list".into());
                json!({"items": a.objects.values().cloned().collect::<Vec<_>>(), "resourceVersion": a.rv.to_string()})
            };
            line(&mut w, &answer).await
        }
        Some("watch") => {
            let from: u64 = req["rv"].as_str().and_then(|s| s.parse().ok()).unwrap_or(0);
            watch(&mut w, api, from).await
        }
        Some(op @ ("apply" | "create")) => {
            let name = req["name"].as_str().unwrap_or("").to_string();
            let (answer, lose) = {
                let mut a = lock(&api);
                a.requests.push(format!("{op} {name}"));
                if let Some(code) = a.fail_writes.pop_front() {
                    let reason = match code {
                        409 => "Conflict",
                        422 => "Invalid",
                        429 => "TooManyRequests",
                        503 => "ServiceUnavailable",
                        _ => "InternalError",
                    };
                    (json!({"error": {"code": code, "reason": reason, "message": "injected failure"}}), false)
                } else if op == "create" && a.objects.contains_key(&name) {
                    (json!({"error": {"code": 409, "reason": "AlreadyExists", "message": format!("\"{name}\" already exists")}}), false)
                } else if req["data"].is_null() {
                    (json!({"error": {"code": 422, "reason": "Invalid", "message": "data is required"}}), false)
                } else {
                    a.put(&name, req["data"].clone());
                    let lose = a.lose_answers > 0;
                    a.lose_answers = a.lose_answers.saturating_sub(1);
                    (json!({"object": a.objects[&name].clone()}), lose)
                }
            };
            if lose {
                return Ok(());
            }
            line(&mut w, &answer).await
        }
        _ => line(&mut w, &json!({"error": {"code": 400, "reason": "BadRequest", "message": "unknown op"}})).await,
    }
}

async fn watch(w: &mut (impl AsyncWriteExt + Unpin), api: Shared, from: u64) -> std::io::Result<()> {
    let (timeout, every, expire) = {
        let mut a = lock(&api);
        a.requests.push(format!("watch {from}"));
        (a.watch_timeout, a.bookmark_every, a.expire_watch_requests)
    };
    if expire {
        return line(w, &json!({"error": {"code": 410, "reason": "Expired", "message": "too old resource version"}})).await;
    }
    line(w, &json!({"ok": true})).await?;
    let started = tokio::time::Instant::now();
    let mut last_bookmark = started;
    let mut cursor = from;
    loop {
        let (events, expired, current) = {
            let a = lock(&api);
            let events: Vec<(u64, &'static str, Value)> = a.log.iter().filter(|e| e.0 > cursor).cloned().collect();
            (events, cursor < a.compacted_below, a.rv)
        };
        if expired {
            let msg = format!("too old resource version: {cursor}");
            return line(w, &json!({"type": "ERROR", "object": {"code": 410, "reason": "Expired", "message": msg}})).await;
        }
        for (rv, kind, obj) in events {
            line(w, &json!({"type": kind, "object": obj})).await?;
            cursor = rv;
        }
        let now = tokio::time::Instant::now();
        if now - last_bookmark >= every {
            line(w, &json!({"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": current.to_string()}}})).await?;
            cursor = cursor.max(current);
            last_bookmark = now;
        }
        if now - started >= timeout {
            return w.shutdown().await;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The client side: one connection per request, with a connect/answer timeout.
#[derive(Clone)]
pub struct FakeTransport {
    /// Server host name.
    pub host: &'static str,
    /// Connect and first-answer timeout.
    pub timeout: Duration,
}

impl FakeTransport {
    /// A transport to host `api`.
    pub fn new() -> Self {
        FakeTransport { host: "api", timeout: Duration::from_secs(2) }
    }

    async fn request(&self, req: &Value) -> Result<Conn, TransportError> {
        let conn = tokio::time::timeout(self.timeout, TcpStream::connect((self.host, PORT)))
            .await
            .map_err(|_| TransportError::Connection("connect timed out".into()))?
            .map_err(|e| TransportError::Connection(e.to_string()))?;
        let (r, mut w) = conn.into_split();
        line(&mut w, req).await.map_err(|e| TransportError::Connection(e.to_string()))?;
        // The write half stays with the reader: dropping it would close our side of the stream.
        Ok(Conn { reader: BufReader::new(r), _writer: w })
    }

    async fn first_line(&self, conn: &mut Conn) -> Result<Value, TransportError> {
        let mut s = String::new();
        let n = tokio::time::timeout(self.timeout, conn.reader.read_line(&mut s))
            .await
            .map_err(|_| TransportError::Connection("no answer".into()))?
            .map_err(|e| TransportError::Connection(e.to_string()))?;
        if n == 0 {
            return Err(TransportError::Connection("closed without an answer".into()));
        }
        let v: Value = serde_json::from_str(&s).map_err(|e| TransportError::Decode(e.to_string()))?;
        if let Some(e) = v.get("error") {
            return Err(status_error(e));
        }
        Ok(v)
    }

    /// A write (`apply` upserts, `create` refuses an existing name).
    pub async fn write(&self, op: &str, name: &str, data: Value) -> Result<Value, TransportError> {
        let mut r = self.request(&json!({"op": op, "name": name, "data": data})).await?;
        Ok(self.first_line(&mut r).await?["object"].clone())
    }
}

fn status_error(e: &Value) -> TransportError {
    let code = e["code"].as_u64().unwrap_or(500) as u16;
    let message = e["message"].as_str().unwrap_or("").to_string();
    if code == 410 {
        TransportError::Expired(message)
    } else {
        TransportError::Api { code, reason: e["reason"].as_str().unwrap_or("").to_string(), message }
    }
}

/// One connection to the fake server.
pub struct Conn {
    reader: BufReader<turmoil::net::tcp::OwnedReadHalf>,
    _writer: turmoil::net::tcp::OwnedWriteHalf,
}

/// A watch stream from the fake server.
pub struct FakeEvents {
    conn: Conn,
}

impl EventStream for FakeEvents {
    async fn next_event(&mut self) -> Option<Result<WatchEvent, TransportError>> {
        let mut s = String::new();
        match self.conn.reader.read_line(&mut s).await {
            Ok(0) => None,
            Err(e) => Some(Err(TransportError::Connection(e.to_string()))),
            Ok(_) => {
                let v: Value = match serde_json::from_str(&s) {
                    Ok(v) => v,
                    Err(e) => return Some(Err(TransportError::Decode(e.to_string()))),
                };
                let obj = v["object"].clone();
                Some(match v["type"].as_str() {
                    Some("ADDED") => Ok(WatchEvent::Added(obj)),
                    Some("MODIFIED") => Ok(WatchEvent::Modified(obj)),
                    Some("DELETED") => Ok(WatchEvent::Deleted(obj)),
                    Some("BOOKMARK") => Ok(WatchEvent::Bookmark(obj["metadata"]["resourceVersion"].as_str().unwrap_or("").to_string())),
                    _ => Err(status_error(&obj)),
                })
            }
        }
    }
}

impl WatchTransport for FakeTransport {
    type Stream = FakeEvents;

    async fn list(&self) -> Result<Listed, TransportError> {
        let mut r = self.request(&json!({"op": "list"})).await?;
        let v = self.first_line(&mut r).await?;
        let items = v["items"].as_array().cloned().unwrap_or_default();
        Ok(Listed { items, resource_version: v["resourceVersion"].as_str().unwrap_or("").to_string() })
    }

    async fn watch(&self, resource_version: &str) -> Result<FakeEvents, TransportError> {
        let mut conn = self.request(&json!({"op": "watch", "rv": resource_version})).await?;
        self.first_line(&mut conn).await?;
        Ok(FakeEvents { conn })
    }
}
