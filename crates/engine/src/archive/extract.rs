//! Extracting a hostile tar below a directory descriptor (the copy's
//! `PUT`, and the builder's `COPY`/`ADD`), with the one extractor of copies:
//! [`untar::extract`].

use std::io::Read;
use std::os::fd::OwnedFd;

use super::ArchiveError;
use crate::EngineError;

/// Who owns what [`extract_into`] makes: the shared extractor's owners
/// (`Root` for `docker cp` without `-a` and `COPY` without `--chown`,
/// `FromTar` for `cp -a` and `ADD` of an archive, `Fixed` for `COPY
/// --chown`).
pub(crate) use untar::extract::Owner;

/// Extracts a tar below the directory `dest`: every entry is created
/// relative to a directory descriptor, each parent opened `O_NOFOLLOW` (a
/// symlink on the way is refused, not followed), and `..` or absolute
/// entry names are refused; hardlinks must name an entry below `dest`;
/// entries and bytes are bounded as a layer's. `chmod` replaces every
/// entry's mode (`COPY --chmod`).
pub(crate) fn extract_into(
    dest: &OwnedFd,
    tar: impl Read,
    owner: Owner,
    chmod: Option<u32>,
) -> Result<(), EngineError> {
    use untar::extract::{ExtractError, Options};
    let opts = Options {
        owner,
        chmod,
        // The same bounds as a layer's: a small compressed upload may
        // expand to any size (a decompression bomb) or name millions of
        // entries.
        max_entries: store::layer::MAX_ENTRIES,
        max_bytes: store::layer::MAX_BYTES + store::layer::MAX_ENTRIES * 1024,
        ..Options::default()
    };
    untar::extract::extract(dest, tar, &opts, |_: &[u8]| None).map_err(|e| match e {
        ExtractError::Invalid(msg) => bad_tar(msg),
        e @ ExtractError::NotADirectory { .. } => ArchiveError::Invalid(e.to_string()).into(),
        e @ ExtractError::Io { .. } => ArchiveError::sys(e.to_string()).into(),
    })
}

pub(super) fn bad_tar(msg: String) -> EngineError {
    ArchiveError::BadArchive(msg).into()
}
