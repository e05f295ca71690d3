//! What a push with a distribution reads and refuses before it writes, against moto (through
//! scripts/moto_server.py): a push with nothing drifted writes nothing and reads the control plane
//! in two round trips, a dry run shows the routing and writes nothing, and a routing error says
//! what to do and changes nothing.

use crate::support::cdn::*;
use crate::support::proxy::{Fault, FaultAction, Proxy, Recorded};
use crate::support::*;

#[tokio::test]
async fn a_no_op_website_push_reads_the_target_and_the_distribution_at_once() {
    let _role = edge_role_shared().await;
    let bucket = unique_bucket("noopreads");
    create_bucket(&s3(), &bucket).await;
    let id = create_distribution(&bucket, "website").await;
    let proxy = Proxy::start(&moto());
    push(&proxy, &bucket, &id, &["--allow-public-read"]).assert_ok();
    // The bucket answers slowly: reading the distribution must not wait for its listing.
    proxy.inject(Fault::new(
        "GET",
        &format!("/{bucket}/"),
        FaultAction::Stall(std::time::Duration::from_millis(800)),
    ));
    proxy.take();
    let again = push(&proxy, &bucket, &id, &["--allow-public-read"]);
    again.assert_ok();
    let requests = proxy.take();
    assert!(
        requests.iter().all(|r| !r.is_write()),
        "a no-op writes nothing"
    );
    let distribution = requests
        .iter()
        .find(|r| r.path.ends_with(&format!("/distribution/{id}")))
        .unwrap();
    let listing = requests
        .iter()
        .find(|r| r.query.contains("list-type=2"))
        .unwrap();
    assert!(
        distribution.started < listing.finished,
        "the distribution was read only after the listing"
    );
    // Control-plane reads of a no-op in website mode, in two round trips: the distribution and
    // the bucket policy; then the function's versions and the website configuration (Block
    // Public Access is not read while spadeploy's read policy is in place).
    assert_no_op_reads(&requests, &id, 4);
}

#[tokio::test]
async fn a_no_op_private_push_reads_the_control_plane_in_two_round_trips() {
    let _role = edge_role_shared().await;
    let proxy = Proxy::start(&moto());
    // Private mode: the distribution and the bucket policy; then the function's LIVE code and
    // spadeploy's Block Public Access record (the bucket tag).
    let bucket = unique_bucket("noopprivate");
    create_bucket(&s3(), &bucket).await;
    let id = create_distribution(&bucket, "rest").await;
    push(&proxy, &bucket, &id, &["--fix-origin"]).assert_ok();
    proxy.take();
    push(&proxy, &bucket, &id, &[]).assert_ok();
    assert_no_op_reads(&proxy.take(), &id, 4);
}

/// A no-op wrote nothing and read the control plane `expected` times, in two round trips: the
/// distribution first, everything else at once after it.
fn assert_no_op_reads(requests: &[Recorded], id: &str, expected: usize) {
    assert!(
        requests.iter().all(|r| !r.is_write()),
        "a no-op writes nothing"
    );
    let control: Vec<&Recorded> = requests
        .iter()
        .filter(|r| {
            r.path.starts_with("/2020-05-31/")
                || r.path.starts_with("/2015-03-31/")
                || ["website", "policy", "publicAccessBlock", "tagging"]
                    .iter()
                    .any(|q| r.query.split('&').any(|p| p.split('=').next() == Some(*q)))
        })
        .collect();
    let paths: Vec<String> = control
        .iter()
        .map(|r| format!("{} {}?{}", r.method, r.path, r.query))
        .collect();
    assert_eq!(control.len(), expected, "{paths:#?}");
    let distribution = control
        .iter()
        .find(|r| r.path.ends_with(&format!("/distribution/{id}")))
        .unwrap();
    let last_first_round = control
        .iter()
        .filter(|r| r.started < distribution.finished)
        .map(|r| r.finished)
        .max()
        .unwrap();
    // Whatever starts after the distribution was read starts as soon as the first round is
    // done: nothing waits for a second-round answer.
    let late = std::time::Duration::from_millis(50);
    assert!(
        control
            .iter()
            .filter(|r| r.started >= distribution.finished)
            .all(|r| r.started <= last_first_round + late),
        "two round trips: {paths:#?}"
    );
}

