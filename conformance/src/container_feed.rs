//! Every state the scenario's containers pass through, from the Docker engine's event stream, so that
//! a `wait` on containers sees a state that lasts only milliseconds (CAPD removes a node container
//! that died before it was bootstrapped and runs a new one at once), which polling `docker ps` misses.
//!
//! The feed starts from a list (`docker ps -a`) and applies each container event after it
//! (`create`, `start`, `die`, `pause`, `unpause`, `destroy`); events older than the list are skipped,
//! as the list already shows them. The engine's clock decides what is older: the events are asked
//! for from a moment just before the list, by the engine's own timestamps. Only containers the
//! [`ContainerPolicy`](crate::docker::ContainerPolicy) allows are ever seen, as with
//! [`DockerHost::list`].

use crate::docker::{DockerHost, Result};
use bollard::query_parameters::EventsOptions;
use capi_scenarios::predicate::ContainerInfo;
use futures::StreamExt as _;
use std::collections::{BTreeMap, HashMap};
use tokio::sync::mpsc;

/// Event attributes that are not container labels.
const NOT_LABELS: &[&str] = &["name", "image", "exitCode", "execDuration", "signal", "container"];

/// One container event, as far as states go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerEvent {
    /// Engine time, nanoseconds since the epoch.
    pub time_nano: i64,
    /// Container name.
    pub name: String,
    /// Image reference.
    pub image: String,
    /// Labels (from the event's attributes).
    pub labels: BTreeMap<String, String>,
    /// The state it leaves the container in; `None`: removed.
    pub state: Option<String>,
}

impl ContainerEvent {
    /// A container event from the engine's action and attributes; `None` when the action does not
    /// change the container's state (`kill`, `oom`, `exec_start`, ...).
    pub fn from_parts(action: &str, time_nano: i64, attrs: &HashMap<String, String>) -> Option<ContainerEvent> {
        let state = match action {
            "create" => Some("created"),
            "start" | "unpause" | "restart" => Some("running"),
            "die" => Some("exited"),
            "pause" => Some("paused"),
            "destroy" => None,
            _ => return None,
        };
        let name = attrs.get("name")?.trim_start_matches('/').to_string();
        let labels = attrs.iter().filter(|(k, _)| !NOT_LABELS.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect();
        Some(ContainerEvent {
            time_nano,
            name,
            image: attrs.get("image").cloned().unwrap_or_default(),
            labels,
            state: state.map(str::to_string),
        })
    }
}

/// The containers' states, moved forward event by event.
pub struct ContainerFeed {
    host: DockerHost,
    events: mpsc::UnboundedReceiver<ContainerEvent>,
    task: tokio::task::JoinHandle<()>,
    states: BTreeMap<String, ContainerInfo>,
    listed_at_nano: i64,
}

fn now_nano() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as i64).unwrap_or(0)
}

impl ContainerFeed {
    /// Subscribe to the engine's container events and list the containers.
    pub async fn start(host: &DockerHost) -> Result<ContainerFeed> {
        let since = now_nano();
        let (tx, events) = mpsc::unbounded_channel();
        let docker = host.raw().clone();
        let task = tokio::spawn(async move {
            let filters = HashMap::from([("type".to_string(), vec!["container".to_string()])]);
            let opts = EventsOptions {
                // Seconds with a fraction, as the engine takes it: nothing between this and the list is lost.
                since: Some(format!("{}.{:09}", since / 1_000_000_000, since % 1_000_000_000)),
                filters: Some(filters),
                ..Default::default()
            };
            let mut stream = docker.events(Some(opts));
            while let Some(Ok(msg)) = stream.next().await {
                let Some(actor) = msg.actor else { continue };
                let Some(attrs) = actor.attributes else { continue };
                let Some(e) = ContainerEvent::from_parts(msg.action.as_deref().unwrap_or(""), msg.time_nano.unwrap_or(0), &attrs) else {
                    continue;
                };
                if tx.send(e).is_err() {
                    return;
                }
            }
        });
        let mut feed = ContainerFeed { host: host.clone(), events, task, states: BTreeMap::new(), listed_at_nano: 0 };
        feed.relist().await?;
        Ok(feed)
    }

    /// List again: the list is the truth; later events apply on top of it.
    pub async fn relist(&mut self) -> Result<()> {
        let at = now_nano();
        let listed = self.host.list().await?;
        self.states = listed.into_iter().map(|c| (c.name.clone(), c)).collect();
        self.listed_at_nano = at;
        Ok(())
    }

    /// The containers now, in name order.
    pub fn containers(&self) -> Vec<ContainerInfo> {
        self.states.values().cloned().collect()
    }

    /// Wait for the next event that changes an allowed container and apply it; false when the stream
    /// has ended (the engine went away).
    pub async fn next(&mut self) -> bool {
        loop {
            let Some(e) = self.events.recv().await else { return false };
            if self.apply(e) {
                return true;
            }
        }
    }

    /// Apply one event already received, without waiting; `None` when there is none.
    pub fn try_next(&mut self) -> Option<bool> {
        let e = self.events.try_recv().ok()?;
        Some(self.apply(e))
    }

    /// Apply an event; true when it changed an allowed container.
    fn apply(&mut self, e: ContainerEvent) -> bool {
        if e.time_nano != 0 && e.time_nano < self.listed_at_nano {
            return false;
        }
        let labels = match self.states.get(&e.name) {
            Some(known) if e.labels.is_empty() => known.labels.clone(),
            _ => e.labels,
        };
        if self.host.policy().check(&labels).is_err() {
            return false;
        }
        match e.state {
            None => self.states.remove(&e.name).is_some(),
            Some(state) => {
                let image =
                    if e.image.is_empty() { self.states.get(&e.name).map(|c| c.image.clone()).unwrap_or_default() } else { e.image };
                let info = ContainerInfo { name: e.name.clone(), image, state, labels };
                self.states.insert(e.name, info.clone()) != Some(info)
            }
        }
    }
}

impl Drop for ContainerFeed {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn attrs(name: &str) -> HashMap<String, String> {
        HashMap::from([
            ("name".to_string(), name.to_string()),
            ("image".to_string(), "kindest/node:v1.34.3".to_string()),
            ("io.x-k8s.kind.cluster".to_string(), "dev".to_string()),
            ("exitCode".to_string(), "137".to_string()),
        ])
    }

    #[rstest]
    #[case("create", Some(Some("created")))]
    #[case("start", Some(Some("running")))]
    #[case("restart", Some(Some("running")))]
    #[case("unpause", Some(Some("running")))]
    #[case("die", Some(Some("exited")))]
    #[case("pause", Some(Some("paused")))]
    #[case("destroy", Some(None))]
    #[case("kill", None)]
    #[case("oom", None)]
    #[case("exec_start: sh", None)]
    fn actions_map_to_states(#[case] action: &str, #[case] want: Option<Option<&str>>) {
        let e = ContainerEvent::from_parts(action, 5, &attrs("dev-lb"));
        assert_eq!(e.as_ref().map(|e| e.state.as_deref()), want);
        if let Some(e) = e {
            assert_eq!(e.name, "dev-lb");
            assert_eq!(e.image, "kindest/node:v1.34.3");
            assert_eq!(e.labels.keys().collect::<Vec<_>>(), vec!["io.x-k8s.kind.cluster"], "name, image and exitCode are not labels");
        }
    }
}
