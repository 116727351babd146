//! The DNS wire format, as much of it as the embedded server needs (RFC
//! 1035 §4): a query's header and single question read, and a reply with A,
//! AAAA (RFC 3596) or PTR records written. Everything read comes from a
//! container, so every read is bounded and a malformed packet is an error,
//! never a panic.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The header's length.
pub const HEADER: usize = 12;
/// Longest name, in wire bytes (RFC 1035 §2.3.4).
const MAX_NAME: usize = 255;
/// Longest label (RFC 1035 §2.3.4).
const MAX_LABEL: usize = 63;
/// TTL of the answers for containers' names, Docker's (moby
/// `libnetwork/resolver.go`, `respTTL`).
pub const TTL: u32 = 600;

/// Record type A.
pub const TYPE_A: u16 = 1;
/// Record type PTR.
pub const TYPE_PTR: u16 = 12;
/// Record type AAAA.
pub const TYPE_AAAA: u16 = 28;
/// QTYPE `*`.
pub const TYPE_ANY: u16 = 255;
/// Class IN.
pub const CLASS_IN: u16 = 1;
/// Class ANY (QCLASS `*`).
pub const CLASS_ANY: u16 = 255;

/// Response codes (RFC 1035 §4.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Rcode {
    /// No error.
    NoError = 0,
    /// The query could not be read.
    FormErr = 1,
    /// The server failed (no upstream answered).
    ServFail = 2,
    /// The name does not exist.
    NxDomain = 3,
    /// The kind of query is not implemented.
    NotImp = 4,
}

/// Why a packet is not a query the server answers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Shorter than a header.
    #[error("packet shorter than a DNS header ({0} bytes)")]
    Short(usize),
    /// The QR bit says it is a response.
    #[error("not a query")]
    NotQuery,
    /// An opcode other than QUERY.
    #[error("opcode {0} is not QUERY")]
    Opcode(u8),
    /// Not exactly one question (what every resolver sends).
    #[error("{0} questions, not one")]
    QuestionCount(u16),
    /// The question runs past the packet's end.
    #[error("question truncated")]
    Truncated,
    /// A label longer than 63 bytes (or the reserved 0x40/0x80 kinds).
    #[error("label too long or of a reserved kind")]
    Label,
    /// A name longer than 255 bytes.
    #[error("name too long")]
    NameTooLong,
    /// A compression pointer in the question: queries do not compress
    /// their only name, and refusing them rules out pointer loops.
    #[error("compressed name in a question")]
    Compressed,
}

/// A query's one question, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// The query's id.
    pub id: u16,
    /// Whether recursion is desired (copied into the reply).
    pub rd: bool,
    /// The name, lower case, without the final dot (`""` is the root).
    pub name: String,
    /// QTYPE.
    pub qtype: u16,
    /// QCLASS.
    pub qclass: u16,
    /// The question's bytes as sent (name, type, class), echoed in a reply.
    pub question: Vec<u8>,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// Reads a query: the header and its single question. What follows the
