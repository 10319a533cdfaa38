//! The CABPK (KubeadmConfig, KubeadmConfigTemplate) and KubeadmControlPlane webhooks, restated from
//! `bootstrap/kubeadm/webhooks/admission/*_test.go` and `controlplane/kubeadm/webhooks/admission/*_test.go`.

use super::{check, expect, gates, md, obj, server, with_kind, OPTS};
use capi_sim::features::FeatureGates;
use capi_sim::kinds::Kind;
use capi_sim::object::Object;
use rstest::rstest;
use serde_json::{json, Value};

fn kubeadm_config(spec: Value) -> Object {
    obj(
        json!({"apiVersion": "bootstrap.cluster.x-k8s.io/v1beta2", "kind": "KubeadmConfig", "metadata": {"name": "baz", "namespace": "default"}, "spec": spec}),
    )
}

/// `bootstrap/kubeadm/webhooks/admission/kubeadmconfig_test.go: TestKubeadmConfigValidate` (each
/// entry named; `ignition` = the entry's `enableIgnitionFeature`).
#[rstest]
#[case::valid_content(json!({"files": [{"path": "/a", "content": "foo"}]}), false, None)]
#[case::valid_content_from(json!({"files": [{"path": "/a", "contentFrom": {"secret": {"name": "foo", "key": "bar"}}}]}), false, None)]
#[case::invalid_content_and_content_from(json!({"files": [{"path": "/a", "content": "foo", "contentFrom": {"secret": {"name": "foo", "key": "bar"}}}]}), false, Some("spec.files[0]: Invalid value: "))]
#[case::invalid_content_from_without_name(json!({"files": [{"path": "/a", "contentFrom": {"secret": {"key": "bar"}}}]}), false, Some("spec.files[0].contentFrom.secret.name: Required value: secret file source must specify non-empty secret name"))]
#[case::invalid_content_from_without_key(json!({"files": [{"path": "/a", "contentFrom": {"secret": {"name": "foo"}}}]}), false, Some("spec.files[0].contentFrom.secret.key: Required value: secret file source must specify non-empty secret key"))]
#[case::invalid_duplicate_file_path(json!({"files": [{"content": "foo"}, {"content": "bar"}]}), false, Some("spec.files[1].path: Invalid value: "))]
#[case::valid_passwd(json!({"users": [{"name": "u", "passwd": "foo"}]}), false, None)]
#[case::valid_passwd_from(json!({"users": [{"name": "u", "passwdFrom": {"secret": {"name": "foo", "key": "bar"}}}]}), false, None)]
#[case::invalid_passwd_and_passwd_from(json!({"users": [{"name": "u", "passwd": "foo", "passwdFrom": {"secret": {"name": "foo", "key": "bar"}}}]}), false, Some("only one of passwd or passwdFrom may be specified for a single user"))]
#[case::invalid_passwd_from_without_name(json!({"users": [{"name": "u", "passwdFrom": {"secret": {"key": "bar"}}}]}), false, Some("spec.users[0].passwdFrom.secret.name: Required value"))]
#[case::invalid_passwd_from_without_key(json!({"users": [{"name": "u", "passwdFrom": {"secret": {"name": "foo"}}}]}), false, Some("spec.users[0].passwdFrom.secret.key: Required value"))]
#[case::ignition_set_format_not_ignition(json!({"ignition": {"containerLinuxConfig": {"additionalConfig": "config"}}}), true, Some(r#"spec.format: Invalid value: "": must be set to "ignition" if spec.ignition is set"#))]
#[case::ignition_not_set_format_ignition(json!({"format": "ignition"}), true, None)]
#[case::format_ignition_user_inactive(json!({"format": "ignition", "users": [{"name": "u", "inactive": true}]}), true, Some(r#"spec.users[0].inactive: Forbidden: not supported when spec.format is set to: "ignition""#))]
#[case::format_ignition_non_gpt_partition(json!({"format": "ignition", "diskSetup": {"partitions": [{"device": "/dev/disk/scsi1/lun0", "tableType": "MS-DOS"}]}}), true, Some(r#"spec.diskSetup.partitions[0].tableType: Invalid value: "MS-DOS": only partition type "gpt" is supported when spec.format is set to "ignition""#))]
#[case::gate_disabled_format_ignition(json!({"format": "ignition"}), false, Some("spec.format: Forbidden: can be set only if the KubeadmBootstrapFormatIgnition feature gate is enabled"))]
#[case::gate_disabled_ignition_field_set(json!({"format": "ignition", "ignition": {"containerLinuxConfig": {"additionalConfig": "config"}}}), false, Some("spec.ignition: Forbidden: can be set only if the KubeadmBootstrapFormatIgnition feature gate is enabled"))]
#[case::replace_fs_with_ignition(json!({"format": "ignition", "diskSetup": {"filesystems": [{"device": "/dev/disk/azure/scsi1/lun0", "extraOpts": ["-E", "lazy_itable_init=1,lazy_journal_init=1"], "filesystem": "ext4", "label": "etcd_disk", "replaceFS": "ntfs"}]}}), true, Some(r#"spec.diskSetup.filesystems[0].replaceFS: Forbidden: not supported when spec.format is set to: "ignition""#))]
#[case::filesystem_partition_with_ignition(json!({"format": "ignition", "diskSetup": {"filesystems": [{"device": "/dev/disk/azure/scsi1/lun0", "filesystem": "ext4", "label": "etcd_disk", "partition": "1"}]}}), true, Some("spec.diskSetup.filesystems[0].partition: Forbidden"))]
#[case::file_encoding_gzip_with_ignition(json!({"format": "ignition", "files": [{"path": "/etc/foo", "content": "foo", "encoding": "gzip"}]}), true, Some("spec.files[0].encoding: Forbidden"))]
#[case::file_encoding_gzip_base64_with_ignition(json!({"format": "ignition", "files": [{"path": "/etc/foo", "content": "foo", "encoding": "gzip+base64"}]}), true, Some("spec.files[0].encoding: Forbidden"))]
#[case::boot_commands_with_ignition(json!({"format": "ignition", "bootCommands": ["echo $(date)", "echo 'hello BootCommands!'"]}), true, Some(r#"spec.bootCommands: Forbidden: not supported when spec.format is set to: "ignition""#))]
#[case::boot_commands_with_cloud_config(json!({"format": "cloud-config", "bootCommands": ["echo $(date)", "echo 'hello BootCommands!'"]}), false, None)]
#[case::health_check_seconds_join_not_defined(json!({"initConfiguration": {"timeouts": {"controlPlaneComponentHealthCheckSeconds": 10}}}), false, None)]
#[case::valid_disk_layout(json!({"diskSetup": {"partitions": [{"device": "disk", "layout": true, "diskLayout": [{"percentage": 30}, {"percentage": 70}]}]}}), false, None)]
#[case::invalid_disk_layout_over_100(json!({"diskSetup": {"partitions": [{"device": "disk", "layout": true, "diskLayout": [{"percentage": 60}, {"percentage": 50}]}]}}), false, Some(r#"KubeadmConfig.bootstrap.cluster.x-k8s.io "baz" is invalid: spec.diskSetup.partitions[0].diskLayout: Invalid value: 110: the sum of all partition percentages must not be greater than 100"#))]
#[case::valid_disk_layout_under_100(json!({"diskSetup": {"partitions": [{"device": "disk", "layout": true, "diskLayout": [{"percentage": 30}, {"percentage": 20}]}]}}), false, None)]
fn kubeadm_config_validate(#[case] spec: Value, #[case] ignition: bool, #[case] want: Option<&str>) {
    let g = gates(|g| g.kubeadm_bootstrap_format_ignition = ignition);
    let c = kubeadm_config(spec.clone());
    expect(check(&c, None, &g), want);
    expect(check(&c, Some(&c), &g), want);
    // `kubeadmconfigtemplate_test.go: TestKubeadmConfigTemplateValidation` runs the same rules on
    // `spec.template.spec`.
    let t = obj(json!({"apiVersion": "bootstrap.cluster.x-k8s.io/v1beta2", "kind": "KubeadmConfigTemplate",
        "metadata": {"name": "baz", "namespace": "default"}, "spec": {"template": {"spec": spec}}}));
    expect(check(&t, None, &g), want.map(|w| if w.starts_with("spec.") { w.trim_start_matches("spec.") } else { "is invalid" }));
}

