//! The native registry client against real registries: two `docker-registry` processes on
//! loopback, an "upstream" holding multi-platform images these tests push, and a "Nexus" with
//! htpasswd Basic auth; a fault proxy in front of either for declined mounts, 5xx bursts,
//! slow blobs, refused monolithic uploads and the Bearer token flow.

use pipewright_adapters::registry::{
    ClientSettings, CopySettings, Credentials, NativeRegistry, Secret,
};
use pipewright_adapters::test_registry::{
    Counters, FaultProxy, RegistryServer, TestBlob, TestImage, TestPlatform,
};
use pipewright_core::images::{ImageRef, Platform, Registry, RegistryError};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

const USER: &str = "seeder";
const PASS: &str = "n3xus-Pa55word";

struct Registries {
    upstream: RegistryServer,
    nexus: RegistryServer,
}

fn start() -> Option<Registries> {
    Some(Registries {
        upstream: RegistryServer::start(None)?,
        nexus: RegistryServer::start(Some((USER, PASS)))?,
    })
}

fn blob(seed: u64, size: usize) -> TestBlob {
    TestBlob { seed, size }
}

/// Two platforms; its first layer is shared with [`postgres`].
fn python() -> TestImage {
    TestImage {
        repository: "library/python".into(),
        tag: "3.12-slim".into(),
        platforms: vec![
            TestPlatform::new("linux", "amd64", vec![blob(1, 300_000), blob(2, 120_000)]),
            TestPlatform::new("linux", "arm64", vec![blob(3, 280_000), blob(4, 100_000)]),
        ],
        index: true,
    }
}

fn postgres() -> TestImage {
    TestImage {
        repository: "library/postgres".into(),
        tag: "16-alpine".into(),
        platforms: vec![
            TestPlatform::new("linux", "amd64", vec![blob(1, 300_000), blob(5, 90_000)]),
            TestPlatform::new("linux", "arm64", vec![blob(3, 280_000), blob(6, 80_000)]),
        ],
        index: true,
    }
}

/// A single manifest, no index.
fn executor() -> TestImage {
    TestImage {
        repository: "kaniko-project/executor".into(),
        tag: "v1.23.2-debug".into(),
        platforms: vec![TestPlatform::new("linux", "amd64", vec![blob(7, 200_000)])],
        index: false,
    }
}

fn client_settings(hosts: &[&str], password: &str, nexus: &str) -> ClientSettings {
    ClientSettings {
        credentials: vec![(
            nexus.to_string(),
            Credentials {
                username: USER.into(),
                password: Secret::new(password),
            },
        )],
        insecure: hosts.iter().map(|h| h.to_string()).collect(),
        backoff: Duration::from_millis(10),
        ..Default::default()
    }
}

fn native(hosts: &[&str], nexus: &str) -> NativeRegistry {
    NativeRegistry::new(client_settings(hosts, PASS, nexus), CopySettings::default()).unwrap()
}

fn image(text: &str) -> ImageRef {
    ImageRef::parse(text).unwrap()
}

/// What the Nexus holds, read with plain HTTP and Basic auth (not through the client under test).
async fn nexus_has(
    nexus: &RegistryServer,
    repo: &str,
    kind: &str,
    reference: &str,
) -> Option<String> {
    let resp = pipewright_adapters::http::client()
        .expect("an HTTP client")
        .head(format!("{}/v2/{repo}/{kind}/{reference}", nexus.url()))
        .basic_auth(USER, Some(PASS))
        .header(
            "Accept",
            "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json",
        )
        .send()
        .await
        .unwrap();
    resp.status().is_success().then(|| {
        resp.headers()
            .get("docker-content-digest")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    })
}

