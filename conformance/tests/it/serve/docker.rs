//! `--docker`: the served simulator's CAPD containers become real containers (busybox stand-in
//! images under CAPD's image names); a container killed by hand is noticed by the simulated CAPD;
//! decoys without the harness label survive; every container the server created is gone at the end.
//! Skips with a message when Docker is unreachable or `busybox-static` is missing.

use super::{eventually, kube_client, quick_start_yaml, serve};
use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{CreateContainerOptions, ListContainersOptions, RemoveContainerOptions};
use bollard::Docker;
use capi_conformance::apiserver::docker_mirror::{INSTANCE_LABEL, OWNER_LABEL, OWNER_VALUE};
use capi_conformance::apiserver::images;
use capi_sim::Kind;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::Value;
use std::collections::HashMap;
use std::time::Duration;

const CLUSTER_LABEL: &str = "io.x-k8s.kind.cluster";
const ROLE_LABEL: &str = "io.x-k8s.kind.role";

fn api_resource(kind: Kind) -> ApiResource {
    let info = kind.info();
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(info.group, info.version, info.name), info.plural)
}

/// Containers (running or not) whose labels include `label=value`, by name.
async fn containers_with(docker: &Docker, label: &str) -> HashMap<String, HashMap<String, String>> {
    let filters = HashMap::from([("label".to_string(), vec![label.to_string()])]);
    let list =
        docker.list_containers(Some(ListContainersOptions { all: true, filters: Some(filters), ..Default::default() })).await.unwrap();
    list.into_iter().filter_map(|c| Some((c.names?.first()?.trim_start_matches('/').to_string(), c.labels.unwrap_or_default()))).collect()
}

/// The test's own decoys, removed by id when the test ends (also on panic).
struct Decoys {
    ids: Vec<String>,
}

impl Drop for Decoys {
    fn drop(&mut self) {
        let ids = std::mem::take(&mut self.ids);
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                let docker = images::connect().await?;
                for id in ids {
                    let _ = docker.remove_container(&id, Some(RemoveContainerOptions { force: true, ..Default::default() })).await;
                }
                Ok::<_, String>(())
            })
        })
        .join();
    }
}

