//! Reading tar streams that come from someone else: layers from a
//! registry or a `docker load`, `docker cp` and build-context uploads,
//! archives a container hands back to the CLI.
//!
//! The `tar` crate reads a GNU long name, long link or PAX header whole
//! into memory whatever size its header declares, so an 8 GiB long name
//! compressed to a few megabytes grows the reader by 8 GiB (issue 15). This
//! reader takes each header block itself (the `tar` crate's [`tar::Header`]
//! still parses the fields) and refuses any such metadata entry over
//! [`MAX_META_BYTES`], as Go's `archive/tar` (Docker's reader) refuses
//! what is over its `maxSpecialFileSize`. File data is never buffered: an
//! [`Entry`] reads it from the stream.
//!
//! What it understands: ustar and GNU headers (octal and base-256 numbers,
//! the ustar prefix), GNU long names and long links (`L`, `K`), PAX local
//! headers (`x`: `path`, `linkpath`, `size`, `uid`, `gid`, `mtime`,
//! `SCHILY.xattr.*`), PAX global headers (`g`, read and dropped, as the
//! `tar` crate does), and GNU sparse headers' extension blocks (skipped so
//! the stream stays in step; the entry is reported as `GNUSparse` for the
//! caller to refuse or skip). The stream ends at the first zero block or at
//! the end of the input on a block boundary.
//!
//! [`extract`] writes an archive below a directory descriptor, never
//! through a symlink ([`dirs`]): the one extractor of copies. Writing tars
//! is left to the `tar` crate.

use std::io::{self, Read};

pub use tar::EntryType;

pub mod dirs;
pub mod extract;

/// Largest GNU long name, long link, PAX header or GNU sparse extension
/// run accepted (1 MiB): Go's `archive/tar` (`maxSpecialFileSize`) bounds
/// the same headers the same way; a path is at most 4 KiB on Linux, and the
/// largest xattrs a layer carries (`security.capability`, ACLs) are small.
pub const MAX_META_BYTES: u64 = 1 << 20;

const BLOCK: u64 = 512;

/// Why a tar stream was refused.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The stream failed (or a decompressor under it did).
    #[error("{0}")]
    Io(#[from] io::Error),
    /// A header block whose checksum does not add up.
    #[error("archive header checksum mismatch")]
    Checksum,
    /// The stream stops inside a header or an entry.
    #[error("archive is truncated")]
    Truncated,
    /// A metadata entry larger than its bound.
    #[error("{what} of {size} bytes is over the limit of {limit} bytes")]
    TooLong {
        /// Which header (`GNU long name`, `PAX header`…).
        what: &'static str,
        /// The size its header declares.
        size: u64,
        /// The bound.
        limit: u64,
    },
    /// A header or PAX record that does not parse.
    #[error("bad {what}: {why}")]
    Header {
        /// Which part.
        what: &'static str,
        /// Why.
        why: String,
    },
}

fn bad(what: &'static str, why: impl Into<String>) -> Error {
    Error::Header {
        what,
        why: why.into(),
    }
}

/// A tar stream read entry by entry.
pub struct Archive<R> {
    r: R,
    /// Data bytes of the current entry not yet read.
    pending: u64,
    /// Padding after them.
    pad: u64,
    /// The end-of-archive block was seen (or an error ended the stream).
    done: bool,
}

/// One entry: its header's fields with the GNU and PAX extensions applied,
/// and its data (`Read`).
pub struct Entry<'a, R: Read> {
    archive: &'a mut Archive<R>,
    header: tar::Header,
    kind: EntryType,
    path: Vec<u8>,
    link: Option<Vec<u8>>,
    size: u64,
    uid: u64,
    gid: u64,
    mtime: u64,
    xattrs: Vec<(String, Vec<u8>)>,
}

/// What the extension headers before an entry said.
#[derive(Default)]
struct Extensions {
    long_name: Option<Vec<u8>>,
    long_link: Option<Vec<u8>>,
    pax: Option<Pax>,
}

/// The PAX records berth uses.
#[derive(Default)]
struct Pax {
    path: Option<Vec<u8>>,
    linkpath: Option<Vec<u8>>,
    size: Option<u64>,
    uid: Option<u64>,
    gid: Option<u64>,
    mtime: Option<u64>,
    xattrs: Vec<(String, Vec<u8>)>,
}