/// `bootstrap/kubeadm/webhooks/admission/kubeadmconfigtemplate_test.go: TestKubeadmConfigTemplateValidation`:
/// invalid template metadata.
#[test]
fn kubeadm_config_template_metadata() {
    let t = obj(json!({"apiVersion": "bootstrap.cluster.x-k8s.io/v1beta2", "kind": "KubeadmConfigTemplate",
        "metadata": {"name": "t", "namespace": "default"},
        "spec": {"template": {"metadata": {"labels": {"foo": "$invalid-key"}, "annotations": {"/invalid-key": "foo"}}, "spec": {}}}}));
    expect(
        check(&t, None, &FeatureGates::default()),
        Some(
            r#"KubeadmConfigTemplate.bootstrap.cluster.x-k8s.io "t" is invalid: [spec.template.metadata.labels: Invalid value: "$invalid-key": a valid label must be an empty string"#,
        ),
    );
}

// ----- KubeadmControlPlane -----

/// Upstream's `valid` KubeadmControlPlane of `TestKubeadmControlPlaneValidateCreate`, with `patch` merged.
fn kcp(patch: Value) -> Object {
    let mut v = json!({"apiVersion": "controlplane.cluster.x-k8s.io/v1beta2", "kind": "KubeadmControlPlane",
        "metadata": {"name": "test", "namespace": "default"},
        "spec": {"machineTemplate": {"spec": {"infrastructureRef": {"apiGroup": "test", "kind": "UnknownInfraMachine", "name": "infra-template"}}},
            "replicas": 1, "version": "v1.19.0",
            "rollout": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}}});
    json_patch::merge(&mut v, &patch);
    obj(v)
}

