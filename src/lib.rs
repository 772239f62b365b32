//! bucketgate: a DigitalOcean-Spaces-compatible S3 gateway in front of any S3 backend, on pingora.
//!
//! The modules follow a request: `s3` (what is asked), `auth` (who asks), `authz` (may they),
//! `profile` (does this endpoint do that), `upstream` (the backend), `proxy` (pingora glue),
//! with `config` and `telemetry` around them.

pub mod auth;
pub mod authz;
pub mod config;
pub mod features;
pub mod limits;
pub mod profile;
pub mod proxy;
pub mod s3;
pub mod state;
pub mod telemetry;
pub mod tls;
pub mod upstream;