impl<R: Read> Archive<R> {
    /// Reads the tar stream `r`.
    pub fn new(r: R) -> Archive<R> {
        Archive {
            r,
            pending: 0,
            pad: 0,
            done: false,
        }
    }

    /// The stream, positioned after what was read (the rest of the current
    /// entry is not skipped).
    pub fn into_inner(self) -> R {
        self.r
    }

    /// The next entry, `None` at the end of the archive. What the previous
    /// entry left unread is skipped first.
    pub fn next_entry(&mut self) -> Result<Option<Entry<'_, R>>, Error> {
        if self.done {
            return Ok(None);
        }
        let r = self.advance();
        if r.is_err() {
            self.done = true;
        }
        match r? {
            None => {
                self.done = true;
                Ok(None)
            }
            Some((header, kind, size, ext)) => {
                let fields = Fields::of(&header, ext)?;
                self.pending = size;
                self.pad = padding(size);
                Ok(Some(Entry {
                    archive: self,
                    header,
                    kind,
                    path: fields.path,
                    link: fields.link,
                    size,
                    uid: fields.uid,
                    gid: fields.gid,
                    mtime: fields.mtime,
                    xattrs: fields.xattrs,
                }))
            }
        }
    }

    /// Skips what is left of the current entry, then reads headers until
    /// one describes a member (extension headers gathered on the way).
    #[allow(clippy::type_complexity)]
    fn advance(&mut self) -> Result<Option<(tar::Header, EntryType, u64, Extensions)>, Error> {
        self.skip(self.pending + self.pad)?;
        self.pending = 0;
        self.pad = 0;
        let mut ext = Extensions::default();
        let mut any_ext = false;
        loop {
            let Some(block) = self.block()? else {
                if any_ext {
                    return Err(bad(
                        "archive",
                        "extension headers describe no member: the archive ends",
                    ));
                }
                return Ok(None);
            };
            if block.iter().all(|b| *b == 0) {
                if any_ext {
                    return Err(bad(
                        "archive",
                        "extension headers describe no member: the archive ends",
                    ));
                }
                return Ok(None);
            }
            let header = checked(block)?;
            let kind = header.entry_type();
            let declared = size_of(&header)?;
            let limited = |what: &'static str| -> Result<u64, Error> {
                if declared > MAX_META_BYTES {
                    return Err(Error::TooLong {
                        what,
                        size: declared,
                        limit: MAX_META_BYTES,
                    });
                }
                Ok(declared)
            };
            match kind {
                EntryType::GNULongName => {
                    let n = limited("GNU long name")?;
                    if ext.long_name.is_some() {
                        return Err(bad("archive", "two long names for one member"));
                    }
                    ext.long_name = Some(until_nul(self.meta(n)?));
                    any_ext = true;
                }
                EntryType::GNULongLink => {
                    let n = limited("GNU long link")?;
                    if ext.long_link.is_some() {
                        return Err(bad("archive", "two long links for one member"));
                    }
                    ext.long_link = Some(until_nul(self.meta(n)?));
                    any_ext = true;
                }
                EntryType::XHeader => {
                    let n = limited("PAX header")?;
                    if ext.pax.is_some() {
                        return Err(bad("archive", "two PAX headers for one member"));
                    }
                    ext.pax = Some(parse_pax(&self.meta(n)?)?);
                    any_ext = true;
                }
                EntryType::XGlobalHeader => {
                    // Read (bounded) and checked, then dropped, as the `tar`
                    // crate does: layers carry none that matter.
                    let n = limited("PAX global header")?;
                    parse_pax(&self.meta(n)?)?;
                }
                _ => {
                    let size = match ext.pax.as_ref().and_then(|p| p.size) {
                        Some(s) => s,
                        None => declared,
                    };
                    if kind == EntryType::GNUSparse {
                        self.skip_sparse_extensions(&header)?;
                    }
                    return Ok(Some((header, kind, size, ext)));
                }
            }
        }
    }

    /// A GNU sparse header's extension blocks (a run of 512-byte maps, each
    /// saying whether another follows), bounded like the other metadata.
    fn skip_sparse_extensions(&mut self, header: &tar::Header) -> Result<(), Error> {
        let Some(gnu) = header.as_gnu() else {
            return Err(bad("sparse header", "not a GNU header"));
        };
        let mut more = gnu.is_extended();
        let mut seen = 0u64;
        while more {
            seen += BLOCK;
            if seen > MAX_META_BYTES {
                return Err(Error::TooLong {
                    what: "GNU sparse map",
                    size: seen,
                    limit: MAX_META_BYTES,
                });
            }
            let block = self.block()?.ok_or(Error::Truncated)?;
            // The extension block's last byte but 7 says whether another follows.
            more = block[504] != 0;
        }
        Ok(())
    }

    /// One 512-byte block; `None` at a clean end of input.
    fn block(&mut self) -> Result<Option<[u8; 512]>, Error> {
        let mut buf = [0u8; 512];
        let mut got = 0;
        while got < buf.len() {
            match self.r.read(&mut buf[got..]) {
                Ok(0) if got == 0 => return Ok(None),
                Ok(0) => return Err(Error::Truncated),
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(Some(buf))
    }

    /// A metadata entry's `n` bytes (n is bounded) and its padding.
    fn meta(&mut self, n: u64) -> Result<Vec<u8>, Error> {
        let mut v = Vec::new();
        (&mut self.r).take(n).read_to_end(&mut v)?;
        if (v.len() as u64) < n {
            return Err(Error::Truncated);
        }
        self.skip(padding(n))?;
        Ok(v)
    }

    fn skip(&mut self, n: u64) -> Result<(), Error> {
        if n == 0 {
            return Ok(());
        }
        let copied = io::copy(&mut (&mut self.r).take(n), &mut io::sink())?;
        if copied < n {
            return Err(Error::Truncated);
        }
        Ok(())
    }
}

/// The header's size field: octal or base-256; blank is 0, as Go's
/// `archive/tar` reads it.
fn size_of(header: &tar::Header) -> Result<u64, Error> {
    if header.as_old().size.iter().all(|b| *b == 0 || *b == b' ') {
        return Ok(0);
    }
    header
        .entry_size()
        .map_err(|e| bad("header size", e.to_string()))
}

fn padding(size: u64) -> u64 {
    (BLOCK - size % BLOCK) % BLOCK
}

fn until_nul(mut v: Vec<u8>) -> Vec<u8> {
    if let Some(i) = v.iter().position(|b| *b == 0) {
        v.truncate(i);
    }
    v
}

/// The block as a header, its checksum verified (unsigned, as POSIX says;
/// the signed sum old tars wrote is taken too, as GNU tar takes it).
fn checked(block: [u8; 512]) -> Result<tar::Header, Error> {
    let mut header = tar::Header::new_old();
    header.as_mut_bytes().copy_from_slice(&block);
    let field = &block[148..156];
    let text: Vec<u8> = field
        .iter()
        .copied()
        .skip_while(|b| *b == b' ')
        .take_while(|b| (b'0'..=b'7').contains(b))
        .collect();
    let want = std::str::from_utf8(&text)
        .ok()
        .and_then(|t| u32::from_str_radix(t, 8).ok())
        .ok_or(Error::Checksum)?;
    let unsigned: u32 = block[..148]
        .iter()
        .chain(&block[156..])
        .map(|b| u32::from(*b))
        .sum::<u32>()
        + 8 * u32::from(b' ');
    let signed: i64 = block[..148]
        .iter()
        .chain(&block[156..])
        .map(|b| i64::from(*b as i8))
        .sum::<i64>()
        + 8 * i64::from(b' ');
    if want != unsigned && i64::from(want) != signed {
        return Err(Error::Checksum);
    }
    Ok(header)
}

/// Parses PAX records, `"<len> <key>=<value>\n"` each, `len` counting the
/// whole record.
fn parse_pax(data: &[u8]) -> Result<Pax, Error> {
    let mut pax = Pax::default();
    let mut rest = data;
    while !rest.is_empty() {
        // GNU tar pads a PAX header with NULs.
        if rest.iter().all(|b| *b == 0) {
            break;
        }
        let sp = rest
            .iter()
            .take(20)
            .position(|b| *b == b' ')
            .ok_or_else(|| bad("PAX record", "no length"))?;
        let len: usize = std::str::from_utf8(&rest[..sp])
            .ok()
            .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| bad("PAX record", "its length is not a number"))?;
        if len <= sp + 1 || len > rest.len() {
            return Err(bad("PAX record", format!("length {len} out of range")));
        }
        let record = &rest[sp + 1..len];
        rest = &rest[len..];
        let Some(record) = record.strip_suffix(b"\n") else {
            return Err(bad("PAX record", "not ended by a newline"));
        };
        let eq = record
            .iter()
            .position(|b| *b == b'=')
            .ok_or_else(|| bad("PAX record", "no '='"))?;
        let (key, value) = (&record[..eq], &record[eq + 1..]);
        let key = std::str::from_utf8(key).map_err(|_| bad("PAX record", "key is not UTF-8"))?;
        let number = |what: &'static str| -> Result<u64, Error> {
            // mtime may carry a fraction: the seconds are what is kept.
            let t = std::str::from_utf8(value).map_err(|_| bad(what, "not UTF-8"))?;
            let whole = t.split('.').next().unwrap_or("");
            whole
                .parse::<u64>()
                .map_err(|_| bad(what, format!("{t:?} is not a number")))
        };
        match key {
            "path" => pax.path = Some(value.to_vec()),
            "linkpath" => pax.linkpath = Some(value.to_vec()),
            "size" => pax.size = Some(number("PAX size")?),
            "uid" => pax.uid = Some(number("PAX uid")?),
            "gid" => pax.gid = Some(number("PAX gid")?),
            // A negative mtime (before 1970) is taken as 0.
            "mtime" => pax.mtime = Some(number("PAX mtime").unwrap_or(0)),
            _ => {
                if let Some(name) = key.strip_prefix("SCHILY.xattr.") {
                    pax.xattrs.push((name.to_string(), value.to_vec()));
                }
            }
        }
    }
    Ok(pax)
}