/// question (an EDNS OPT record) is ignored.
pub fn parse_query(pkt: &[u8]) -> Result<Query, WireError> {
    if pkt.len() < HEADER {
        return Err(WireError::Short(pkt.len()));
    }
    let flags = u16::from_be_bytes([pkt[2], pkt[3]]);
    if flags & 0x8000 != 0 {
        return Err(WireError::NotQuery);
    }
    let opcode = ((flags >> 11) & 0xf) as u8;
    if opcode != 0 {
        return Err(WireError::Opcode(opcode));
    }
    let qdcount = u16::from_be_bytes([pkt[4], pkt[5]]);
    if qdcount != 1 {
        return Err(WireError::QuestionCount(qdcount));
    }
    let mut at = HEADER;
    let mut name = String::new();
    loop {
        let len = usize::from(*pkt.get(at).ok_or(WireError::Truncated)?);
        at += 1;
        if len == 0 {
            break;
        }
        if len & 0xc0 == 0xc0 {
            return Err(WireError::Compressed);
        }
        if len > MAX_LABEL {
            return Err(WireError::Label);
        }
        let label = pkt.get(at..at + len).ok_or(WireError::Truncated)?;
        at += len;
        if at - HEADER > MAX_NAME {
            return Err(WireError::NameTooLong);
        }
        if !name.is_empty() {
            name.push('.');
        }
        // Bytes outside printable ASCII cannot match a container's name;
        // they are kept escaped so that they match nothing.
        for &c in label {
            if c.is_ascii_graphic() && c != b'.' && c != b'\\' {
                name.push(char::from(c.to_ascii_lowercase()));
            } else {
                name.push_str(&format!("\\{c:03}"));
            }
        }
    }
    let qtype = u16_at(pkt, at).ok_or(WireError::Truncated)?;
    let qclass = u16_at(pkt, at + 2).ok_or(WireError::Truncated)?;
    Ok(Query {
        id: u16::from_be_bytes([pkt[0], pkt[1]]),
        rd: flags & 0x0100 != 0,
        name,
        qtype,
        qclass,
        question: pkt[HEADER..at + 4].to_vec(),
    })
}

/// One answer record, for the question's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// An IPv4 address.
    A(Ipv4Addr),
    /// An IPv6 address.
    Aaaa(Ipv6Addr),
    /// A name (a reverse lookup's answer), without the final dot.
    Ptr(String),
}

/// Most answers in one reply: a name has one address per network it is
/// on; a reply stays far below 512 bytes.
const MAX_ANSWERS: usize = 16;

/// A reply to `q` with `rcode` and an A record for each of `ips`.
pub fn reply(q: &Query, rcode: Rcode, ips: &[Ipv4Addr]) -> Vec<u8> {
    let records: Vec<Record> = ips.iter().map(|ip| Record::A(*ip)).collect();
    reply_records(q, rcode, &records)
}

/// A name in wire form (labels, then a zero byte); labels longer than 63
/// bytes are cut, names longer than 255 bytes end early.
fn encode_name(name: &str, out: &mut Vec<u8>) {
    let start = out.len();
    for label in name.split('.').filter(|l| !l.is_empty()) {
        let l = &label.as_bytes()[..label.len().min(MAX_LABEL)];
        if out.len() - start + l.len() + 2 > MAX_NAME {
            break;
        }
        out.push(l.len() as u8);
        out.extend_from_slice(l);
    }
    out.push(0);
}

/// A reply to `q` with `rcode` and `records` (at most [`MAX_ANSWERS`]).
pub fn reply_records(q: &Query, rcode: Rcode, records: &[Record]) -> Vec<u8> {
    let records = &records[..records.len().min(MAX_ANSWERS)];
    let mut out = Vec::with_capacity(HEADER + q.question.len() + 32 * records.len());
    out.extend_from_slice(&q.id.to_be_bytes());
    // QR, AA (the server is the authority for containers' names), RD as
    // asked, RA.
    let mut flags: u16 = 0x8000 | 0x0400 | 0x0080 | rcode as u16;
    if q.rd {
        flags |= 0x0100;
    }
    out.extend_from_slice(&flags.to_be_bytes());
    let ancount = records.len() as u16;
    for n in [1u16, ancount, 0, 0] {
        out.extend_from_slice(&n.to_be_bytes());
    }
    out.extend_from_slice(&q.question);
    for r in records {
        // The name: a pointer to the question's, at offset 12.
        out.extend_from_slice(&[0xc0, 0x0c]);
        let (typ, data) = match r {
            Record::A(ip) => (TYPE_A, ip.octets().to_vec()),
            Record::Aaaa(ip) => (TYPE_AAAA, ip.octets().to_vec()),
            Record::Ptr(name) => {
                let mut d = Vec::new();
                encode_name(name, &mut d);
                (TYPE_PTR, d)
            }
        };
        out.extend_from_slice(&typ.to_be_bytes());
        out.extend_from_slice(&CLASS_IN.to_be_bytes());
        out.extend_from_slice(&TTL.to_be_bytes());
        out.extend_from_slice(&(data.len() as u16).to_be_bytes());
        out.extend_from_slice(&data);
    }
    out
}