#[tokio::test]
async fn every_target_gets_the_upstream_index_digest_with_all_platforms_and_blobs() {
    let Some(r) = start() else { return };
    let py = python().push(&r.upstream.url(), None).await;
    let ex = executor().push(&r.upstream.url(), None).await;
    let reg = native(&[&r.upstream.host, &r.nexus.host], &r.nexus.host);

    for (src, dst) in [
        ("library/python:3.12-slim", "apm-repo/demo/python:3.12-slim"),
        (
            "kaniko-project/executor:v1.23.2-debug",
            "apm-repo/demo/kaniko-executor:v1.23.2-debug",
        ),
    ] {
        let report = reg
            .copy(
                &image(&format!("{}/{src}", r.upstream.host)),
                &image(&format!("{}/{dst}", r.nexus.host)),
                &[],
            )
            .await
            .unwrap();
        assert!(!report.already_present);
        assert!(report.blobs_uploaded > 0);
    }

    let tag = nexus_has(&r.nexus, "apm-repo/demo/python", "manifests", "3.12-slim").await;
    assert_eq!(
        tag.as_deref(),
        Some(py.digest.as_str()),
        "the index digest is the upstream's"
    );
    for m in &py.manifests {
        assert!(nexus_has(&r.nexus, "apm-repo/demo/python", "manifests", m)
            .await
            .is_some());
    }
    for b in &py.blobs {
        assert!(
            nexus_has(&r.nexus, "apm-repo/demo/python", "blobs", b)
                .await
                .is_some(),
            "blob {b}"
        );
    }
    let tag = nexus_has(
        &r.nexus,
        "apm-repo/demo/kaniko-executor",
        "manifests",
        "v1.23.2-debug",
    )
    .await;
    assert_eq!(tag.as_deref(), Some(ex.digest.as_str()));
    // The client's own presence check agrees.
    let seen = reg
        .digest(&image(&format!(
            "{}/apm-repo/demo/python:3.12-slim",
            r.nexus.host
        )))
        .await
        .unwrap();
    assert_eq!(seen.map(|d| d.to_string()), Some(py.digest));
    assert_eq!(
        reg.digest(&image(&format!(
            "{}/apm-repo/demo/python:nope",
            r.nexus.host
        )))
        .await
        .unwrap(),
        None
    );
}

#[tokio::test]
async fn a_second_copy_uploads_no_blob() {
    let Some(r) = start() else { return };
    python().push(&r.upstream.url(), None).await;
    let proxy = FaultProxy::start(&r.nexus.url()).await;
    let reg = native(&[&r.upstream.host, &proxy.host], &proxy.host);
    let src = image(&format!("{}/library/python:3.12-slim", r.upstream.host));
    let dst = image(&format!("{}/apm-repo/demo/python:3.12-slim", proxy.host));
    let first = reg.copy(&src, &dst, &[]).await.unwrap();
    assert_eq!(first.blobs_uploaded, 6, "2 platforms x (2 layers + config)");
    assert_eq!(Counters::get(&proxy.counters.blob_puts), 6);

    let puts = Counters::get(&proxy.counters.blob_puts);
    let starts = Counters::get(&proxy.counters.upload_starts);
    let second = reg.copy(&src, &dst, &[]).await.unwrap();
    assert!(second.already_present);
    assert_eq!(second.blobs_uploaded, 0);
    assert_eq!(Counters::get(&proxy.counters.blob_puts), puts);
    assert_eq!(Counters::get(&proxy.counters.upload_starts), starts);
}

#[tokio::test]
async fn a_missing_upstream_image_is_named() {
    let Some(r) = start() else { return };
    let reg = native(&[&r.upstream.host, &r.nexus.host], &r.nexus.host);
    let err = reg
        .copy(
            &image(&format!("{}/library/nope:1.0", r.upstream.host)),
            &image(&format!("{}/apm-repo/demo/nope:1.0", r.nexus.host)),
            &[],
        )
        .await
        .unwrap_err();
    assert!(matches!(err, RegistryError::NotFound { .. }), "{err:?}");
    assert!(err.to_string().contains("library/nope:1.0"), "{err}");
}

