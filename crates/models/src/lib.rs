//! Docker's Engine API bodies and image configs as typed values, shared by
//! `berthd`, the engine, the store and the `berth` CLI, so that Docker's
//! schema lives in one place instead of as string keys in many.
//!
//! The types mirror moby's Go structs for API 1.47 (`api/types`, checked
//! against `api/swagger.yaml`), field for field and in Go's order:
//!
//! - **Read as Go reads** (see [`de`]): `null` is the zero value, keys
//!   match field names ignoring case, unknown keys are ignored. Decode
//!   anything that comes from outside with [`de::from_slice`].
//! - **Written as Go writes**: a Go slice or map that may be nil is an
//!   `Option` here and written `null` when `None`; fields Go marks
//!   `omitempty` are left out when empty; everything else is always
//!   written. So `inspect`'s `"Cmd": null` and `"Binds": null` come out
//!   as dockerd's do.
//!
//! This crate is a leaf (serde only): the store uses it for image configs
//! and manifests, the engine for everything it answers.
//!
//! `bollard-stubs` (generated from moby's swagger) was weighed and kept
//! out of the types: every field is an `Option` left out when `None`, so it
//! cannot write Docker's `null`s, and its keys match case-sensitively. Its
//! types read our output in the tests, as bollard's client would.

pub mod container;
pub mod de;
pub mod events;
pub mod exec;
pub mod image;
pub mod log;
pub mod mount;
pub mod network;
pub mod oci;
pub mod progress;
pub mod stats;
pub mod system;
pub mod volume;
pub mod zero;

use serde::{Deserialize, Serialize};

/// Go's `struct{}`: the value of `ExposedPorts` and `Volumes` entries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Empty {}

/// For `skip_serializing_if`: Go's `omitempty` on a number or bool.
pub(crate) fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}