/// `controlplane/kubeadm/webhooks/admission/kubeadmcontrolplane_test.go: TestKubeadmControlPlaneValidateCreate`
/// (each entry named).
#[rstest]
#[case::valid_config(json!({}), false, None)]
#[case::replicas_nil(json!({"spec": {"replicas": null}}), false, Some(r#"KubeadmControlPlane.cluster.x-k8s.io "test" is invalid: spec.replicas: Required value: is required"#))]
#[case::replicas_zero(json!({"spec": {"replicas": 0}}), false, Some(r#"KubeadmControlPlane.cluster.x-k8s.io "test" is invalid: [spec.replicas: Forbidden: cannot be less than or equal to 0, spec.replicas: Forbidden: cannot be an even number when etcd is stacked]"#))]
#[case::replicas_even(json!({"spec": {"replicas": 2}}), false, Some("spec.replicas: Forbidden: cannot be an even number when etcd is stacked"))]
#[case::even_replicas_external_etcd(json!({"spec": {"replicas": 2, "kubeadmConfigSpec": {"clusterConfiguration": {"etcd": {"external": {"endpoints": ["1.2.3.4"]}}}}}}), false, None)]
#[case::valid_version_with_v(json!({"spec": {"version": "v1.16.6"}}), false, None)]
#[case::version_without_v(json!({"spec": {"version": "1.16.6"}}), false, Some(r#"spec.version: Invalid value: "1.16.6": must start with v"#))]
#[case::version_vv(json!({"spec": {"version": "vv1.16.6"}}), false, Some(r#"spec.version: Invalid value: "vv1.16.6": must be a valid semantic version"#))]
#[case::version_v1(json!({"spec": {"version": "v1"}}), false, Some(r#"spec.version: Invalid value: "v1": must be a valid semantic version"#))]
#[case::invalid_coredns_version(json!({"spec": {"kubeadmConfigSpec": {"clusterConfiguration": {"dns": {"imageTag": "1-7"}}}}}), false, Some(r#"dns.imageTag: Invalid value: "1-7": failed to parse CoreDNS version: Short version cannot contain PreRelease/Build meta data"#))]
#[case::max_surge_not_one(json!({"spec": {"rollout": {"strategy": {"rollingUpdate": {"maxSurge": 3}}}}}), false, Some("spec.rollout.strategy.rollingUpdate.maxSurge: Required value: value must be 1 or 0"))]
#[case::max_surge_string(json!({"spec": {"rollout": {"strategy": {"rollingUpdate": {"maxSurge": "1"}}}}}), false, None)]
#[case::invalid_ignition_configuration(json!({"spec": {"kubeadmConfigSpec": {"ignition": {"containerLinuxConfig": {"additionalConfig": "config"}}}}}), true, Some(r#"spec.kubeadmConfigSpec.format: Invalid value: "": must be set to "ignition" if spec.ignition is set"#))]
#[case::valid_ignition_configuration(json!({"spec": {"kubeadmConfigSpec": {"format": "ignition", "ignition": {}}}}), true, None)]
#[case::invalid_metadata(json!({"spec": {"machineTemplate": {"metadata": {"labels": {"foo": "$invalid-key"}, "annotations": {"/invalid-key": "foo"}}}}}), false, Some(r#"[spec.machineTemplate.metadata.labels: Invalid value: "$invalid-key": a valid label must be an empty string"#))]
#[case::invalid_health_check_seconds(json!({"spec": {"kubeadmConfigSpec": {"initConfiguration": {"timeouts": {"controlPlaneComponentHealthCheckSeconds": 10}}}}}), false, Some(r#"spec.kubeadmConfigSpec.initConfiguration.timeouts.controlPlaneComponentHealthCheckSeconds: Invalid value: "10": controlPlaneComponentHealthCheckSeconds must be set to the same value both in initConfiguration.timeouts (10) and in joinConfiguration.timeouts (unset)"#))]
#[case::valid_health_check_seconds(json!({"spec": {"kubeadmConfigSpec": {"initConfiguration": {"timeouts": {"controlPlaneComponentHealthCheckSeconds": 10}}, "joinConfiguration": {"timeouts": {"controlPlaneComponentHealthCheckSeconds": 10}}}}}), false, None)]
#[case::certificate_validity_over_ca(json!({"spec": {"kubeadmConfigSpec": {"clusterConfiguration": {"certificateValidityPeriodDays": 350, "caCertificateValidityPeriodDays": 300}}}}), false, Some("spec.kubeadmConfigSpec.clusterConfiguration.certificateValidityPeriodDays: Invalid value: 350: must be less than or equal to caCertificateValidityPeriodDays (300)"))]
#[case::certificate_validity_over_default(json!({"spec": {"kubeadmConfigSpec": {"clusterConfiguration": {"certificateValidityPeriodDays": 3651}}}}), false, Some("must be less than or equal to the default value of caCertificateValidityPeriodDays (3650)"))]
#[case::rollout_before_over_validity(json!({"spec": {"rollout": {"before": {"certificatesExpiryDays": 8}}, "kubeadmConfigSpec": {"clusterConfiguration": {"certificateValidityPeriodDays": 7}}}}), false, Some("spec.rollout.before.certificatesExpiryDays: Invalid value: 8: must be less than certificateValidityPeriodDays (7)"))]
fn kcp_validate_create(#[case] patch: Value, #[case] ignition: bool, #[case] want: Option<&str>) {
    expect(check(&kcp(patch), None, &gates(|g| g.kubeadm_bootstrap_format_ignition = ignition)), want);
}

