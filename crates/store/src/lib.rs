//! berth's image store: what images are made of, on disk, and knows nothing
//! about processes. Content-addressed blobs, layers unpacked with their
//! whiteouts, image references as Docker spells them, and the metadata that
//! ties them together.

pub mod config;
pub mod content;
pub mod diff;
pub mod images;
pub mod layer;
pub mod meta;
pub mod mount;
pub mod reference;
pub mod store;
pub mod tree;
pub mod userns;

pub use store::{ImportOptions, Store, StoreError};
pub mod archive;
pub mod walk;
