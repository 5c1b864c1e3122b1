//! Manifests: the YAML a team writes, loaded with positions, validated, and typed.
//!
//! Nothing here talks to AWS. Loading reads files (the manifest and its `extends` chain); everything after
//! that is pure.

pub mod check;
pub mod diagnostic;
pub mod load;
pub mod retention;
pub mod schema;
pub mod types;
pub mod yaml;

pub use diagnostic::{Problem, Severity, Sources};
pub use load::{Loaded, load};
pub use types::Manifest;
