//! The thin shell around the pure parts: reads the site's wiring (distribution, function,
//! KeyValueStore) without writing it, lists previews, writes and deletes their keys and objects.

use std::collections::BTreeMap;

use crate::aws::{api_error, ApiError, Aws};
use crate::cdn::kvs::{self, Table};
use crate::cdn::observe::{read_distribution, Clients};
use crate::cdn::request::SetupError;
use crate::cdn::routing::site_base;
use crate::cdn::{distribution, edge, edge_code};
use crate::model::PREVIEWS_PREFIX;
use crate::store::{ReadStore, S3Store, WriteStore};

use super::id::PreviewId;
use super::record::{self, pack, Pointer, Write};

#[derive(Debug, thiserror::Error)]
pub(crate) enum PreviewError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Setup(#[from] SetupError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("the edge function `{function}` does not serve previews of {domain} yet (its live code {found}): run `spadeploy push` once with [preview] domain = \"{domain}\" so the function maps preview hosts; nothing was written")]
    NotWired {
        function: String,
        domain: String,
        found: String,
    },
    #[error("the edge function `{0}` reads no KeyValueStore: run `spadeploy push` once with [preview] domain set; nothing was written")]
    NoStore(String),
}

/// The site previews belong to: its bucket and prefix, distribution, function and preview
/// domain, and the clients that reach them.
pub(crate) struct Site {
    pub clients: Clients,
    pub bucket: String,
    /// The production target's key prefix (`""` or ending in `/`).
    pub prefix: String,
    pub distribution: String,
    pub function: String,
    pub domain: String,
}

/// What a preview operation reads before writing anything.
#[derive(Debug, Clone)]
pub(crate) struct Wiring {
    /// The SPA origin's path: URLs of keys under the target are relative to it.
    pub origin_path: String,
    /// The site's URL base (production's and every preview's).
    pub base: String,
    pub store_arn: String,
    pub store: kvs::StoreState,
}

impl Site {
    pub(crate) fn new(
        aws: &Aws,
        bucket: String,
        prefix: String,
        distribution: String,
        function: String,
        domain: String,
    ) -> Site {
        Site {
            clients: Clients::of(aws),
            bucket,
            prefix,
            distribution,
            function,
            domain,
        }
    }

    /// The preview's key prefix in the bucket.
    pub(crate) fn preview_prefix(&self, id: &PreviewId) -> String {
        format!("{}{PREVIEWS_PREFIX}{id}/", self.prefix)
    }

    pub(crate) fn url(&self, id: &PreviewId) -> String {
        format!("https://{id}.{}/", self.domain)
    }

    fn store_of(&self, prefix: String) -> S3Store {
        S3Store::new(
            self.clients.s3.clone(),
            self.bucket.clone(),
            prefix,
            self.clients.endpoint.clone(),
        )
    }

    /// The distribution, the function's live code and the store, read only: previews need the
    /// function a push with `[preview] domain` installs.
    pub(crate) async fn wiring(&self) -> Result<Wiring, PreviewError> {
        let endpoint = &self.clients.endpoint;
        // The store is the one the function is associated with, whoever named it (spadeploy,
        // or infrastructure as code in content mode).
        let (dist, code, declared) = tokio::join!(
            read_distribution(&self.clients, &self.distribution),
            self.live_code(),
            edge::describe_declared(&self.clients.cloudfront, &self.function, endpoint)
        );
        let dist = dist?;
        let code = code?;
        let found = match code.as_deref().map(edge_code::code_previews) {
            None => "does not exist".to_string(),
            Some(None) => "maps no preview domain".to_string(),
            Some(Some(domain)) if domain == self.domain => String::new(),
            Some(Some(other)) => format!("maps {other}"),
        };
        if !found.is_empty() {
            return Err(PreviewError::NotWired {
                function: self.function.clone(),
                domain: self.domain.clone(),
                found,
            });
        }
        let store = declared?.and_then(|d| d.stores.into_iter().next());
        let Some(store_arn) = store else {
            return Err(PreviewError::NoStore(self.function.clone()));
        };
        let analysis = distribution::analyze(&dist.config, &self.bucket, &dist.id)
            .map_err(SetupError::from)?;
        let origin_path = distribution::origin_path(&dist.config, &analysis.origin_id);
        let base = site_base(&self.prefix, &origin_path).map_err(SetupError::from)?;
        let store = kvs::state(&self.clients.key_value_store, &store_arn, endpoint).await?;
        Ok(Wiring {
            origin_path,
            base,
            store_arn,
            store,
        })
    }

