//! The S3 protocol model: pure functions and types, no I/O.

pub mod acl;
pub mod copy_source;
pub mod error;
pub mod form;
pub mod lifecycle;
pub mod names;
pub mod object_checksum;
pub mod op;
pub mod preconditions;
pub mod request;
pub mod tags;
pub mod uri;
pub mod xml;
