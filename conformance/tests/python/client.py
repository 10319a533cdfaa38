"""Drive the served simulator with Kubernetes' official Python client (a client nobody here wrote).

Usage: client.py KUBECONFIG OBJECTS.json CLUSTER_NAME

OBJECTS.json holds the manifests to create first (a ClusterClass and its templates, then the
Cluster), as a JSON array. Through CustomObjectsApi (and CoreV1Api for the core kinds) the script
creates them, lists Clusters, watches the Cluster until its phase says it is being provisioned,
patches a label onto it (merge patch), reads it back, deletes it, and watches until it is gone.
Each step prints one line starting with "ok:"; any failure raises, and the exit code is not 0.
"""

import json
import sys

from kubernetes import client, config, watch

NAMESPACE = "default"


def split_api_version(api_version):
    group, _, version = api_version.rpartition("/")
    return group, version


def plural(kind):
    return kind.lower() + "es" if kind.endswith("s") else kind.lower() + "s"


def main():
    kubeconfig, objects_path, name = sys.argv[1], sys.argv[2], sys.argv[3]
    config.load_kube_config(config_file=kubeconfig)
    api = client.ApiClient()
    custom = client.CustomObjectsApi(api)
    core = client.CoreV1Api(api)
    with open(objects_path) as f:
        objects = json.load(f)

    for obj in objects:
        group, version = split_api_version(obj["apiVersion"])
        ns = obj["metadata"].get("namespace", NAMESPACE)
        if group == "":
            if obj["kind"] == "Namespace":
                core.create_namespace(obj)
            elif obj["kind"] == "ConfigMap":
                core.create_namespaced_config_map(ns, obj)
            else:
                raise SystemExit("no create for core kind " + obj["kind"])
        else:
            custom.create_namespaced_custom_object(group, version, ns, plural(obj["kind"]), obj)
        print("ok: created %s %s" % (obj["kind"], obj["metadata"]["name"]))

    group, version = "cluster.x-k8s.io", "v1beta2"
    listed = custom.list_namespaced_custom_object(group, version, NAMESPACE, "clusters")
    names = [c["metadata"]["name"] for c in listed["items"]]
    assert name in names, "the created Cluster is listed: %r" % names
    assert listed["metadata"]["resourceVersion"], "the list carries a resourceVersion"
    print("ok: listed clusters %s" % names)

    # Watch from the list's resourceVersion until the Cluster's phase moves on.
    phases = []
    w = watch.Watch()
    for event in w.stream(
        custom.list_namespaced_custom_object,
        group,
        version,
        NAMESPACE,
        "clusters",
        field_selector="metadata.name=" + name,
        resource_version=listed["metadata"]["resourceVersion"],
        timeout_seconds=60,
    ):
        phase = event["object"].get("status", {}).get("phase")
        if phase and (not phases or phases[-1] != phase):
            phases.append(phase)
        if phase in ("Provisioned",):
            w.stop()
    assert "Provisioned" in phases, "the watch saw the Cluster provisioned: %r" % phases
    print("ok: watched phases %s" % " -> ".join(phases))

    patched = custom.patch_namespaced_custom_object(
        group, version, NAMESPACE, "clusters", name, {"metadata": {"labels": {"team": "python"}}}
    )
    assert patched["metadata"]["labels"]["team"] == "python", patched["metadata"]
    got = custom.get_namespaced_custom_object(group, version, NAMESPACE, "clusters", name)
    assert got["metadata"]["labels"]["team"] == "python"
    print("ok: patched label team=python")

    # Missing objects are ApiExceptions with the server's Status.
    try:
        custom.get_namespaced_custom_object(group, version, NAMESPACE, "clusters", "no-such-cluster")
        raise AssertionError("a missing Cluster must be a 404")
    except client.exceptions.ApiException as e:
        assert e.status == 404 and json.loads(e.body)["reason"] == "NotFound", e
    print("ok: a missing cluster is 404 NotFound")

    rv = got["metadata"]["resourceVersion"]
    custom.delete_namespaced_custom_object(group, version, NAMESPACE, "clusters", name)
    deleted = False
    for event in w.stream(
        custom.list_namespaced_custom_object,
        group,
        version,
        NAMESPACE,
        "clusters",
        field_selector="metadata.name=" + name,
        resource_version=rv,
        timeout_seconds=90,
    ):
        if event["type"] == "DELETED":
            deleted = True
            w.stop()
    assert deleted, "the watch saw the Cluster deleted"
    remaining = custom.list_namespaced_custom_object(group, version, NAMESPACE, "clusters")["items"]
    assert all(c["metadata"]["name"] != name for c in remaining)
    print("ok: deleted %s" % name)


if __name__ == "__main__":
    main()
