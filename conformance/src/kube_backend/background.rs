//! Background steps on a real cluster (`clusterctl move` with `async: true`): the `clusterctl`
//! process runs in a task beside the scenario's later steps, and its result is kept under the step's
//! name for `finished` predicates. Dropping the run (its end, a failure, Ctrl-C) aborts the tasks,
//! and their processes are killed with them.

use capi_scenarios::backend::BackendError;
use capi_scenarios::predicate::AsyncStatus;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

/// The background steps of one run.
#[derive(Default)]
pub(super) struct Background {
    jobs: BTreeMap<String, Job>,
}

struct Job {
    result: Arc<Mutex<Option<Result<String, String>>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Background {
    /// Run `work` in the background under `name`.
    pub(super) fn start<F>(&mut self, name: &str, work: F) -> Result<(), BackendError>
    where
        F: Future<Output = Result<String, BackendError>> + Send + 'static,
    {
        if self.jobs.contains_key(name) {
            return Err(BackendError::Other(format!("a background step named `{name}` is already running or has run")));
        }
        let result = Arc::new(Mutex::new(None));
        let slot = result.clone();
        let task = tokio::spawn(async move {
            let r = work.await.map_err(|e| e.to_string());
            *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(r);
        });
        self.jobs.insert(name.to_string(), Job { result, task });
        Ok(())
    }

    /// Where every background step is.
    pub(super) fn statuses(&self) -> BTreeMap<String, AsyncStatus> {
        self.jobs
            .iter()
            .map(|(n, j)| {
                let r = j.result.lock().unwrap_or_else(|p| p.into_inner()).clone();
                (n.clone(), r.map_or(AsyncStatus::Running, AsyncStatus::Done))
            })
            .collect()
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        for j in self.jobs.values() {
            j.task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_background_step_reports_running_then_its_result() {
        let mut b = Background::default();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        b.start("mv", async move {
            let _ = rx.await;
            Err(BackendError::Other("boom".into()))
        })
        .unwrap();
        assert_eq!(b.statuses()["mv"], AsyncStatus::Running);
        assert!(b.start("mv", async { Ok(String::new()) }).is_err(), "names are unique");
        tx.send(()).unwrap();
        for _ in 0..100 {
            if b.statuses()["mv"] != AsyncStatus::Running {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert_eq!(b.statuses()["mv"], AsyncStatus::Done(Err("boom".into())));
    }
}
