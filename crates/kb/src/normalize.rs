//! From any spelling an admin pastes to the canonical [`Code`].
//!
//! [`candidates`] lists every reading of a text, most likely first; [`normalize`] picks one reading
//! for a known context (a reader that knows it is looking at a sign-in log passes
//! [`Context::SignIn`], so a bare `50076` becomes `AADSTS50076`). The parser is hand-written and
//! allocation-light because it sits on the hot path of every reader.

use crate::code::{Code, Kind};

/// What the surrounding text says about a bare value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Context {
    /// Nothing known: every reading is possible.
    #[default]
    Any,
    /// An Entra sign-in error column or field: bare numbers are AADSTS codes.
    SignIn,
    /// A SIP message or call record: `403 Forbidden` is a SIP response, six digits are an MSRC.
    Sip,
    /// An HTTP response or API error field: three digits are an HTTP status.
    Http,
    /// A Windows or WAM error field: numbers are HRESULT values.
    Hresult,
}

/// Whether `context` ranks `kind` above the others.
pub fn prefers(context: Context, kind: Kind) -> bool {
    context.preferred().contains(&kind)
}

impl Context {
    fn preferred(self) -> &'static [Kind] {
        match self {
            Context::Any => &[],
            Context::SignIn => &[Kind::Aadsts, Kind::Hresult, Kind::Oauth],
            Context::Sip => &[Kind::Sip, Kind::Msrc, Kind::Q850, Kind::MsDiag],
            Context::Http => &[Kind::Http],
            Context::Hresult => &[Kind::Hresult],
        }
    }
}

/// The single best reading of `raw` in `context`, if it reads as a code at all.
pub fn normalize(raw: &str, context: Context) -> Option<Code> {
    let all = candidates(raw);
    ordered(all, context).into_iter().next()
}

/// `all` reordered so that the kinds the context prefers come first (stable otherwise).
pub fn ordered(mut all: Vec<Code>, context: Context) -> Vec<Code> {
    let pref = context.preferred();
    all.sort_by_key(|c| pref.iter().position(|k| *k == c.kind()).unwrap_or(pref.len()));
    all
}

/// Every reading of `raw` as a code, the most likely first. Empty when it reads as no code.
pub fn candidates(raw: &str) -> Vec<Code> {
    let cleaned = clean(raw);
    let s = cleaned.as_str();
    let mut out = Vec::new();
    read_into(s, &mut out);
    out.dedup();
    out
}

/// Trim, URL-decode, drop surrounding quotes and trailing punctuation (`AADSTS50076:`).
fn clean(raw: &str) -> String {
    let decoded = if raw.contains('%') { percent_decode(raw) } else { raw.to_owned() };
    let t = decoded.trim().trim_matches(|c| c == '"' || c == '\'' || c == '`');
    t.trim_end_matches([':', ';', ',', '.', ' ']).trim().to_owned()
}

/// Decode `%XX` escapes (used on URL-encoded redirect URLs in logs).
pub fn percent_decode_str(s: &str) -> String {
    percent_decode(s)
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        if b[i] == b'+' {
            out.push(b' ');
        } else {
            out.push(b[i]);
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &s[prefix.len()..])
}

/// Leading decimal digits of `s` (after optional separators), as a number.
fn leading_number(s: &str) -> Option<u32> {
    let s = s.trim_start_matches([' ', ':', '=', '#', '"', '\t']);
    let end = s.bytes().take_while(u8::is_ascii_digit).count();
    if end == 0 || end > 9 {
        return None;
    }
    s[..end].parse().ok()
}

fn status_code(n: u32, lo: u32, hi: u32) -> Option<u16> {
    (lo..hi).contains(&n).then_some(n as u16)
}

fn is_word(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
        && !s.as_bytes()[0].is_ascii_digit()
}