#[tokio::test]
async fn a_wrong_password_is_a_clear_authentication_error() {
    let Some(r) = start() else { return };
    executor().push(&r.upstream.url(), None).await;
    let wrong = "not-the-password";
    let reg = NativeRegistry::new(
        client_settings(&[&r.upstream.host, &r.nexus.host], wrong, &r.nexus.host),
        CopySettings::default(),
    )
    .unwrap();
    let err = reg
        .copy(
            &image(&format!(
                "{}/kaniko-project/executor:v1.23.2-debug",
                r.upstream.host
            )),
            &image(&format!(
                "{}/apm-repo/demo/kaniko-executor:v1.23.2-debug",
                r.nexus.host
            )),
            &[],
        )
        .await
        .unwrap_err();
    assert!(matches!(err, RegistryError::Auth { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("refused the credentials for user seeder"),
        "{text}"
    );
    assert!(text.contains("NEXUS_PASSWORD"), "{text}");
    assert!(!text.contains(wrong) && !format!("{err:?}").contains(wrong));

    // Without any credentials the message says so.
    let anonymous = NativeRegistry::new(
        ClientSettings {
            insecure: vec![r.upstream.host.clone(), r.nexus.host.clone()],
            ..Default::default()
        },
        CopySettings::default(),
    )
    .unwrap();
    let err = anonymous
        .digest(&image(&format!("{}/apm-repo/demo/x:1", r.nexus.host)))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("needs a user name and password"),
        "{err}"
    );
}

#[tokio::test]
async fn shared_layers_are_mounted_and_a_declined_mount_is_uploaded() {
    let Some(r) = start() else { return };
    python().push(&r.upstream.url(), None).await;
    let pg = postgres().push(&r.upstream.url(), None).await;
    let proxy = FaultProxy::start(&r.nexus.url()).await;

    // The real registry mounts (201) the layers python's copy left in the Nexus.
    let reg = native(&[&r.upstream.host, &proxy.host], &proxy.host);
    let copy = |src: &str, dst: &str| {
        (
            image(&format!("{}/{src}", r.upstream.host)),
            image(&format!("{}/{dst}", proxy.host)),
        )
    };
    let (s, d) = copy("library/python:3.12-slim", "apm-repo/demo/python:3.12-slim");
    reg.copy(&s, &d, &[]).await.unwrap();
    let (s, d) = copy(
        "library/postgres:16-alpine",
        "apm-repo/demo/postgres:16-alpine",
    );
    let mounted = reg.copy(&s, &d, &[]).await.unwrap();
    assert_eq!(mounted.blobs_mounted, 2, "{mounted:?}");

    // Declined mounts (202 with an upload session) end in uploads, into the session offered.
    proxy.faults.decline_mounts.store(true, Ordering::SeqCst);
    let reg = native(&[&r.upstream.host, &proxy.host], &proxy.host);
    let (s, d) = copy(
        "library/python:3.12-slim",
        "apm-repo/demo/python2:3.12-slim",
    );
    reg.copy(&s, &d, &[]).await.unwrap();
    let attempts = Counters::get(&proxy.counters.mount_attempts);
    let (s, d) = copy(
        "library/postgres:16-alpine",
        "apm-repo/demo/postgres2:16-alpine",
    );
    let declined = reg.copy(&s, &d, &[]).await.unwrap();
    assert_eq!(Counters::get(&proxy.counters.mount_attempts), attempts + 2);
    assert_eq!(declined.blobs_mounted, 0);
    assert_eq!(declined.blobs_uploaded, 6);
    let tag = nexus_has(
        &r.nexus,
        "apm-repo/demo/postgres2",
        "manifests",
        "16-alpine",
    )
    .await;
    assert_eq!(tag.as_deref(), Some(pg.digest.as_str()));
    for b in &pg.blobs {
        assert!(nexus_has(&r.nexus, "apm-repo/demo/postgres2", "blobs", b)
            .await
            .is_some());
    }
}

#[tokio::test]
async fn bursts_of_5xx_on_both_sides_are_retried() {
    let Some(r) = start() else { return };
    let py = python().push(&r.upstream.url(), None).await;
    let up = FaultProxy::start(&r.upstream.url()).await;
    let down = FaultProxy::start(&r.nexus.url()).await;
    *up.faults.fail_path.lock().unwrap() = "/v2/library/python/".into();
    up.faults.fail_requests.store(3, Ordering::SeqCst);
    *down.faults.fail_path.lock().unwrap() = "/blobs/uploads/".into();
    down.faults.fail_requests.store(3, Ordering::SeqCst);
    let reg = native(&[&up.host, &down.host], &down.host);
    reg.copy(
        &image(&format!("{}/library/python:3.12-slim", up.host)),
        &image(&format!("{}/apm-repo/demo/python:3.12-slim", down.host)),
        &[],
    )
    .await
    .unwrap();
    assert_eq!(Counters::get(&up.counters.injected_failures), 3);
    assert_eq!(Counters::get(&down.counters.injected_failures), 3);
    let tag = nexus_has(&r.nexus, "apm-repo/demo/python", "manifests", "3.12-slim").await;
    assert_eq!(tag.as_deref(), Some(py.digest.as_str()));
}

#[tokio::test]
async fn persistent_5xx_ends_in_a_status_error() {
    let Some(r) = start() else { return };
    python().push(&r.upstream.url(), None).await;
    let up = FaultProxy::start(&r.upstream.url()).await;
    *up.faults.fail_path.lock().unwrap() = "/manifests/".into();
    up.faults.fail_requests.store(1000, Ordering::SeqCst);
    let reg = native(&[&up.host, &r.nexus.host], &r.nexus.host);
    let err = reg
        .copy(
            &image(&format!("{}/library/python:3.12-slim", up.host)),
            &image(&format!("{}/apm-repo/demo/python:3.12-slim", r.nexus.host)),
            &[],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, RegistryError::Status { status: 503, .. }),
        "{err:?}"
    );
    assert_eq!(
        Counters::get(&up.counters.injected_failures),
        5,
        "the first try and 4 retries"
    );
}