/// An entry's fields with its extensions applied: PAX over GNU over the
/// header.
struct Fields {
    path: Vec<u8>,
    link: Option<Vec<u8>>,
    uid: u64,
    gid: u64,
    mtime: u64,
    xattrs: Vec<(String, Vec<u8>)>,
}

impl Fields {
    fn of(h: &tar::Header, ext: Extensions) -> Result<Fields, Error> {
        let pax = ext.pax.unwrap_or_default();
        let path = pax
            .path
            .or(ext.long_name)
            .unwrap_or_else(|| h.path_bytes().into_owned());
        let link = pax
            .linkpath
            .or(ext.long_link)
            .or_else(|| h.link_name_bytes().map(|l| l.into_owned()))
            .filter(|l| !l.is_empty());
        Ok(Fields {
            path,
            link,
            uid: pax.uid.unwrap_or_else(|| h.uid().unwrap_or(0)),
            gid: pax.gid.unwrap_or_else(|| h.gid().unwrap_or(0)),
            mtime: pax.mtime.unwrap_or_else(|| h.mtime().unwrap_or(0)),
            xattrs: pax.xattrs,
        })
    }
}

impl<R: Read> Entry<'_, R> {
    /// The header block as read (its own fields, before extensions).
    pub fn header(&self) -> &tar::Header {
        &self.header
    }

    /// The entry's type.
    pub fn kind(&self) -> EntryType {
        self.kind
    }

    /// Its name, as the archive spells it (PAX `path`, a GNU long name or
    /// the header's name and prefix).
    pub fn path_bytes(&self) -> &[u8] {
        &self.path
    }

    /// The target of a symlink or hardlink (`None` when empty).
    pub fn link_bytes(&self) -> Option<&[u8]> {
        self.link.as_deref()
    }

    /// Bytes of data it carries in the archive.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Permission bits (and setuid/setgid/sticky); 0o644 when unreadable.
    pub fn mode(&self) -> u32 {
        self.header.mode().unwrap_or(0o644) & 0o7777
    }

    /// Owner.
    pub fn uid(&self) -> u64 {
        self.uid
    }

    /// Group.
    pub fn gid(&self) -> u64 {
        self.gid
    }

    /// Modification time, seconds since the epoch.
    pub fn mtime(&self) -> u64 {
        self.mtime
    }

    /// A device's major and minor numbers (0 when absent).
    pub fn device(&self) -> (u32, u32) {
        (
            self.header.device_major().ok().flatten().unwrap_or(0),
            self.header.device_minor().ok().flatten().unwrap_or(0),
        )
    }

    /// Extended attributes (PAX `SCHILY.xattr.*`), in archive order.
    pub fn xattrs(&self) -> &[(String, Vec<u8>)] {
        &self.xattrs
    }
}

impl<R: Read> Read for Entry<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let a = &mut *self.archive;
        if a.pending == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(a.pending).unwrap_or(usize::MAX));
        let n = a.r.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "archive is truncated",
            ));
        }
        a.pending -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests;