#[tokio::test]
async fn dry_run_shows_routing_and_invalidation_and_writes_nothing() {
    let _role = edge_role_shared().await;
    let bucket = unique_bucket("cfdry");
    create_bucket(&s3(), &bucket).await;
    let id = create_distribution(&bucket, "website").await;
    let proxy = Proxy::start(&moto());
    let run = push(&proxy, &bucket, &id, &["--allow-public-read", "--dry-run"]);
    run.assert_ok();
    let report = run.json();
    assert_eq!(report["routing"]["function"]["action"], "create");
    assert_eq!(report["routing"]["website"], "update");
    assert_eq!(report["routing"]["bucket_policy"], "update");
    assert_eq!(report["invalidation"]["paths"], serde_json::json!(["/*"]));
    assert_eq!(writes(&proxy), Vec::<String>::new());
    let check = spadeploy(
        &[
            "routing",
            "--to",
            &format!("s3://{bucket}"),
            "--endpoint-url",
            &proxy.url,
            "--distribution",
            &id,
            "--allow-public-read",
            "--check",
        ],
        None,
    );
    assert_eq!(
        check.code, 2,
        "drift before the first push: {}",
        check.stderr
    );
}

#[tokio::test]
async fn routing_errors_say_what_to_do_and_change_nothing() {
    let _role = edge_role_shared().await;
    let bucket = unique_bucket("cferr");
    create_bucket(&s3(), &bucket).await;
    let proxy = Proxy::start(&moto());

    push(&proxy, &bucket, "EDOESNOTEXIST", &[])
        .assert_fails_with(1, "distribution EDOESNOTEXIST does not exist");

    let other = unique_bucket("cfother");
    let elsewhere = create_distribution(&other, "website").await;
    push(&proxy, &bucket, &elsewhere, &[]).assert_fails_with(
        1,
        &format!("no cache behavior of distribution {elsewhere} points at bucket `{bucket}`"),
    );

    let id = create_distribution(&bucket, "website").await;
    let refused = push(&proxy, &bucket, &id, &[]);
    refused.assert_fails_with(1, "never opens a bucket without consent");
    refused.assert_fails_with(1, "allow_public_read = true");
    assert!(
        snapshot(&s3(), &bucket).await.is_empty(),
        "routing is checked before any file is written"
    );
    assert!(
        s3().get_bucket_policy()
            .bucket(&bucket)
            .send()
            .await
            .is_err(),
        "no policy was set"
    );

    let mismatch = push(&proxy, &bucket, &id, &["--mode", "private"]);
    mismatch.assert_fails_with(1, "pass --fix-origin");

    proxy.take();
    proxy.inject(Fault::access_denied("PUT", "/config"));
    let denied = push(&proxy, &bucket, &id, &["--allow-public-read"]);
    denied.assert_fails_with(
        1,
        &format!(
            "cloudfront:UpdateDistribution on arn:aws:cloudfront::123456789012:distribution/{id}"
        ),
    );
    denied.assert_fails_with(1, "a re-run finishes the job");

    let tmp = tempfile::tempdir().unwrap();
    let redirects: String = (0..101)
        .map(|i| format!("[[redirects]]\nfrom = \"/old{i}/\"\nto = \"/new{i}/\"\n"))
        .collect();
    write(tmp.path(), "spadeploy.toml", &redirects);
    let run = spadeploy(
        &["push", "--to", "s3://some-bucket", "--distribution", "E1"],
        Some(tmp.path()),
    );
    run.assert_fails_with(1, "evaluates at most 100");
}