/// The address a reverse-lookup name asks for: `4.3.2.1.in-addr.arpa`
/// (IPv4) or the 32 nibbles of `….ip6.arpa` (IPv6); `None` for any other
/// name, or a partial one.
pub fn reverse_ip(name: &str) -> Option<IpAddr> {
    if let Some(v4) = name.strip_suffix(".in-addr.arpa") {
        let mut o: Vec<u8> = v4
            .split('.')
            .map(|p| p.parse().ok())
            .collect::<Option<Vec<u8>>>()?;
        if o.len() != 4 {
            return None;
        }
        o.reverse();
        return Some(IpAddr::V4(Ipv4Addr::new(o[0], o[1], o[2], o[3])));
    }
    let v6 = name.strip_suffix(".ip6.arpa")?;
    let nibbles: Vec<u8> = v6
        .split('.')
        .map(|n| {
            (n.len() == 1)
                .then(|| u8::from_str_radix(n, 16).ok())
                .flatten()
        })
        .collect::<Option<Vec<u8>>>()?;
    if nibbles.len() != 32 {
        return None;
    }
    let mut v: u128 = 0;
    for n in nibbles.iter().rev() {
        v = (v << 4) | u128::from(*n);
    }
    Some(IpAddr::V6(Ipv6Addr::from(v)))
}

/// A bare error reply (no question) to a packet whose header could be
/// read but whose question could not: `None` when it is no query at all
/// (too short, or a response, which is never answered: no reflection).
pub fn error_reply(pkt: &[u8], rcode: Rcode) -> Option<Vec<u8>> {
    let head = pkt.get(..HEADER)?;
    if head[2] & 0x80 != 0 {
        return None;
    }
    let mut out = vec![0u8; HEADER];
    out[..2].copy_from_slice(&head[..2]);
    // QR, the opcode as sent, RD as sent, RA.
    out[2] = 0x80 | (head[2] & 0x79);
    out[3] = 0x80 | rcode as u8;
    Some(out)
}