/// `controlplane/kubeadm/webhooks/admission/kubeadmcontrolplane_test.go: TestKubeadmControlPlaneValidateUpdate`
/// (entries named) and `TestValidateVersion`.
#[rstest]
#[case::valid_update(json!({"spec": {"replicas": 5}}), None)]
#[case::mutate_init_node_registration(json!({"spec": {"kubeadmConfigSpec": {"initConfiguration": {"nodeRegistration": {"name": "x"}}}}}), None)]
#[case::mutate_join_node_registration(json!({"spec": {"kubeadmConfigSpec": {"joinConfiguration": {"nodeRegistration": {"name": "x"}}}}}), None)]
#[case::mutate_cluster_configuration_certificates_dir(json!({"spec": {"kubeadmConfigSpec": {"clusterConfiguration": {"certificatesDir": "a new certificates directory"}}}}), Some("spec.kubeadmConfigSpec.clusterConfiguration.certificatesDir: Forbidden: cannot be modified"))]
#[case::format_cloud_config_to_ignition(json!({"spec": {"kubeadmConfigSpec": {"format": "ignition"}}}), Some("spec.kubeadmConfigSpec.format: Forbidden: can be set only if the KubeadmBootstrapFormatIgnition feature gate is enabled"))]
#[case::scale_to_zero(json!({"spec": {"replicas": 0}}), Some("spec.replicas: Forbidden: cannot be less than or equal to 0"))]
#[case::scale_to_even(json!({"spec": {"replicas": 2}}), Some("spec.replicas: Forbidden: cannot be an even number when etcd is stacked"))]
#[case::local_etcd_image_tag(json!({"spec": {"kubeadmConfigSpec": {"clusterConfiguration": {"etcd": {"local": {"imageTag": "v9.1.1"}}}}}}), None)]
#[case::local_etcd_build_tag(json!({"spec": {"kubeadmConfigSpec": {"clusterConfiguration": {"etcd": {"local": {"imageTag": "v9.1.1_validBuild1"}}}}}}), None)]
#[case::invalid_etcd_image_tag(json!({"spec": {"kubeadmConfigSpec": {"clusterConfiguration": {"etcd": {"local": {"imageTag": "v9.1.1+invalidBuild1"}}}}}}), Some("spec.kubeadmConfigSpec.clusterConfiguration.etcd.local.imageTag: Forbidden: tag v9.1.1+invalidBuild1 is invalid"))]
#[case::control_plane_endpoint(json!({"spec": {"kubeadmConfigSpec": {"clusterConfiguration": {"controlPlaneEndpoint": "some control plane endpoint"}}}}), Some("spec.kubeadmConfigSpec.clusterConfiguration.controlPlaneEndpoint: Forbidden: cannot be modified"))]
#[case::api_server(json!({"spec": {"kubeadmConfigSpec": {"clusterConfiguration": {"apiServer": {"certSANs": ["foo"]}}}}}), None)]
#[case::dns_valid_custom_version(json!({"spec": {"kubeadmConfigSpec": {"clusterConfiguration": {"dns": {"imageRepository": "gcr.io/capi-test", "imageTag": "v1.6.6_foobar.1"}}}}}), None)]
#[case::dns_invalid_tag(json!({"spec": {"kubeadmConfigSpec": {"clusterConfiguration": {"dns": {"imageRepository": "gcr.io/capi-test", "imageTag": "v0.20.0+invalidBuild1"}}}}}), Some("spec.kubeadmConfigSpec.clusterConfiguration.dns.imageTag: Forbidden: tag v0.20.0+invalidBuild1 is invalid"))]
#[case::image_repository(json!({"spec": {"kubeadmConfigSpec": {"clusterConfiguration": {"imageRepository": "a new image repository"}}}}), None)]
#[case::external_etcd(json!({"spec": {"kubeadmConfigSpec": {"clusterConfiguration": {"etcd": {"external": {"endpoints": ["1.2.3.4"]}}}}}}), Some("spec.kubeadmConfigSpec.clusterConfiguration.etcd.external: Forbidden: cannot change between external and local etcd"))]
#[case::version_next_minor(json!({"spec": {"version": "v1.17.0"}}), None)]
#[case::version_skips_a_minor(json!({"spec": {"version": "v1.18.0"}}), Some("spec.version: Forbidden: cannot update Kubernetes version from v1.16.6 to v1.18.0"))]
fn kcp_validate_update(#[case] patch: Value, #[case] want: Option<&str>) {
    let before = kcp(json!({"spec": {"version": "v1.16.6", "kubeadmConfigSpec": {"format": "cloud-config",
        "clusterConfiguration": {"dns": {"imageRepository": "registry.k8s.io/coredns", "imageTag": "1.6.5"}}}}}));
    let mut after = before.to_json();
    json_patch::merge(&mut after, &patch);
    expect(check(&obj(after), Some(&before), &FeatureGates::default()), want);
}

