//! The DNS wire format, as much of it as the embedded server needs (RFC
//! 1035 §4): a query's header and single question read, and a reply with A
//! records written. Everything read comes from a container, so every read
//! is bounded and a malformed packet is an error, never a panic.

use std::net::Ipv4Addr;

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

/// A reply to `q` with `rcode` and an A record for each of `ips`.
pub fn reply(q: &Query, rcode: Rcode, ips: &[Ipv4Addr]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + q.question.len() + 16 * ips.len());
    out.extend_from_slice(&q.id.to_be_bytes());
    // QR, AA (the server is the authority for containers' names), RD as
    // asked, RA.
    let mut flags: u16 = 0x8000 | 0x0400 | 0x0080 | rcode as u16;
    if q.rd {
        flags |= 0x0100;
    }
    out.extend_from_slice(&flags.to_be_bytes());
    let ancount = u16::try_from(ips.len()).unwrap_or(u16::MAX);
    for n in [1u16, ancount, 0, 0] {
        out.extend_from_slice(&n.to_be_bytes());
    }
    out.extend_from_slice(&q.question);
    for ip in ips.iter().take(usize::from(ancount)) {
        // The name: a pointer to the question's, at offset 12.
        out.extend_from_slice(&[0xc0, 0x0c]);
        out.extend_from_slice(&TYPE_A.to_be_bytes());
        out.extend_from_slice(&CLASS_IN.to_be_bytes());
        out.extend_from_slice(&TTL.to_be_bytes());
        out.extend_from_slice(&4u16.to_be_bytes());
        out.extend_from_slice(&ip.octets());
    }
    out
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
