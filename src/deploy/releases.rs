//! Opening a target (S3 or a local directory) and reading its release history.

use super::*;

/// The releases recorded in `target`, oldest first.
pub(crate) async fn releases(
    target: &Target,
    settings: &TargetSettings,
) -> Result<Vec<ReleaseSummary>> {
    list_releases(&open(target, settings).await?.0, target).await
}

/// The target's store, and for S3 the AWS configuration it was opened with: the one place a
/// store is opened.
pub(super) async fn open(
    target: &Target,
    settings: &TargetSettings,
) -> Result<(Store, Option<Aws>)> {
    Ok(match target {
        Target::S3 { bucket, prefix } => {
            let aws = Aws::load(settings).await?;
            let store = S3Store::new(
                aws.s3(),
                bucket.clone(),
                prefix.clone(),
                aws.describe_endpoint(),
            );
            (Store::S3(store), Some(aws))
        }
        Target::Local { path } => (Store::Local(LocalStore::new(path.clone())), None),
    })
}

pub(super) async fn list_releases<S: ReadStore>(
    store: &S,
    target: &Target,
) -> Result<Vec<ReleaseSummary>> {
    let remote = store
        .list()
        .await
        .with_context(|| format!("cannot list {target}"))?;
    let quiet = Progress::new(true);
    let live = read_record(store, &remote, LIVE_RECORD, &quiet).await?;
    let keys: Vec<String> = release_ids(remote.iter().map(|r| r.key.as_str()))
        .iter()
        .map(|id| release_key(id))
        .collect();
    let records = futures::future::join_all(
        keys.iter()
            .map(|key| read_record(store, &remote, key, &quiet)),
    )
    .await;
    let mut list = Vec::new();
    // The live release's history copy is written alongside the live record: when that write
    // failed, the live record stands in for it.
    let live_unlisted = live.clone().filter(|l| !keys.contains(&release_key(&l.id)));
    for record in records.into_iter().chain([Ok(live_unlisted)]) {
        if let Some(r) = record? {
            list.push(ReleaseSummary {
                live: live.as_ref().is_some_and(|l| l.id == r.id),
                files: r.objects.len(),
                id: r.id,
                pushed_at: r.pushed_at,
                source: r.source,
            });
        }
    }
    list.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(list)
}

/// The live release of `target`, if it has one.
pub(crate) async fn live_record(
    target: &Target,
    settings: &TargetSettings,
) -> Result<Option<Record>> {
    let (store, _) = open(target, settings).await?;
    read_live(&store, target).await
}
