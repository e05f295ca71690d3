//! spadeploy's own state in a target, under `.spadeploy/`: release records, the live pointer,
//! retained copies for rollback, and the deploy lock.

pub(crate) mod lock;
pub(crate) mod release;