/// `controlplane/kubeadm/webhooks/admission/kubeadmcontrolplane_scale_test.go: TestKubeadmControlPlaneValidateScale`
/// (each entry), through the API server's `/scale`: only the scale webhook answers, with its
/// plain messages.
#[rstest]
#[case::scale_to_zero(false, 0, Some("replicas should be greater than zero"))]
#[case::scale_to_negative(false, -1, Some("replicas should be greater than zero"))]
#[case::even_with_managed_etcd(false, 2, Some("replicas cannot be an even number when etcd is stacked"))]
#[case::odd_with_managed_etcd(false, 3, None)]
#[case::even_with_external_etcd(true, 2, None)]
#[case::odd_with_external_etcd(true, 3, None)]
fn kcp_scale(#[case] external: bool, #[case] replicas: i64, #[case] want: Option<&str>) {
    let mut api = server(FeatureGates::default());
    let mut k = kcp(json!({}));
    if external {
        k.set(
            "/spec/kubeadmConfigSpec/clusterConfiguration/etcd/external",
            json!({"endpoints": ["1.2.3.4"], "caFile": "/ca.crt", "certFile": "/etcd.crt", "keyFile": "/etcd.key"}),
        );
    }
    let key = api.create(k, OPTS).expect("admitted").object.key();
    let got = api.scale(&key, replicas, None, OPTS);
    match want {
        None => assert_eq!(got.expect("scaled").object.i64_at("/spec/replicas"), Some(replicas)),
        Some(w) => assert_eq!(
            got.expect_err("denied").message,
            format!("admission webhook \"validation-scale.kubeadmcontrolplane.controlplane.cluster.x-k8s.io\" denied the request: {w}")
        ),
    }
}

