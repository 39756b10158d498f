//! Pull, push and registry inspection through bollard: `create_image` with and without
//! credentials, `push_image`, `inspect_registry_image`, and the status codes bollard's
//! errors carry.
mod common;

use bollard::auth::DockerCredentials;
use bollard::errors::Error as BollardError;
use bollard::models::{CreateImageInfo, PushImageInfo};
use bollard::query_parameters::{CreateImageOptions, PushImageOptions, TagImageOptions};
use futures::TryStreamExt;

use common::{Daemon, Fixtures};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn credentials(f: &Fixtures, password: &str) -> DockerCredentials {
    DockerCredentials {
        username: Some(f.username.clone()),
        password: Some(password.to_string()),
        serveraddress: Some(f.auth_registry.clone()),
        ..Default::default()
    }
}

async fn pull(
    docker: &bollard::Docker,
    image: &str,
    tag: &str,
    creds: Option<DockerCredentials>,
) -> Result<Vec<CreateImageInfo>, BollardError> {
    let options = CreateImageOptions {
        from_image: Some(image.to_string()),
        tag: Some(tag.to_string()),
        ..Default::default()
    };
    docker
        .create_image(Some(options), None, creds)
        .try_collect()
        .await
}

fn status_lines(infos: &[CreateImageInfo]) -> Vec<String> {
    infos.iter().filter_map(|i| i.status.clone()).collect()
}

#[test]
fn create_image_pulls_anonymously() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let docker = d.bollard();
    let image = f.image("busybox");
    let name = format!("{}/{}", f.registry, image.repository);
    runtime().block_on(async {
        let infos = pull(&docker, &name, &image.tag, None).await.expect("pull");
        let statuses = status_lines(&infos);
        assert!(
            statuses.contains(&format!("Digest: {}", image.digest)),
            "{statuses:?}"
        );
        assert!(
            statuses
                .iter()
                .any(|s| s.starts_with("Status: Downloaded newer image for")),
            "{statuses:?}"
        );
        let inspect = docker
            .inspect_image(&format!("{name}:{}", image.tag))
            .await
            .expect("inspect");
        assert_eq!(inspect.id.as_deref(), Some(image.id.as_str()));

        // Pull by digest through the `tag` parameter.
        let infos = pull(&docker, &name, &image.digest, None)
            .await
            .expect("pull by digest");
        assert!(status_lines(&infos).contains(&format!("Digest: {}", image.digest)));
    });
}

#[test]
fn create_image_errors_carry_dockerd_status_codes() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let docker = d.bollard();
    runtime().block_on(async {
        let name = format!("{}/berth/busybox", f.registry);
        match pull(&docker, &name, "nope", None).await {
            Err(BollardError::DockerResponseServerError {
                status_code,
                message,
            }) => {
                assert_eq!(status_code, 404);
                assert_eq!(
                    message,
                    format!(
                        "manifest for {name}:nope not found: manifest unknown: manifest unknown"
                    )
                );
            }
            other => panic!("expected a 404, got {other:?}"),
        }

        let private = format!("{}/berth/busybox", f.auth_registry);
        match pull(&docker, &private, "latest", None).await {
            Err(BollardError::DockerResponseServerError {
                status_code,
                message,
            }) => {
                assert_eq!(status_code, 500, "dockerd answers 500 here");
                assert!(message.ends_with("no basic auth credentials"), "{message}");
            }
            other => panic!("expected an error, got {other:?}"),
        }

        match pull(&docker, &private, "latest", Some(credentials(&f, "wrong"))).await {
            Err(BollardError::DockerResponseServerError {
                status_code,
                message,
            }) => {
                assert_eq!(status_code, 500);
                assert_eq!(message, "unauthorized: authentication required");
            }
            other => panic!("expected an error, got {other:?}"),
        }

        // An error after the stream started is a stream error.
        let multi = format!("{}/berth/multi", f.registry);
        let options = CreateImageOptions {
            from_image: Some(multi),
            tag: Some("latest".into()),
            platform: "linux/s390x".into(),
            ..Default::default()
        };
        let result: Result<Vec<CreateImageInfo>, _> = docker
            .create_image(Some(options), None, None)
            .try_collect()
            .await;
        match result {
            Err(BollardError::DockerStreamError { error }) => {
                assert_eq!(
                    error,
                    "no matching manifest for linux/s390x in the manifest list entries"
                );
            }
            other => panic!("expected a stream error, got {other:?}"),
        }
    });
}

#[test]
fn create_image_with_credentials() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let docker = d.bollard();
    let image = f.image("hello");
    let name = format!("{}/{}", f.auth_registry, image.repository);
    runtime().block_on(async {
        let infos = pull(
            &docker,
            &name,
            &image.tag,
            Some(credentials(&f, &f.password)),
        )
        .await
        .expect("pull");
        assert!(status_lines(&infos).contains(&format!("Digest: {}", image.digest)));
        let inspect = docker
            .inspect_image(&format!("{name}:{}", image.tag))
            .await
            .expect("inspect");
        assert_eq!(inspect.id.as_deref(), Some(image.id.as_str()));

        let registry = docker
            .inspect_registry_image(
                &format!("{name}:{}", image.tag),
                Some(credentials(&f, &f.password)),
            )
            .await
            .expect("distribution inspect");
        assert_eq!(
            registry.descriptor.digest.as_deref(),
            Some(image.digest.as_str())
        );
        assert_eq!(
            registry.descriptor.media_type.as_deref(),
            Some(image.media_type.as_str())
        );
    });
}