/// The id of a reply (for matching an upstream's answer to the query).
pub fn id_of(pkt: &[u8]) -> Option<u16> {
    u16_at(pkt, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A query for `name` of type `qtype`, id 0x1234, RD set.
    pub(crate) fn query(name: &str, qtype: u16) -> Vec<u8> {
        let mut p = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        for l in name.split('.').filter(|l| !l.is_empty()) {
            p.push(l.len() as u8);
            p.extend_from_slice(l.as_bytes());
        }
        p.push(0);
        p.extend_from_slice(&qtype.to_be_bytes());
        p.extend_from_slice(&CLASS_IN.to_be_bytes());
        p
    }

    #[test]
    fn reads_a_query_and_answers_it() {
        let p = query("Web.Example.", TYPE_A);
        let q = parse_query(&p).unwrap();
        assert_eq!(q.name, "web.example");
        assert_eq!((q.id, q.rd, q.qtype, q.qclass), (0x1234, true, 1, 1));
        let r = reply(&q, Rcode::NoError, &["10.0.0.2".parse().unwrap()]);
        assert_eq!(&r[..4], &[0x12, 0x34, 0x85, 0x80]);
        assert_eq!(&r[4..12], &[0, 1, 0, 1, 0, 0, 0, 0]);
        assert_eq!(&r[12..12 + q.question.len()], &p[12..]);
        assert_eq!(&r[r.len() - 4..], &[10, 0, 0, 2]);
        let nx = reply(&q, Rcode::NxDomain, &[]);
        assert_eq!(nx[3] & 0xf, 3);
        assert_eq!(&nx[6..8], &[0, 0]);
    }

    #[test]
    fn refuses_malformed_packets() {
        let good = query("a.b", TYPE_A);
        let mut response = good.clone();
        response[2] |= 0x80;
        let mut two = good.clone();
        two[5] = 2;
        let mut notify = good.clone();
        notify[2] |= 4 << 3;
        let mut long_label = good[..12].to_vec();
        long_label.push(64);
        long_label.extend_from_slice(&[b'a'; 64]);
        long_label.extend_from_slice(&[0, 0, 1, 0, 1]);
        let mut pointer = good[..12].to_vec();
        pointer.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
        let mut long_name = good[..12].to_vec();
        for _ in 0..5 {
            long_name.push(63);
            long_name.extend_from_slice(&[b'x'; 63]);
        }
        long_name.extend_from_slice(&[0, 0, 1, 0, 1]);
        for (pkt, want) in [
            (vec![], WireError::Short(0)),
            (good[..11].to_vec(), WireError::Short(11)),
            (response, WireError::NotQuery),
            (two, WireError::QuestionCount(2)),
            (notify, WireError::Opcode(4)),
            (good[..good.len() - 1].to_vec(), WireError::Truncated),
            (good[..14].to_vec(), WireError::Truncated),
            (long_label, WireError::Label),
            (pointer, WireError::Compressed),
            (long_name, WireError::NameTooLong),
        ] {
            assert_eq!(parse_query(&pkt), Err(want), "{pkt:?}");
        }
        assert_eq!(error_reply(&good[..5], Rcode::FormErr), None);
        let e = error_reply(&good, Rcode::FormErr).unwrap();
        assert_eq!(e, vec![0x12, 0x34, 0x81, 0x81, 0, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn aaaa_ptr_and_reverse_names() {
        let q = parse_query(&query("web", TYPE_AAAA)).unwrap();
        let r = reply_records(
            &q,
            Rcode::NoError,
            &[Record::Aaaa("fd00::2".parse().unwrap())],
        );
        assert_eq!(&r[6..8], &[0, 1]);
        let ip6: Ipv6Addr = "fd00::2".parse().unwrap();
        assert_eq!(&r[r.len() - 16..], &ip6.octets());
        let q = parse_query(&query("2.0.20.10.in-addr.arpa", TYPE_PTR)).unwrap();
        assert_eq!(reverse_ip(&q.name), Some("10.20.0.2".parse().unwrap()));
        let r = reply_records(&q, Rcode::NoError, &[Record::Ptr("web.front".into())]);
        assert!(r.ends_with(b"\x03web\x05front\x00"), "{r:?}");
        let six = "2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa";
        assert_eq!(reverse_ip(six), Some("fd00::2".parse().unwrap()));
        for bad in [
            "1.2.3.in-addr.arpa",
            "a.2.3.4.in-addr.arpa",
            "256.2.3.4.in-addr.arpa",
            "2.0.ip6.arpa",
            "example.com",
        ] {
            assert_eq!(reverse_ip(bad), None, "{bad}");
        }
    }

    /// Every prefix and many byte flips of real queries: errors, no panic,
    /// and whatever parses gives a reply that parses back as a header.
    #[test]
    fn fuzzish_inputs_never_panic() {
        let mut seed: u32 = 0x9e37_79b9;
        let mut rand = move || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed
        };
        let bases = [
            query("web", TYPE_A),
            query("a.very.long.name.of.several.labels", 28),
            query("", 2),
        ];
        for base in &bases {
            for n in 0..=base.len() {
                let _ = parse_query(&base[..n]);
            }
            for _ in 0..20_000 {
                let mut p = base.clone();
                for _ in 0..1 + rand() % 4 {
                    let i = rand() as usize % p.len();
                    p[i] = rand() as u8;
                }
                if rand() % 3 == 0 {
                    p.truncate(rand() as usize % (p.len() + 1));
                }
                if let Ok(q) = parse_query(&p) {
                    let r = reply(&q, Rcode::NoError, &[Ipv4Addr::LOCALHOST]);
                    assert_eq!(id_of(&r), Some(q.id));
                }
                let _ = error_reply(&p, Rcode::FormErr);
            }
        }
        // Random garbage of every small length.
        for len in 0..600 {
            let p: Vec<u8> = (0..len).map(|_| rand() as u8).collect();
            let _ = parse_query(&p);
        }
    }
}
