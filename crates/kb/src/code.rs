//! The canonical code: one value per code, whatever spelling it arrived in.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A code in canonical form. `Display` prints exactly the contract's canonical spelling.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Code {
    /// Entra ID sign-in error, `AADSTS50076`.
    Aadsts(u32),
    /// Any HRESULT-shaped value: WAM `0xCAA…`, Win32 `0x8007…`, NTSTATUS `0xC000…`, .NET `0x8013…`.
    Hresult(u32),
    /// SIP response code, `SIP 403`.
    Sip(u16),
    /// Teams Direct Routing Microsoft response code (CallEndSubReason), `MSRC 560403`.
    Msrc(u32),
    /// Skype for Business `ms-diagnostics` / `ms-client-diagnostics`, `MS-DIAG 1034`.
    MsDiag(u32),
    /// ISDN Q.850 cause value, `Q850 63`.
    Q850(u16),
    /// OAuth 2.0 error string (lower case), `OAUTH invalid_grant`.
    Oauth(Box<str>),
    /// HTTP status in a sign-in or API context, `HTTP 401`.
    Http(u16),
    /// Teams client or Teams Rooms named code, `TEAMS max_reload_exceeded`.
    Teams(Box<str>),
    /// Lync / Skype for Business client message without a number, `LYNC sign-in-address-not-found`.
    Lync(Box<str>),
    /// Pexip Infinity / Teams Connector message, `PEXIP invalid-bot-data`.
    Pexip(Box<str>),
}

/// The kinds of code, for filtering and for `codes --kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Aadsts,
    Hresult,
    Sip,
    Msrc,
    MsDiag,
    Q850,
    Oauth,
    Http,
    Teams,
    Lync,
    Pexip,
}

impl Kind {
    /// The prefix the canonical form starts with.
    pub fn prefix(self) -> &'static str {
        match self {
            Kind::Aadsts => "AADSTS",
            Kind::Hresult => "0x",
            Kind::Sip => "SIP",
            Kind::Msrc => "MSRC",
            Kind::MsDiag => "MS-DIAG",
            Kind::Q850 => "Q850",
            Kind::Oauth => "OAUTH",
            Kind::Http => "HTTP",
            Kind::Teams => "TEAMS",
            Kind::Lync => "LYNC",
            Kind::Pexip => "PEXIP",
        }
    }
}

impl Code {
    pub fn kind(&self) -> Kind {
        match self {
            Code::Aadsts(_) => Kind::Aadsts,
            Code::Hresult(_) => Kind::Hresult,
            Code::Sip(_) => Kind::Sip,
            Code::Msrc(_) => Kind::Msrc,
            Code::MsDiag(_) => Kind::MsDiag,
            Code::Q850(_) => Kind::Q850,
            Code::Oauth(_) => Kind::Oauth,
            Code::Http(_) => Kind::Http,
            Code::Teams(_) => Kind::Teams,
            Code::Lync(_) => Kind::Lync,
            Code::Pexip(_) => Kind::Pexip,
        }
    }

    /// The numeric part, where the code has one (used to rank near neighbours).
    pub fn number(&self) -> Option<u64> {
        match *self {
            Code::Aadsts(n) | Code::Hresult(n) | Code::Msrc(n) | Code::MsDiag(n) => Some(n.into()),
            Code::Sip(n) | Code::Q850(n) | Code::Http(n) => Some(n.into()),
            _ => None,
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Code::Aadsts(n) => write!(f, "AADSTS{n}"),
            Code::Hresult(n) => write!(f, "0x{n:08X}"),
            Code::Sip(n) => write!(f, "SIP {n}"),
            Code::Msrc(n) => write!(f, "MSRC {n}"),
            Code::MsDiag(n) => write!(f, "MS-DIAG {n}"),
            Code::Q850(n) => write!(f, "Q850 {n}"),
            Code::Oauth(s) => write!(f, "OAUTH {s}"),
            Code::Http(n) => write!(f, "HTTP {n}"),
            Code::Teams(s) => write!(f, "TEAMS {s}"),
            Code::Lync(s) => write!(f, "LYNC {s}"),
            Code::Pexip(s) => write!(f, "PEXIP {s}"),
        }
    }
}

/// The text was not a code in canonical form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not a code in canonical form (for example AADSTS50076, 0xCAA70004, SIP 403, MSRC 560403)")]
pub struct NotCanonical {
    pub text: String,
}

impl FromStr for Code {
    type Err = NotCanonical;

    /// Parses the canonical form only, strictly. Use [`crate::normalize`] for user input.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || NotCanonical { text: s.to_owned() };
        let digits = |t: &str| -> Option<u32> {
            (!t.is_empty()
                && t.len() <= 9
                && t.bytes().all(|b| b.is_ascii_digit())
                && !(t.len() > 1 && t.starts_with('0')))
            .then(|| t.parse().ok())
            .flatten()
        };
        let small = |t: &str| digits(t).and_then(|n| u16::try_from(n).ok());
        let word = |t: &str, ok: fn(u8) -> bool| (!t.is_empty() && t.bytes().all(ok)).then(|| Box::<str>::from(t));
        if let Some(rest) = s.strip_prefix("AADSTS") {
            return digits(rest).map(Code::Aadsts).ok_or_else(err);
        }
        if let Some(rest) = s.strip_prefix("0x") {
            let ok = rest.len() == 8 && rest.bytes().all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b));
            return if ok { u32::from_str_radix(rest, 16).map(Code::Hresult).map_err(|_| err()) } else { Err(err()) };
        }
        let (head, rest) = s.split_once(' ').ok_or_else(err)?;
        let code = match head {
            "SIP" => small(rest).filter(|n| (100..700).contains(n)).map(Code::Sip),
            "MSRC" => digits(rest).map(Code::Msrc),
            "MS-DIAG" => digits(rest).map(Code::MsDiag),
            "Q850" => small(rest).map(Code::Q850),
            "HTTP" => small(rest).filter(|n| (100..600).contains(n)).map(Code::Http),
            "OAUTH" => word(rest, |b| b.is_ascii_lowercase() || b == b'_').map(Code::Oauth),
            "TEAMS" => word(rest, |b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.').map(Code::Teams),
            "LYNC" => word(rest, |b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-').map(Code::Lync),
            "PEXIP" => word(rest, |b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-').map(Code::Pexip),
            _ => None,
        };
        code.ok_or_else(err)
    }
}

impl Serialize for Code {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Code {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}