fn slug(s: &str) -> Option<Box<str>> {
    let t = s.trim().to_ascii_lowercase();
    (!t.is_empty() && t.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')).then(|| t.into())
}

fn read_into(s: &str, out: &mut Vec<Code>) {
    if s.is_empty() {
        return;
    }
    if read_prefixed(s, out) {
        return;
    }
    if let Some(hex) = strip_prefix_ci(s, "0x") {
        read_hex(hex, true, out);
        return;
    }
    if let Some(neg) = s.strip_prefix('-') {
        if let Ok(v) = neg.parse::<i64>() {
            if let Ok(v) = i32::try_from(-v) {
                out.push(Code::Hresult(v as u32));
            }
        }
        return;
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        read_decimal(s, out);
        return;
    }
    // `403 Forbidden`: a status line without the protocol.
    if let Some((num, phrase)) = s.split_once(' ') {
        if num.len() == 3
            && num.bytes().all(|b| b.is_ascii_digit())
            && phrase.starts_with(|c: char| c.is_ascii_alphabetic())
        {
            let n: u32 = num.parse().unwrap_or(0);
            if let Some(n) = status_code(n, 100, 700) {
                out.push(Code::Sip(n));
            }
            if let Some(n) = status_code(n, 100, 600) {
                out.push(Code::Http(n));
            }
            return;
        }
    }
    if s.len() == 8 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        read_hex(s, false, out);
        return;
    }
    // `4c7`-style short hex tokens are Teams codes that also decode as Win32 errors.
    if s.len() <= 4 && s.bytes().all(|b| b.is_ascii_hexdigit()) && s.bytes().any(|b| b.is_ascii_alphabetic()) {
        out.push(Code::Teams(s.into()));
        read_hex(s, false, out);
        return;
    }
    if is_word(s) {
        if s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
            out.push(Code::Oauth(s.into()));
        }
        out.push(Code::Teams(s.into()));
        return;
    }
    // A longer text: take the first token that carries an explicit prefix (`AADSTS50076: Due to…`).
    for token in s.split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '(' | ')' | '[' | ']' | '\'' | '"')) {
        let t = token.trim_end_matches([':', '.', ',']);
        if strip_prefix_ci(t, "aadsts").is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()))
            || strip_prefix_ci(t, "0x").is_some_and(|r| r.len() == 8)
        {
            read_into(t, out);
            if !out.is_empty() {
                return;
            }
        }
    }
}

