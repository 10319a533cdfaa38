//! Property tests of the served API's request decoding: paths, query strings, selectors, bodies and
//! patch media types never panic, and every refusal is a `Status` (a 4xx code, a reason and a
//! message). The case count comes from `PROPTEST_CASES` (default 256 per property here).

use capi_conformance::apiserver::delete::delete_options;
use capi_conformance::apiserver::handlers::decode;
use capi_conformance::apiserver::route::{self, Accept, Params};
use capi_conformance::apiserver::selectors::Filter;
use capi_conformance::apiserver::status::Failure;
use capi_conformance::apiserver::writes::{conform_body, decode_patch};
use capi_sim::Kind;
use proptest::prelude::*;

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256)
}

fn is_status(f: &Failure) -> Result<(), TestCaseError> {
    prop_assert!((400..500).contains(&f.code), "a client error, not {}: {}", f.code, f.message);
    prop_assert!(!f.reason.is_empty() && !f.message.is_empty());
    let st = f.to_status();
    prop_assert_eq!(st["kind"].as_str(), Some("Status"));
    prop_assert_eq!(st["code"].as_u64(), Some(u64::from(f.code)));
    Ok(())
}

fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "api",
            "apis",
            "v1",
            "v1beta2",
            "namespaces",
            "default",
            "configmaps",
            "clusters",
            "cluster.x-k8s.io",
            "status",
            "scale",
            "openapi",
            "v3",
            "..",
            ".",
            "",
            "%2F",
            "machinedeployments",
            "workloads",
        ])
        .prop_map(str::to_string),
        "\\PC{0,12}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    /// Paths of plausible and random segments: a route or a 404 `Status`.
    #[test]
    fn paths_decode_or_answer_404(segs in prop::collection::vec(segment(), 0..9)) {
        let path = format!("/{}", segs.join("/"));
        if let Err(f) = route::parse(&path) {
            is_status(&f)?;
            prop_assert_eq!(f.code, 404);
        }
    }

    /// Query strings, with the selectors in them: parameters or a 400 `Status`.
    #[test]
    fn queries_and_selectors_decode_or_answer_400(
        q in prop_oneof![
            "\\PC{0,80}",
            ("(watch|labelSelector|fieldSelector|timeoutSeconds|dryRun|resourceVersion)", "[-a-zA-Z0-9=!,()<> %&.]{0,30}")
                .prop_map(|(k, v)| format!("{k}={v}")),
        ],
        accept in "\\PC{0,60}",
    ) {
        let _ = Accept::parse(Some(&accept));
        match Params::parse(&q) {
            Ok(p) => {
                if let Err(f) = Filter::new(Kind::ConfigMap, None, p.label_selector.as_deref(), p.field_selector.as_deref()) {
                    is_status(&f)?;
                    prop_assert_eq!(f.code, 400);
                }
                if let Err(f) = delete_options(b"", &p) {
                    is_status(&f)?;
                }
            }
            Err(f) => is_status(&f)?,
        }
    }

    /// Bodies as bytes, JSON-ish text and patches of every media type: a value or a `Status`.
    #[test]
    fn bodies_decode_or_answer_a_status(
        bytes in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..200),
            "\\{(\"(apiVersion|kind|metadata|name|namespace|data|spec)\": ?(\"[^\"]{0,10}\"|\\{\\}|\\[\\]|1|null|true),? ?){0,6}\\}".prop_map(String::into_bytes),
        ],
        ct in prop::sample::select(vec![
            "application/json", "application/yaml", "application/merge-patch+json", "application/json-patch+json",
            "application/apply-patch+yaml", "application/strategic-merge-patch+json", "application/vnd.kubernetes.protobuf", "text/plain", "",
        ]),
    ) {
        match decode(&bytes, ct) {
            Ok(mut v) => {
                if let Err(f) = conform_body(&mut v, Kind::ConfigMap, Some("default"), Some("x")) {
                    is_status(&f)?;
                }
            }
            Err(f) => is_status(&f)?,
        }
        if let Err(f) = decode_patch(Kind::Cluster, ct, &bytes) {
            is_status(&f)?;
        }
        if let Err(f) = delete_options(&bytes, &Params::default()) {
            is_status(&f)?;
        }
    }
}