async fn decoy(docker: &Docker, name: &str, labels: &[(&str, &str)]) -> String {
    let body = ContainerCreateBody {
        image: Some("kindest/node:v1.34.3".into()),
        cmd: Some(vec!["sleep".into(), "1000000000".into()]),
        labels: Some(labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
        ..Default::default()
    };
    let id =
        docker.create_container(Some(CreateContainerOptions { name: Some(name.into()), ..Default::default() }), body).await.unwrap().id;
    docker.start_container(&id, None::<bollard::query_parameters::StartContainerOptions>).await.unwrap();
    id
}

fn condition<'a>(o: &'a DynamicObject, t: &str) -> Option<&'a Value> {
    o.data.pointer("/status/conditions")?.as_array()?.iter().find(|c| c["type"] == t)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_mirror_creates_reacts_and_cleans_up() {
    let docker = match images::connect().await {
        Ok(d) => d,
        Err(e) => {
            eprintln!("SKIPPED docker_mirror_creates_reacts_and_cleans_up: {e}");
            return;
        }
    };
    if let Err(e) = images::find_static_busybox() {
        eprintln!("SKIPPED docker_mirror_creates_reacts_and_cleans_up: {e}");
        return;
    }
    images::ensure_images(&docker, images::CAPD_IMAGES).await.expect("stand-in images");
    let tag = format!("{}", std::process::id());
    let cluster = format!("dm{tag}");
    let other = format!("other{tag}");
    let mut decoys = Decoys { ids: Vec::new() };
    decoys.ids.push(decoy(&docker, &format!("capi-sim-decoy-plain-{tag}"), &[]).await);
    decoys
        .ids
        .push(decoy(&docker, &format!("{other}-control-plane-decoy"), &[(CLUSTER_LABEL, &other), (ROLE_LABEL, "control-plane")]).await);

    let s = serve(|o| {
        o.docker = true;
        o.speed = 60.0;
        o.verbose = true;
    })
    .await;
    let instance = s.server.instance().to_string();
    let client = kube_client(&s).await;
    for doc in serde_yaml::Deserializer::from_str(&quick_start_yaml(&cluster, "v1.15", 1, 0)) {
        let v: Value = serde::Deserialize::deserialize(doc).unwrap();
        let kind = Kind::resolve(v["apiVersion"].as_str().unwrap(), v["kind"].as_str().unwrap()).unwrap();
        let obj: DynamicObject = serde_json::from_value(v).unwrap();
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &api_resource(kind));
        api.create(&PostParams::default(), &obj).await.unwrap();
    }

    // The load balancer and the control-plane node appear for real, with CAPD's names and labels.
    let cluster_label = format!("{CLUSTER_LABEL}={cluster}");
    let real = eventually(Duration::from_secs(60), "real CAPD containers", || async {
        let c = containers_with(&docker, &cluster_label).await;
        (c.len() >= 2).then_some(c)
    })
    .await;
    let sim_names: Vec<String> =
        s.server.with_sim(move |sim| sim.world.docker.containers().map(|c| c.name.clone()).collect()).await.unwrap();
    for (name, labels) in &real {
        assert!(sim_names.contains(name), "{name} is a simulated container: {sim_names:?}");
        assert_eq!(labels.get(OWNER_LABEL).map(String::as_str), Some(OWNER_VALUE));
        assert_eq!(labels.get(INSTANCE_LABEL), Some(&instance));
        assert!(labels.contains_key(ROLE_LABEL), "{labels:?}");
    }
    let node = real.iter().find(|(_, l)| l.get(ROLE_LABEL).map(String::as_str) == Some("control-plane")).map(|(n, _)| n.clone()).unwrap();
    let lb = real.keys().find(|n| n.ends_with("-lb")).expect("the load balancer").clone();
    let inspect = docker.inspect_container(&lb, None::<bollard::query_parameters::InspectContainerOptions>).await.unwrap();
    assert_eq!(inspect.config.and_then(|c| c.image).as_deref(), Some("kindest/haproxy:v20230606-42a2262b"));

    // Once provisioned, kill the node container by hand: the DevMachine reports it.
    let machines: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &api_resource(Kind::DevMachine));
    let dm_name = eventually(Duration::from_secs(60), "a provisioned DevMachine", || async {
        let list = machines.list(&ListParams::default()).await.ok()?;
        list.items
            .into_iter()
            .find(|m| {
                condition(m, "ContainerProvisioned").is_some_and(|c| c["status"] == "True") && m.data.pointer("/spec/providerID").is_some()
            })
            .and_then(|m| m.metadata.name)
    })
    .await;
    docker.kill_container(&node, None::<bollard::query_parameters::KillContainerOptions>).await.unwrap();
    let message = format!("Container {node} is not running anymore");
    eventually(Duration::from_secs(30), "the DevMachine to report the dead container", || async {
        let m = machines.get(&dm_name).await.ok()?;
        condition(&m, "ContainerProvisioned").is_some_and(|c| c["status"] == "False" && c["message"] == message.as_str()).then_some(())
    })
    .await;
    let state = s.server.with_sim({
        let node = node.clone();
        move |sim| sim.world.docker.get(&node).map(|c| c.state.as_str().to_string())
    });
    assert_eq!(state.await.unwrap().as_deref(), Some("exited"));

    // Deleting the Cluster removes its containers, real ones too; the decoys stay.
    let clusters: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &api_resource(Kind::Cluster));
    clusters.delete(&cluster, &DeleteParams::default()).await.unwrap();
    eventually(Duration::from_secs(60), "the cluster's real containers to go", || async {
        containers_with(&docker, &cluster_label).await.is_empty().then_some(())
    })
    .await;
    let report = s.server.shutdown().await.unwrap();
    eprintln!("shutdown removed {} container(s)", report.containers_removed);
    assert!(containers_with(&docker, &format!("{INSTANCE_LABEL}={instance}")).await.is_empty(), "nothing of this instance is left");
    for id in &decoys.ids {
        let c = docker.inspect_container(id, None::<bollard::query_parameters::InspectContainerOptions>).await.expect("decoy survives");
        assert_eq!(c.state.and_then(|s| s.running), Some(true), "decoy {id} still running");
    }
    drop(decoys);
}