#[tokio::test]
async fn a_slow_blob_that_keeps_sending_is_survived() {
    let Some(r) = start() else { return };
    let slow = TestImage {
        repository: "library/slow".into(),
        tag: "1".into(),
        platforms: vec![TestPlatform::new(
            "linux",
            "amd64",
            vec![blob(9, 1024 * 1024)],
        )],
        index: false,
    };
    let pushed = slow.push(&r.upstream.url(), None).await;
    let up = FaultProxy::start(&r.upstream.url()).await;
    *up.faults.slow_blobs.lock().unwrap() = Some(Duration::from_millis(40));
    let mut settings = client_settings(&[&up.host, &r.nexus.host], PASS, &r.nexus.host);
    // Each pause is shorter than the read timeout; the whole blob takes far longer.
    settings.read_timeout = Duration::from_millis(400);
    let reg = NativeRegistry::new(settings, CopySettings::default()).unwrap();
    let started = Instant::now();
    reg.copy(
        &image(&format!("{}/library/slow:1", up.host)),
        &image(&format!("{}/apm-repo/demo/slow:1", r.nexus.host)),
        &[],
    )
    .await
    .unwrap();
    assert!(
        started.elapsed() > Duration::from_millis(600),
        "{:?}",
        started.elapsed()
    );
    let tag = nexus_has(&r.nexus, "apm-repo/demo/slow", "manifests", "1").await;
    assert_eq!(tag.as_deref(), Some(pushed.digest.as_str()));
}

#[tokio::test]
async fn a_refused_monolithic_upload_falls_back_to_chunks() {
    let Some(r) = start() else { return };
    let py = python().push(&r.upstream.url(), None).await;
    let down = FaultProxy::start(&r.nexus.url()).await;
    down.faults.refuse_monolithic.store(true, Ordering::SeqCst);
    let copy = CopySettings {
        chunk_size: 64 * 1024,
        ..Default::default()
    };
    let reg = NativeRegistry::new(
        client_settings(&[&r.upstream.host, &down.host], PASS, &down.host),
        copy,
    )
    .unwrap();
    reg.copy(
        &image(&format!("{}/library/python:3.12-slim", r.upstream.host)),
        &image(&format!("{}/apm-repo/demo/python:3.12-slim", down.host)),
        &[],
    )
    .await
    .unwrap();
    // 300 000 bytes in 64 KiB chunks is 5 PATCHes, and so on for every blob.
    assert_eq!(Counters::get(&down.counters.patches), 16);
    let tag = nexus_has(&r.nexus, "apm-repo/demo/python", "manifests", "3.12-slim").await;
    assert_eq!(tag.as_deref(), Some(py.digest.as_str()));
}

