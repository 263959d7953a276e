//! STUN binding requests and responses (RFC 5389), written by hand: the header, the magic cookie,
//! the transaction ID and the (XOR-)MAPPED-ADDRESS attribute are all a reachability probe needs.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The fixed value in every RFC 5389 message.
pub const MAGIC_COOKIE: u32 = 0x2112_a442;
const BINDING_REQUEST: u16 = 0x0001;
const BINDING_SUCCESS: u16 = 0x0101;
const BINDING_ERROR: u16 = 0x0111;
const ATTR_MAPPED_ADDRESS: u16 = 0x0001;
const ATTR_XOR_MAPPED_ADDRESS: u16 = 0x0020;
const ATTR_ERROR_CODE: u16 = 0x0009;

/// A binding request with no attributes.
pub fn binding_request(transaction_id: [u8; 12]) -> [u8; 20] {
    let mut msg = [0u8; 20];
    msg[0..2].copy_from_slice(&BINDING_REQUEST.to_be_bytes());
    // Message length (attributes only): zero.
    msg[4..8].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
    msg[8..20].copy_from_slice(&transaction_id);
    msg
}

/// What a relay answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StunResponse {
    /// A binding success, with the address the relay saw us at when it said.
    Success { mapped: Option<SocketAddr> },
    /// A binding error response (e.g. 401 from a relay that wants credentials) — it still proves
    /// the path works.
    Error { code: u16 },
}

/// Parse a response to the request with `transaction_id`; `None` for anything else (another
/// transaction, not STUN, truncated).
pub fn parse_binding_response(msg: &[u8], transaction_id: &[u8; 12]) -> Option<StunResponse> {
    if msg.len() < 20 || msg[0] & 0xc0 != 0 {
        return None;
    }
    let kind = u16::from_be_bytes([msg[0], msg[1]]);
    let len = u16::from_be_bytes([msg[2], msg[3]]) as usize;
    if u32::from_be_bytes([msg[4], msg[5], msg[6], msg[7]]) != MAGIC_COOKIE || &msg[8..20] != transaction_id {
        return None;
    }
    let attrs = msg.get(20..20 + len)?;
    match kind {
        BINDING_SUCCESS => {
            let mut mapped = None;
            for (t, value) in attributes(attrs) {
                match t {
                    ATTR_XOR_MAPPED_ADDRESS => mapped = decode_address(value, Some(transaction_id)).or(mapped),
                    ATTR_MAPPED_ADDRESS if mapped.is_none() => mapped = decode_address(value, None),
                    _ => {}
                }
            }
            Some(StunResponse::Success { mapped })
        }
        BINDING_ERROR => {
            let code = attributes(attrs)
                .find(|(t, _)| *t == ATTR_ERROR_CODE)
                .and_then(|(_, v)| (v.len() >= 4).then(|| u16::from(v[2] & 0x07) * 100 + u16::from(v[3])))
                .unwrap_or(0);
            Some(StunResponse::Error { code })
        }
        _ => None,
    }
}

fn attributes(mut data: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        if data.len() < 4 {
            return None;
        }
        let t = u16::from_be_bytes([data[0], data[1]]);
        let len = u16::from_be_bytes([data[2], data[3]]) as usize;
        let value = data.get(4..4 + len)?;
        let padded = (4 + len + 3) & !3;
        data = data.get(padded..).unwrap_or(&[]);
        Some((t, value))
    })
}

fn decode_address(v: &[u8], xor_with: Option<&[u8; 12]>) -> Option<SocketAddr> {
    if v.len() < 8 {
        return None;
    }
    let cookie = MAGIC_COOKIE.to_be_bytes();
    let mut port = u16::from_be_bytes([v[2], v[3]]);
    if xor_with.is_some() {
        port ^= (MAGIC_COOKIE >> 16) as u16;
    }
    let ip = match v[1] {
        0x01 => {
            let mut b = [v[4], v[5], v[6], v[7]];
            if xor_with.is_some() {
                for (x, c) in b.iter_mut().zip(cookie) {
                    *x ^= c;
                }
            }
            IpAddr::V4(Ipv4Addr::from(b))
        }
        0x02 if v.len() >= 20 => {
            let mut b: [u8; 16] = v[4..20].try_into().ok()?;
            if let Some(tid) = xor_with {
                let key: Vec<u8> = cookie.iter().chain(tid.iter()).copied().collect();
                for (x, k) in b.iter_mut().zip(key) {
                    *x ^= k;
                }
            }
            IpAddr::V6(Ipv6Addr::from(b))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// Encode a binding success carrying XOR-MAPPED-ADDRESS for `peer` (used by test responders).
pub fn binding_success(transaction_id: &[u8; 12], peer: SocketAddr) -> Vec<u8> {
    let cookie = MAGIC_COOKIE.to_be_bytes();
    let mut value = vec![0u8, if peer.is_ipv4() { 1 } else { 2 }];
    value.extend_from_slice(&(peer.port() ^ (MAGIC_COOKIE >> 16) as u16).to_be_bytes());
    match peer.ip() {
        IpAddr::V4(a) => value.extend(a.octets().iter().zip(cookie).map(|(x, c)| x ^ c)),
        IpAddr::V6(a) => {
            value.extend(a.octets().iter().zip(cookie.iter().chain(transaction_id.iter())).map(|(x, k)| x ^ k));
        }
    }
    let mut msg = Vec::with_capacity(20 + 4 + value.len());
    msg.extend_from_slice(&BINDING_SUCCESS.to_be_bytes());
    msg.extend_from_slice(&((4 + value.len()) as u16).to_be_bytes());
    msg.extend_from_slice(&cookie);
    msg.extend_from_slice(transaction_id);
    msg.extend_from_slice(&ATTR_XOR_MAPPED_ADDRESS.to_be_bytes());
    msg.extend_from_slice(&(value.len() as u16).to_be_bytes());
    msg.extend_from_slice(&value);
    msg
}

/// Whether `msg` is a binding request, and its transaction ID.
pub fn parse_binding_request(msg: &[u8]) -> Option<[u8; 12]> {
    (msg.len() >= 20
        && u16::from_be_bytes([msg[0], msg[1]]) == BINDING_REQUEST
        && u32::from_be_bytes([msg[4], msg[5], msg[6], msg[7]]) == MAGIC_COOKIE)
        .then(|| msg[8..20].try_into().ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let tid = [7u8; 12];
        let req = binding_request(tid);
        assert_eq!(&req[..4], &[0, 1, 0, 0]);
        assert_eq!(parse_binding_request(&req), Some(tid));
        for peer in ["203.0.113.9:40000", "[2001:db8::5]:3478"] {
            let peer: SocketAddr = peer.parse().unwrap();
            let resp = binding_success(&tid, peer);
            assert_eq!(parse_binding_response(&resp, &tid), Some(StunResponse::Success { mapped: Some(peer) }));
            assert_eq!(parse_binding_response(&resp, &[8u8; 12]), None);
        }
    }

    #[test]
    fn rfc5769_sample_response() {
        // RFC 5769 section 2.2: IPv4 response, XOR-MAPPED-ADDRESS 192.0.2.1:32853 (other attributes
        // stripped and the length adjusted).
        let tid = [0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae];
        let mut msg = vec![0x01, 0x01, 0x00, 0x0c, 0x21, 0x12, 0xa4, 0x42];
        msg.extend_from_slice(&tid);
        msg.extend_from_slice(&[0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43]);
        let expected: SocketAddr = "192.0.2.1:32853".parse().unwrap();
        assert_eq!(parse_binding_response(&msg, &tid), Some(StunResponse::Success { mapped: Some(expected) }));
    }
}
