//! What the gateway serves itself, whatever the backend supports.

pub mod access_log;
pub mod cors;
pub mod website;