/// Forms with an explicit marker. Returns true when the marker was present (even if unreadable).
fn read_prefixed(s: &str, out: &mut Vec<Code>) -> bool {
    if let Some(r) = strip_prefix_ci(s, "aadsts") {
        if let Some(n) = leading_number(r) {
            out.push(Code::Aadsts(n));
        }
        return true;
    }
    for p in ["sip/2.0", "sip"] {
        if let Some(r) = strip_prefix_ci(s, p) {
            if let Some(n) = leading_number(r).and_then(|n| status_code(n, 100, 700)) {
                out.push(Code::Sip(n));
                return true;
            }
        }
    }
    for p in ["msrc", "microsoft response code", "callendsubreason", "call end sub reason", "call end subreason"] {
        if let Some(r) = strip_prefix_ci(s, p) {
            if let Some(n) = leading_number(r) {
                out.push(Code::Msrc(n));
            }
            return true;
        }
    }
    for p in ["x-ms-diagnostics", "ms-client-diagnostics", "ms-diagnostics-public", "ms-diagnostics", "ms-diag"] {
        if let Some(r) = strip_prefix_ci(s, p) {
            if let Some(n) = leading_number(r) {
                out.push(Code::MsDiag(n));
            }
            return true;
        }
    }
    let lower = s.to_ascii_lowercase();
    if lower.starts_with("reason")
        || lower.starts_with("q.850")
        || lower.starts_with("q850")
        || lower.starts_with("cause=")
    {
        let n = lower
            .find("cause=")
            .map_or_else(|| strip_prefix_ci(s, "q850").and_then(leading_number), |i| leading_number(&s[i + 6..]));
        if let Some(n) = n.and_then(|n| u16::try_from(n).ok()) {
            out.push(Code::Q850(n));
        }
        return true;
    }
    if let Some(r) = strip_prefix_ci(s, "oauth ") {
        let w = r.trim().to_ascii_lowercase();
        if is_word(&w) {
            out.push(Code::Oauth(w.into()));
        }
        return true;
    }
    for p in ["http/1.1", "http/1.0", "http/2", "http status", "http"] {
        if let Some(r) = strip_prefix_ci(s, p) {
            if let Some(n) = leading_number(r).and_then(|n| status_code(n, 100, 600)) {
                out.push(Code::Http(n));
                return true;
            }
        }
    }
    for p in ["error code", "error=", "error:", "code:", "code=", "error"] {
        if let Some(r) = strip_prefix_ci(s, p) {
            let r = r.trim_start_matches([' ', ':', '=']).trim_matches('"');
            if r.is_empty() {
                return false;
            }
            if r.len() == 3 && r.bytes().all(|b| b.is_ascii_digit()) && s.contains('=') {
                // Pexip style `Error="401"`.
                if let Some(n) = leading_number(r).and_then(|n| status_code(n, 100, 600)) {
                    out.push(Code::Http(n));
                }
                return true;
            }
            read_into(r, out);
            return true;
        }
    }
    if let Some(r) = strip_prefix_ci(s, "teams ") {
        let w = r.trim();
        if is_word(w) || w.bytes().all(|b| b.is_ascii_alphanumeric()) {
            out.push(Code::Teams(w.into()));
        }
        return true;
    }
    if let Some(r) = strip_prefix_ci(s, "lync ") {
        out.extend(slug(r).map(Code::Lync));
        return true;
    }
    if let Some(r) = strip_prefix_ci(s, "pexip ") {
        out.extend(slug(r).map(Code::Pexip));
        return true;
    }
    false
}

fn read_hex(hex: &str, explicit: bool, out: &mut Vec<Code>) {
    let hex = hex.trim();
    if hex.is_empty() || hex.len() > 8 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return;
    }
    let Ok(v) = u32::from_str_radix(hex, 16) else { return };
    if hex.len() <= 4 {
        // A bare 16-bit value written in hex is a Win32 error; show it wrapped as an HRESULT.
        out.push(Code::Hresult(0x8007_0000 | v));
        if explicit && v != 0 {
            out.push(Code::Hresult(v));
        }
    } else {
        out.push(Code::Hresult(v));
    }
}

fn read_decimal(s: &str, out: &mut Vec<Code>) {
    let Ok(n) = s.parse::<u64>() else { return };
    let Ok(n32) = u32::try_from(n) else { return };
    // Large values are HRESULTs printed as unsigned decimal (2147942402 = 0x80070002).
    if n32 >= 0x8000_0000 {
        out.push(Code::Hresult(n32));
        return;
    }
    // Eight digits are an HRESULT with the `0x` dropped (80131500): no other code family is that long.
    if s.len() == 8 {
        read_hex(s, false, out);
    }
    let len = s.len();
    if (5..=7).contains(&len) {
        out.push(Code::Aadsts(n32));
    }
    if len == 6 || (len == 5 && s.starts_with('1')) || n32 == 0 || len == 4 {
        out.push(Code::Msrc(n32));
    }
    if len == 3 {
        if let Some(c) = status_code(n32, 100, 700) {
            out.push(Code::Sip(c));
        }
        if let Some(c) = status_code(n32, 100, 600) {
            out.push(Code::Http(c));
        }
    }
    if len <= 5 {
        out.push(Code::Teams(s.into()));
        out.push(Code::MsDiag(n32));
    }
    if n32 <= 127 {
        out.push(Code::Q850(n32 as u16));
    }
    if len >= 8 {
        out.push(Code::Hresult(n32));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding_handles_edges() {
        assert_eq!(percent_decode("AADSTS50076%3a"), "AADSTS50076:");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%3A"), "%zz:");
    }
}
