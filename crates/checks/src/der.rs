//! A minimal DER reader for the PKCS#12 structures: tag, length, contents. Definite lengths only.

use std::fmt::Write as _;

pub const INTEGER: u8 = 0x02;
pub const OCTET_STRING: u8 = 0x04;
pub const OID: u8 = 0x06;
pub const SEQUENCE: u8 = 0x30;
pub const SET: u8 = 0x31;
pub const BMP_STRING: u8 = 0x1e;
pub const UTF8_STRING: u8 = 0x0c;
/// `[0]` constructed, as in an EXPLICIT context tag.
pub const CONTEXT_0: u8 = 0xa0;
/// `[0]` primitive, as in an IMPLICIT OCTET STRING.
pub const CONTEXT_0_PRIMITIVE: u8 = 0x80;

/// One tag-length-value.
#[derive(Debug, Clone, Copy)]
pub struct Tlv<'a> {
    pub tag: u8,
    pub content: &'a [u8],
}

/// Reads TLVs one after another from a byte slice.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Reader { data }
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The next TLV, whatever its tag.
    pub fn any(&mut self) -> Result<Tlv<'a>, String> {
        let (&tag, rest) = self.data.split_first().ok_or("unexpected end of data")?;
        if tag & 0x1f == 0x1f {
            return Err("multi-byte tags are not used here".into());
        }
        let (&first, rest) = rest.split_first().ok_or("missing length")?;
        let (len, rest) = if first < 0x80 {
            (first as usize, rest)
        } else {
            if first == 0x80 {
                return Err("indefinite (BER) lengths are not supported".into());
            }
            let n = (first & 0x7f) as usize;
            if n > 4 || rest.len() < n {
                return Err("bad length".into());
            }
            let len = rest[..n].iter().fold(0usize, |acc, &b| (acc << 8) | b as usize);
            (len, &rest[n..])
        };
        if rest.len() < len {
            return Err("length runs past the end of the data".into());
        }
        let (content, rest) = rest.split_at(len);
        self.data = rest;
        Ok(Tlv { tag, content })
    }

    /// The next TLV, which must carry `tag`.
    pub fn expect(&mut self, tag: u8) -> Result<&'a [u8], String> {
        let tlv = self.any()?;
        if tlv.tag == tag {
            Ok(tlv.content)
        } else {
            Err(format!("expected tag 0x{tag:02x}, found 0x{:02x}", tlv.tag))
        }
    }

    /// The next TLV if it carries `tag`, else nothing is consumed.
    pub fn optional(&mut self, tag: u8) -> Result<Option<&'a [u8]>, String> {
        if self.data.first() == Some(&tag) {
            self.expect(tag).map(Some)
        } else {
            Ok(None)
        }
    }

    /// The next OBJECT IDENTIFIER in dotted form.
    pub fn oid(&mut self) -> Result<String, String> {
        oid_to_string(self.expect(OID)?)
    }

    /// The next INTEGER as an unsigned number (at most 8 bytes).
    pub fn small_uint(&mut self) -> Result<u64, String> {
        let bytes = self.expect(INTEGER)?;
        if bytes.is_empty() || bytes.len() > 9 || (bytes.len() == 9 && bytes[0] != 0) || bytes[0] & 0x80 != 0 {
            return Err("integer out of range".into());
        }
        Ok(bytes.iter().fold(0u64, |acc, &b| (acc << 8) | b as u64))
    }
}

/// Dotted-decimal form of an OID's content bytes.
pub fn oid_to_string(bytes: &[u8]) -> Result<String, String> {
    let mut arcs = Vec::new();
    let mut value: u64 = 0;
    for (i, &b) in bytes.iter().enumerate() {
        value = value.checked_mul(128).ok_or("OID arc too large")? | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            arcs.push(value);
            value = 0;
        } else if i == bytes.len() - 1 {
            return Err("truncated OID".into());
        }
    }
    let first = *arcs.first().ok_or("empty OID")?;
    let (a, b) = if first < 40 {
        (0, first)
    } else if first < 80 {
        (1, first - 40)
    } else {
        (2, first - 80)
    };
    let mut s = format!("{a}.{b}");
    for arc in &arcs[1..] {
        let _ = write!(s, ".{arc}");
    }
    Ok(s)
}

/// A BMPString (UTF-16 big-endian) as a Rust string.
pub fn bmp_to_string(bytes: &[u8]) -> String {
    let units: Vec<u16> = bytes.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect();
    String::from_utf16_lossy(&units)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_oid_and_lengths() {
        // SEQUENCE { OID 1.2.840.113549.1.12.10.1.3 }
        let data = [0x30, 0x0d, 0x06, 0x0b, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x0c, 0x0a, 0x01, 0x03];
        let mut r = Reader::new(&data);
        let mut inner = Reader::new(r.expect(SEQUENCE).unwrap());
        assert_eq!(inner.oid().unwrap(), "1.2.840.113549.1.12.10.1.3");
        assert!(r.is_empty());
        let long = [0x04, 0x81, 0x02, 0xaa, 0xbb];
        assert_eq!(Reader::new(&long).expect(OCTET_STRING).unwrap(), &[0xaa, 0xbb]);
        assert!(Reader::new(&[0x30, 0x80, 0, 0]).any().is_err());
        assert!(Reader::new(&[0x04, 0x05, 1]).any().is_err());
    }
}
