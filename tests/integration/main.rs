//! The integration tests, one binary with a module per area (as fd's `tests/integration`): the
//! built spadeploy run as a user would, against a local folder, moto's AWS emulator (started by
//! ./test.sh, whose endpoint is `SPADEPLOY_TEST_ENDPOINT`), the generated edge functions under
//! Node.js and the framework builds in headless Chromium. `support` holds the shared helpers.

mod support;

mod action;
mod cli;
mod cloudfront_emulator;
mod cloudfront_function;
mod cloudfront_lambda;
mod cloudfront_noop;
mod content_mode;
mod export;
mod frameworks;
mod iam;
mod init;
mod lock;
mod npm;
mod previews;
mod route_store;
mod route_table;
mod routing;
mod s3;
mod s3_transfer;
mod safety;
