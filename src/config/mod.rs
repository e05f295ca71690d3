//! What the user configured: the `spadeploy.toml` manifest (schema, defaults, line-accurate
//! validation, globs) and targets (`s3://bucket/prefix` or a local directory). No network.

pub(crate) mod manifest;
pub(crate) mod routing;
pub(crate) mod target;