    async fn live_code(&self) -> Result<Option<String>, ApiError> {
        let got = self
            .clients
            .cloudfront
            .get_function()
            .name(&self.function)
            .stage(aws_sdk_cloudfront::types::FunctionStage::Live)
            .send()
            .await;
        match got {
            Ok(out) => Ok(out
                .function_code()
                .map(|b| String::from_utf8_lossy(b.as_ref()).into_owned())),
            Err(e) => api_error(
                e,
                "cloudfront:GetFunction",
                format!("arn:aws:cloudfront::*:function/{}", self.function),
                &self.clients.endpoint,
            )
            .absent_if("NoSuchFunctionExists"),
        }
    }

    /// The preview's pointer, if it has one.
    pub(crate) async fn pointer(
        &self,
        arn: &str,
        id: &PreviewId,
    ) -> Result<Option<Pointer>, ApiError> {
        let key = record::pointer_key(id);
        let value = kvs::get(
            &self.clients.key_value_store,
            arn,
            &key,
            &self.clients.endpoint,
        )
        .await?;
        // A pointer that does not parse is treated as none: the next deploy writes it again.
        Ok(value.and_then(|v| serde_json::from_str(&v).ok()))
    }

    /// Every preview key the store holds (one listing of the whole store).
    pub(crate) async fn preview_keys(&self, arn: &str) -> Result<Table, ApiError> {
        kvs::list(
            &self.clients.key_value_store,
            arn,
            &self.clients.endpoint,
            |k| k.starts_with(record::NAMESPACE),
        )
        .await
    }

    /// Makes `writes` in order; returns their count.
    pub(crate) async fn write(
        &self,
        wiring: &Wiring,
        writes: Vec<Write>,
    ) -> Result<usize, ApiError> {
        let count = writes.len();
        let mut etag = wiring.store.etag.clone();
        for (puts, deletes) in pack(writes) {
            etag = kvs::update(
                &self.clients.key_value_store,
                &wiring.store_arn,
                etag,
                puts,
                deletes,
                &self.clients.endpoint,
            )
            .await?;
        }
        Ok(count)
    }

    /// The ids with a folder under `_previews/` (one listing request per 1,000 previews).
    pub(crate) async fn folders(&self) -> Result<Vec<PreviewId>, ApiError> {
        let root = format!("{}{PREVIEWS_PREFIX}", self.prefix);
        let mut pages = self
            .clients
            .s3
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(&root)
            .delimiter("/")
            .into_paginator()
            .send();
        let mut ids = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| {
                api_error(
                    e,
                    "s3:ListBucket",
                    format!("arn:aws:s3:::{}", self.bucket),
                    &self.clients.endpoint,
                )
            })?;
            for common in page.common_prefixes() {
                let name = common.prefix().and_then(|p| p.strip_prefix(&root));
                let name = name.map(|n| n.trim_end_matches('/')).unwrap_or_default();
                if PreviewId::is_valid(name) {
                    ids.extend(PreviewId::new(name).ok());
                }
            }
        }
        Ok(ids)
    }

    /// Objects and bytes under the preview's folder.
    pub(crate) async fn size(&self, id: &PreviewId) -> Result<(usize, u64), PreviewError> {
        let listed = self.store_of(self.preview_prefix(id)).list().await?;
        Ok((listed.len(), listed.iter().map(|o| o.size).sum()))
    }

    /// Deletes every object of the preview's folder, its records and lock included.
    pub(crate) async fn delete_objects(&self, id: &PreviewId) -> Result<usize, PreviewError> {
        let store = self.store_of(self.preview_prefix(id));
        let keys: Vec<String> = store.list().await?.into_iter().map(|o| o.key).collect();
        store.delete(&keys).await?;
        Ok(keys.len())
    }
}

/// Pointers by id, for the ids given (one GetKey each, concurrently).
pub(crate) async fn pointers(
    site: &Site,
    arn: &str,
    ids: &[PreviewId],
) -> Result<BTreeMap<PreviewId, Option<Pointer>>, ApiError> {
    let read = ids
        .iter()
        .map(|id| async move { Ok::<_, ApiError>((id.clone(), site.pointer(arn, id).await?)) });
    Ok(futures::future::try_join_all(read)
        .await?
        .into_iter()
        .collect())
}
