//! Writes that fail transiently are retried with backoff, under turmoil: injected 503/429 answers, a
//! lost answer (the write happened but the connection dropped), a partition that heals, one that does
//! not (the deadline ends it), and permanent errors, which are never retried.

use crate::fake_api::{serve, FakeApi, FakeTransport, Shared};
use capi_conformance::kube_backend::retry::{with_retries, Idempotence, RetryPolicy};
use capi_conformance::kube_backend::watch::TransportError;
use serde_json::json;
use std::time::Duration;

fn policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 8,
        backoff_base: Duration::from_millis(100),
        backoff_max: Duration::from_secs(1),
        deadline: Duration::from_secs(20),
        attempt_timeout: Duration::from_secs(1),
        retry_conflicts: true,
    }
}

fn run(api: &Shared, test: impl std::future::Future<Output = turmoil::Result> + 'static) {
    let mut sim = turmoil::Builder::new().simulation_duration(Duration::from_secs(120)).build();
    let api = api.clone();
    sim.host("api", move || serve(api.clone()));
    sim.client("client", test);
    sim.run().unwrap();
}

#[test]
fn transient_errors_are_retried_until_the_write_succeeds() {
    let api = FakeApi::shared();
    api.lock().unwrap().fail_writes.extend([503, 429, 409]);
    let api2 = api.clone();
    run(&api, async move {
        let t = FakeTransport::new();
        let t = &t;
        let r = with_retries(&policy(), Idempotence::Idempotent, |_| async move { t.write("apply", "a", json!(1)).await }).await;
        assert_eq!(r.attempts, 4);
        assert_eq!(r.result.unwrap().unwrap()["data"], json!(1));
        assert_eq!(api2.lock().unwrap().count("apply"), 4);
        Ok(())
    });
}

#[test]
fn permanent_errors_are_not_retried() {
    let api = FakeApi::shared();
    api.lock().unwrap().fail_writes.push_back(422);
    run(&api, async move {
        let t = FakeTransport::new();
        let t = &t;
        let r = with_retries(&policy(), Idempotence::Idempotent, |_| async move { t.write("apply", "a", json!(1)).await }).await;
        assert_eq!(r.attempts, 1);
        assert!(matches!(r.result, Err(TransportError::Api { code: 422, .. })), "{:?}", r.result);
        Ok(())
    });
}

#[test]
fn a_create_whose_answer_was_lost_counts_as_created() {
    let api = FakeApi::shared();
    api.lock().unwrap().lose_answers = 1;
    let api2 = api.clone();
    run(&api, async move {
        let t = FakeTransport::new();
        let t = &t;
        let r = with_retries(&policy(), Idempotence::Create, |_| async move { t.write("create", "a", json!(1)).await }).await;
        assert_eq!(r.attempts, 2, "{:?}", r.result);
        assert_eq!(r.result, Ok(None), "AlreadyExists after a lost answer means our create happened");
        let a = api2.lock().unwrap();
        assert_eq!(a.objects.len(), 1);
        assert_eq!(a.rv, 1, "written once");
        Ok(())
    });
}

#[test]
fn an_already_existing_object_is_an_error_when_no_answer_was_lost() {
    let api = FakeApi::shared();
    api.lock().unwrap().put("a", json!(0));
    run(&api, async move {
        let t = FakeTransport::new();
        let t = &t;
        let r = with_retries(&policy(), Idempotence::Create, |_| async move { t.write("create", "a", json!(1)).await }).await;
        assert_eq!(r.attempts, 1);
        assert!(matches!(r.result, Err(TransportError::Api { code: 409, .. })), "{:?}", r.result);
        Ok(())
    });
}

#[test]
fn a_write_across_a_partition_succeeds_once_it_heals() {
    let api = FakeApi::shared();
    let api2 = api.clone();
    run(&api, async move {
        turmoil::partition("client", "api");
        tokio::spawn(async {
            tokio::time::sleep(Duration::from_secs(3)).await;
            turmoil::repair("client", "api");
        });
        let t = FakeTransport { timeout: Duration::from_millis(500), ..FakeTransport::new() };
        let t = &t;
        let r = with_retries(&policy(), Idempotence::Idempotent, |_| async move { t.write("apply", "a", json!(1)).await }).await;
        assert!(r.result.is_ok(), "{:?}", r.result);
        assert!(r.attempts >= 2, "the first attempts hit the partition ({} attempts)", r.attempts);
        assert_eq!(api2.lock().unwrap().objects.len(), 1);
        Ok(())
    });
}

#[test]
fn a_partition_that_never_heals_ends_at_the_deadline() {
    let api = FakeApi::shared();
    run(&api, async move {
        turmoil::partition("client", "api");
        let t = FakeTransport { timeout: Duration::from_millis(500), ..FakeTransport::new() };
        let t = &t;
        let p = RetryPolicy { deadline: Duration::from_secs(5), max_attempts: 100, ..policy() };
        let started = tokio::time::Instant::now();
        let r = with_retries(&p, Idempotence::Idempotent, |_| async move { t.write("apply", "a", json!(1)).await }).await;
        assert!(matches!(r.result, Err(TransportError::Connection(_))), "{:?}", r.result);
        assert!(started.elapsed() <= Duration::from_secs(7), "took {:?}", started.elapsed());
        assert!(r.attempts >= 3, "{} attempts", r.attempts);
        Ok(())
    });
}
