use super::*;

/// A GNU header of `kind` for `name` with `size`, checksum set.
fn header(kind: EntryType, name: &[u8], size: u64) -> [u8; 512] {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(0o644);
    h.set_size(size);
    let n = name.len().min(100);
    h.as_old_mut().name[..n].copy_from_slice(&name[..n]);
    h.set_cksum();
    *h.as_bytes()
}

fn padded(data: &[u8]) -> Vec<u8> {
    let mut v = data.to_vec();
    v.resize(data.len().div_ceil(512) * 512, 0);
    v
}

/// An entry read back: name, link target, data.
type Read3 = (String, Option<String>, Vec<u8>);

fn names(tar: &[u8]) -> Result<Vec<Read3>, Error> {
    let mut a = Archive::new(tar);
    let mut out = Vec::new();
    while let Some(mut e) = a.next_entry()? {
        let mut data = Vec::new();
        e.read_to_end(&mut data)?;
        out.push((
            String::from_utf8_lossy(e.path_bytes()).into_owned(),
            e.link_bytes()
                .map(|l| String::from_utf8_lossy(l).into_owned()),
            data,
        ));
    }
    Ok(out)
}

#[test]
fn reads_what_the_tar_crate_writes() {
    let long = "d/".repeat(120) + "file";
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(5);
    h.set_mode(0o4755);
    b.append_data(&mut h, &long, &b"hello"[..]).unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(EntryType::Symlink);
    b.append_link(&mut h, "ln", "t/".repeat(80)).unwrap();
    b.append_pax_extensions([("SCHILY.xattr.user.k", &b"v\0w"[..]), ("mtime", b"17.5")])
        .unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_size(2);
    h.set_mtime(3);
    b.append_data(&mut h, "x", &b"ab"[..]).unwrap();
    let tar = b.into_inner().unwrap();
    assert_eq!(
        names(&tar).unwrap(),
        [
            (long.clone(), None, b"hello".to_vec()),
            ("ln".into(), Some("t/".repeat(80)), vec![]),
            ("x".into(), None, b"ab".to_vec()),
        ]
    );
    let mut a = Archive::new(tar.as_slice());
    let e = a.next_entry().unwrap().unwrap();
    assert_eq!(e.mode(), 0o4755);
    let _ = a.next_entry().unwrap().unwrap();
    let e = a.next_entry().unwrap().unwrap();
    assert_eq!(e.xattrs(), [("user.k".to_string(), b"v\0w".to_vec())]);
    assert_eq!(e.mtime(), 17);
}

/// The memory bomb of issue 15: a long name declared at 8 GiB is refused
/// from its header, before a byte of it is read.
#[test]
fn huge_metadata_headers_are_refused_from_the_header() {
    for (kind, what) in [
        (EntryType::GNULongName, "GNU long name"),
        (EntryType::GNULongLink, "GNU long link"),
        (EntryType::XHeader, "PAX header"),
        (EntryType::XGlobalHeader, "PAX global header"),
    ] {
        let tar = header(kind, b"././@LongLink", 8 << 30);
        // Only the header: nothing after it is ever read.
        let err = names(&tar).unwrap_err();
        assert!(
            err.to_string()
                .contains(&format!("{what} of 8589934592 bytes is over the limit")),
            "{err}"
        );
    }
    // At the bound it is read.
    let mut tar = header(EntryType::GNULongName, b"././@LongLink", MAX_META_BYTES).to_vec();
    tar.extend(vec![b'a'; MAX_META_BYTES as usize]);
    tar.extend(header(EntryType::Regular, b"short", 0));
    let got = names(&tar).unwrap();
    assert_eq!(got[0].0.len(), MAX_META_BYTES as usize);
}

#[test]
fn pax_size_overrides_the_header() {
    let mut tar = Vec::new();
    let rec = b"12 size=700\n";
    tar.extend(header(EntryType::XHeader, b"pax", rec.len() as u64));
    tar.extend(padded(rec));
    // The header says 0 (as Go writes for files over 8 GiB): PAX says 700.
    tar.extend(header(EntryType::Regular, b"big", 0));
    tar.extend(padded(&[7u8; 700]));
    tar.extend(header(EntryType::Regular, b"next", 1));
    tar.extend(padded(b"n"));
    let got = names(&tar).unwrap();
    assert_eq!(got[0].2, vec![7u8; 700]);
    assert_eq!(
        (got[1].0.as_str(), got[1].2.as_slice()),
        ("next", &b"n"[..])
    );
}

#[test]
fn broken_streams_are_errors_not_panics() {
    let good = {
        let mut v = header(EntryType::Regular, b"f", 3).to_vec();
        v.extend(padded(b"abc"));
        v
    };
    // Truncated in the header and in the data.
    assert!(matches!(names(&good[..100]), Err(Error::Truncated)));
    assert!(names(&good[..514]).is_err());
    // A bad checksum.
    let mut bad_sum = good.clone();
    bad_sum[0] = b'g';
    assert!(matches!(names(&bad_sum), Err(Error::Checksum)));
    // Extension headers with nothing after them.
    let mut dangling = header(EntryType::GNULongName, b"././@LongLink", 3).to_vec();
    dangling.extend(padded(b"abc"));
    assert!(names(&dangling).is_err());
    // Two long names for one member.
    let mut two = dangling.clone();
    two.extend(dangling.clone());
    two.extend(good.clone());
    assert!(names(&two)
        .unwrap_err()
        .to_string()
        .contains("two long names"));
    // Malformed PAX records.
    for rec in [&b"99 path=x\n"[..], b"x path=y\n", b"9 pathx\n\n", b"3 a\n"] {
        let mut t = header(EntryType::XHeader, b"pax", rec.len() as u64).to_vec();
        t.extend(padded(rec));
        t.extend(good.clone());
        assert!(names(&t).is_err(), "{}", String::from_utf8_lossy(rec));
    }
    // An empty stream and a zero block are empty archives.
    assert!(names(&[]).unwrap().is_empty());
    assert!(names(&[0u8; 1024]).unwrap().is_empty());
}

#[test]
fn sparse_extension_blocks_are_skipped() {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(EntryType::GNUSparse);
    h.set_size(512);
    h.as_old_mut().name[..2].copy_from_slice(b"sp");
    h.as_gnu_mut().unwrap().set_is_extended(true);
    h.set_cksum();
    let mut tar = h.as_bytes().to_vec();
    let mut ext = [0u8; 512];
    ext[504] = 1;
    tar.extend(ext);
    tar.extend([0u8; 512]); // the last extension block
    tar.extend([9u8; 512]); // the data
    tar.extend(header(EntryType::Regular, b"after", 0));
    let mut a = Archive::new(tar.as_slice());
    let e = a.next_entry().unwrap().unwrap();
    assert_eq!(e.kind(), EntryType::GNUSparse);
    drop(e);
    let e = a.next_entry().unwrap().unwrap();
    assert_eq!(e.path_bytes(), b"after");
}

#[test]
fn ustar_prefix_and_global_headers() {
    let mut h = tar::Header::new_ustar();
    h.set_size(0);
    h.as_ustar_mut().unwrap().prefix[..3].copy_from_slice(b"pre");
    h.as_old_mut().name[..4].copy_from_slice(b"name");
    h.set_cksum();
    let rec = b"15 comment=hey\n\0";
    let mut tar = header(EntryType::XGlobalHeader, b"g", rec.len() as u64).to_vec();
    tar.extend(padded(rec));
    tar.extend(h.as_bytes());
    assert_eq!(names(&tar).unwrap()[0].0, "pre/name");
}
