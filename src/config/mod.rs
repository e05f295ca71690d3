//! What the user configured: the `spadeploy.toml` manifest (schema, defaults, line-accurate
//! validation, globs), targets (`s3://bucket/prefix` or a local directory), and importing other
//! platforms' routing configuration; recognising the framework a build comes from. No network.

pub(crate) mod framework;
pub(crate) mod import;
pub(crate) mod manifest;
pub(crate) mod preview;
pub(crate) mod routing;
pub(crate) mod target;