/// The `/scale` subresource of MachineDeployments, MachineSets and MachinePools has no webhook
/// (`+kubebuilder:subresource:scale` markers in `api/core/v1beta2/*_types.go`; CAPI registers its
/// object webhooks for the main resource only): a scale writes `spec.replicas` and bumps the generation.
#[rstest]
fn scale_without_scale_webhook(#[values(Kind::MachineDeployment, Kind::MachineSet, Kind::MachinePool)] kind: Kind) {
    let mut api = server(FeatureGates::default());
    let created = api.create(with_kind(md("md", json!({"replicas": 1})), kind), OPTS).expect("admitted").object;
    let scaled = api.scale(&created.key(), 4, Some(created.meta.resource_version), OPTS).expect("scaled").object;
    assert_eq!(scaled.i64_at("/spec/replicas"), Some(4));
    assert_eq!(scaled.meta.generation, created.meta.generation + 1);
    let stale = api.scale(&created.key(), 5, Some(created.meta.resource_version), OPTS).expect_err("stale resourceVersion");
    assert_eq!(stale.code, 409);
}

/// `controlplane/kubeadm/webhooks/admission/kubeadmcontrolplane_test.go: TestKubeadmControlPlaneDefault`:
/// replicas 1, a `v` on the version, `RollingUpdate` with maxSurge 1.
#[test]
fn kcp_default() {
    let mut api = server(FeatureGates::default());
    let k = kcp(json!({"spec": {"replicas": null, "version": "1.18.3", "rollout": null}}));
    let w = api.create(k, OPTS).expect("admitted").object;
    assert_eq!(w.str_at("/spec/version"), Some("v1.18.3"));
    assert_eq!(w.i64_at("/spec/replicas"), Some(1));
    assert_eq!(w.at("/spec/rollout/strategy"), Some(&json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}})));
}

fn kcp_template(spec: Value) -> Object {
    obj(json!({"apiVersion": "controlplane.cluster.x-k8s.io/v1beta2", "kind": "KubeadmControlPlaneTemplate",
        "metadata": {"name": "kubeadmcontrolplanetemplate-test", "namespace": "default"}, "spec": {"template": spec}}))
}

/// `controlplane/kubeadm/webhooks/admission/kubeadmcontrolplanetemplate_test.go`:
/// `TestKubeadmControlPlaneTemplateValidationFeatureGateEnabled`, `...FeatureGateDisabled`,
/// `TestKubeadmControlPlaneTemplateValidationMetadata`, `TestKubeadmControlPlaneTemplateUpdateValidation`.
#[rstest]
#[case::gate_enabled(true, json!({"spec": {"kubeadmConfigSpec": {}}}), None, None)]
#[case::gate_disabled(false, json!({"spec": {"kubeadmConfigSpec": {}}}), None, Some("spec: Forbidden: can be set only if the ClusterTopology feature flag is enabled"))]
#[case::invalid_metadata(true, json!({"metadata": {"labels": {"foo": "$invalid-key"}}, "spec": {}}), None, Some(r#"KubeadmControlPlaneTemplate.cluster.x-k8s.io "kubeadmcontrolplanetemplate-test" is invalid: spec.template.metadata.labels: Invalid value: "$invalid-key""#))]
#[case::invalid_machine_template_metadata(true, json!({"spec": {"machineTemplate": {"metadata": {"annotations": {"/invalid-key": "foo"}}}}}), None, Some(r#"spec.template.spec.machineTemplate.metadata.annotations: Invalid value: "/invalid-key": prefix part must be non-empty"#))]
#[case::update_unchanged(true, json!({"spec": {"kubeadmConfigSpec": {"format": "cloud-config"}}}), Some(json!({"spec": {"kubeadmConfigSpec": {"format": "cloud-config"}}})), None)]
#[case::update_changed(true, json!({"spec": {"kubeadmConfigSpec": {"format": "cloud-config", "preKubeadmCommands": ["x"]}}}), Some(json!({"spec": {"kubeadmConfigSpec": {"format": "cloud-config"}}})), Some("KubeadmControlPlaneTemplate spec.template.spec field is immutable"))]
#[case::update_drops_old_default_strategy(true, json!({"spec": {}}), Some(json!({"spec": {"rollout": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}}})), None)]
fn kcp_template_validation(#[case] gate: bool, #[case] template: Value, #[case] old: Option<Value>, #[case] want: Option<&str>) {
    let new = kcp_template(template);
    let old = old.map(kcp_template);
    expect(check(&new, old.as_ref(), &gates(|g| g.cluster_topology = gate)), want);
}
