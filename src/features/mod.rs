//! What the gateway serves itself, whatever the backend supports.

pub mod cors;
pub mod website;