#[test]
fn inspect_registry_image_lists_platforms() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let docker = d.bollard();
    let multi = f.image("multi");
    runtime().block_on(async {
        let info = docker
            .inspect_registry_image(&f.anon_ref("multi"), None)
            .await
            .expect("inspect");
        assert_eq!(
            info.descriptor.digest.as_deref(),
            Some(multi.digest.as_str())
        );
        let archs: Vec<String> = info
            .platforms
            .iter()
            .filter_map(|p| p.architecture.clone())
            .collect();
        assert!(
            archs.contains(&"amd64".to_string()) && archs.contains(&"arm64".to_string()),
            "{archs:?}"
        );

        match docker
            .inspect_registry_image(&format!("{}/berth/busybox:nope", f.registry), None)
            .await
        {
            Err(BollardError::DockerResponseServerError {
                status_code,
                message,
            }) => {
                assert_eq!(status_code, 404);
                assert_eq!(message, "manifest unknown: manifest unknown");
            }
            other => panic!("expected a 404, got {other:?}"),
        }
    });
}

#[test]
fn push_image_with_credentials() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let docker = d.bollard();
    let hello = f.image("hello");
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let repo = format!(
        "{}/berth-test/bollard-{}-{nanos}",
        f.auth_registry,
        std::process::id()
    );
    runtime().block_on(async {
        pull(
            &docker,
            &format!("{}/{}", f.registry, hello.repository),
            &hello.tag,
            None,
        )
        .await
        .expect("pull");
        docker
            .tag_image(
                &f.anon_ref("hello"),
                Some(TagImageOptions {
                    repo: Some(repo.clone()),
                    tag: Some("v1".into()),
                }),
            )
            .await
            .expect("tag");

        let options = PushImageOptions {
            tag: Some("v1".into()),
            ..Default::default()
        };
        let denied: Result<Vec<PushImageInfo>, _> = docker
            .push_image(&repo, Some(options.clone()), None)
            .try_collect()
            .await;
        match denied {
            Err(BollardError::DockerStreamError { error }) => {
                assert_eq!(error, "no basic auth credentials")
            }
            other => panic!("expected a stream error, got {other:?}"),
        }

        let infos: Vec<PushImageInfo> = docker
            .push_image(&repo, Some(options), Some(credentials(&f, &f.password)))
            .try_collect()
            .await
            .expect("push");
        let statuses: Vec<String> = infos.iter().filter_map(|i| i.status.clone()).collect();
        assert!(
            statuses
                .iter()
                .any(|s| s.starts_with("The push refers to repository [")),
            "{statuses:?}"
        );
        assert!(
            statuses.contains(&format!(
                "v1: digest: {} size: {}",
                hello.digest,
                manifest_size(&f, "hello")
            )),
            "{statuses:?}"
        );

        match docker
            .push_image(
                "127.0.0.1:1/berth-test/nothere",
                None::<PushImageOptions>,
                None,
            )
            .try_collect::<Vec<_>>()
            .await
        {
            Err(BollardError::DockerResponseServerError {
                status_code,
                message,
            }) => {
                assert_eq!(status_code, 404);
                assert_eq!(
                    message,
                    "An image does not exist locally with the tag: 127.0.0.1:1/berth-test/nothere"
                );
            }
            other => panic!("expected a 404, got {other:?}"),
        }
    });
}

/// Size of the manifest the anonymous registry serves for a fixture (what push reports).
fn manifest_size(f: &Fixtures, name: &str) -> usize {
    let image = f.image(name);
    let url = format!(
        "http://{}/v2/{}/manifests/{}",
        f.registry, image.repository, image.digest
    );
    let out = std::process::Command::new("curl")
        .args(["-sf", "-H", &format!("Accept: {}", image.media_type), &url])
        .output()
        .expect("curl");
    assert!(out.status.success(), "fetching {url}");
    out.stdout.len()
}

/// The Bearer-token registry: denied without credentials (403 for an inspect, 404 for a
/// pull), a pull with credentials works.
#[test]
fn token_registry_through_bollard() {
    let f = Fixtures::load();
    let path = std::env::var("BERTH_FIXTURES").expect("BERTH_FIXTURES");
    let raw: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("fixtures")).expect("JSON");
    let registry = raw["token_registry"]
        .as_str()
        .expect("a token registry in the fixtures")
        .to_string();
    let d = Daemon::start();
    let docker = d.bollard();
    let hello = f.image("hello");
    let name = format!("{registry}/{}", hello.repository);
    runtime().block_on(async {
        match docker
            .inspect_registry_image(&format!("{name}:{}", hello.tag), None)
            .await
        {
            Err(BollardError::DockerResponseServerError {
                status_code,
                message,
            }) => {
                assert_eq!(status_code, 403);
                assert!(
                    message.contains("denied: requested access to the resource is denied"),
                    "{message}"
                );
            }
            other => panic!("expected a 403, got {other:?}"),
        }
        match pull(&docker, &name, &hello.tag, None).await {
            Err(BollardError::DockerResponseServerError {
                status_code,
                message,
            }) => {
                assert_eq!(status_code, 404);
                assert!(
                    message.starts_with(&format!("pull access denied for {name}")),
                    "{message}"
                );
            }
            other => panic!("expected a 404, got {other:?}"),
        }
        let creds = DockerCredentials {
            username: Some(f.username.clone()),
            password: Some(f.password.clone()),
            serveraddress: Some(registry.clone()),
            ..Default::default()
        };
        let infos = pull(&docker, &name, &hello.tag, Some(creds))
            .await
            .expect("pull with credentials");
        assert!(status_lines(&infos).contains(&format!("Digest: {}", hello.digest)));
    });
}