#[tokio::test]
async fn the_bearer_token_flow_is_followed_with_the_configured_credentials() {
    let Some(r) = start() else { return };
    let ex = executor().push(&r.upstream.url(), None).await;
    let up = FaultProxy::start(&r.upstream.url()).await;
    *up.faults.bearer.lock().unwrap() = Some((USER.into(), PASS.into()));
    // The credentials are configured for the token-protected registry (here the upstream).
    let reg = NativeRegistry::new(
        ClientSettings {
            credentials: vec![(
                up.host.clone(),
                Credentials {
                    username: USER.into(),
                    password: Secret::new(PASS),
                },
            )],
            insecure: vec![up.host.clone(), r.nexus.host.clone()],
            backoff: Duration::from_millis(10),
            ..Default::default()
        },
        CopySettings::default(),
    )
    .unwrap();
    let digest = reg
        .digest(&image(&format!(
            "{}/kaniko-project/executor:v1.23.2-debug",
            up.host
        )))
        .await
        .unwrap();
    assert_eq!(digest.map(|d| d.to_string()), Some(ex.digest));
    assert!(Counters::get(&up.counters.tokens_issued) >= 1);

    let wrong = NativeRegistry::new(
        ClientSettings {
            credentials: vec![(
                up.host.clone(),
                Credentials {
                    username: USER.into(),
                    password: Secret::new("nope"),
                },
            )],
            insecure: vec![up.host.clone()],
            ..Default::default()
        },
        CopySettings::default(),
    )
    .unwrap();
    let err = wrong
        .digest(&image(&format!(
            "{}/kaniko-project/executor:v1.23.2-debug",
            up.host
        )))
        .await
        .unwrap_err();
    assert!(matches!(err, RegistryError::Auth { .. }), "{err:?}");
    assert!(
        err.to_string().contains("token service answered 401"),
        "{err}"
    );
}

#[tokio::test]
async fn a_chosen_platform_is_copied_alone() {
    let Some(r) = start() else { return };
    let py = python().push(&r.upstream.url(), None).await;
    let reg = native(&[&r.upstream.host, &r.nexus.host], &r.nexus.host);
    let report = reg
        .copy(
            &image(&format!("{}/library/python:3.12-slim", r.upstream.host)),
            &image(&format!("{}/apm-repo/demo/python:3.12-slim", r.nexus.host)),
            &[Platform::parse("linux/arm64").unwrap()],
        )
        .await
        .unwrap();
    assert_eq!(report.blobs_uploaded, 3);
    let tag = nexus_has(&r.nexus, "apm-repo/demo/python", "manifests", "3.12-slim").await;
    assert_eq!(
        tag.as_deref(),
        Some(py.manifests[1].as_str()),
        "the arm64 manifest"
    );
}

#[tokio::test]
async fn https_with_a_custom_ca_only_when_configured() {
    let Some(r) = start() else { return };
    let Some(tls) = RegistryServer::start_with(Some((USER, PASS)), true) else {
        return;
    };
    let ex = executor().push(&r.upstream.url(), None).await;
    let settings = |ca: Option<Vec<u8>>| ClientSettings {
        credentials: vec![(
            tls.host.clone(),
            Credentials {
                username: USER.into(),
                password: Secret::new(PASS),
            },
        )],
        // Only the upstream is plain HTTP; the TLS registry is reached over https.
        insecure: vec![r.upstream.host.clone()],
        ca_pem: ca.into_iter().collect(),
        backoff: Duration::from_millis(10),
        retries: 1,
        ..Default::default()
    };
    let src = image(&format!(
        "{}/kaniko-project/executor:v1.23.2-debug",
        r.upstream.host
    ));
    let dst = image(&format!(
        "{}/apm-repo/demo/kaniko-executor:v1.23.2-debug",
        tls.host
    ));

    let untrusted = NativeRegistry::new(settings(None), CopySettings::default()).unwrap();
    let err = untrusted.copy(&src, &dst, &[]).await.unwrap_err();
    assert!(matches!(err, RegistryError::Unreachable { .. }), "{err:?}");
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );

    let trusted =
        NativeRegistry::new(settings(tls.ca_pem.clone()), CopySettings::default()).unwrap();
    let report = trusted.copy(&src, &dst, &[]).await.unwrap();
    assert_eq!(report.digest.map(|d| d.to_string()), Some(ex.digest));
}
