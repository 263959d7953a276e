//! `check route-rule`: does a Pexip call routing rule (regex match and replace) turn each sample
//! alias into exactly the 9–12 digit Teams meeting ID the Teams Connector needs?

use regex::Regex;

use crate::{Check, Report};

/// Pexip writes group references as `\1`; the regex crate wants `${1}`. A literal `$` is escaped.
pub fn to_rust_replacement(pexip: &str) -> String {
    let mut out = String::new();
    let mut chars = pexip.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.peek() {
                Some(d) if d.is_ascii_digit() => {
                    let mut num = String::new();
                    while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                        num.push(*d);
                        chars.next();
                    }
                    out.push_str(&format!("${{{num}}}"));
                }
                Some('g') => {
                    // Python's \g<name> / \g<1>
                    chars.next();
                    if chars.peek() == Some(&'<') {
                        chars.next();
                        let name: String = chars.by_ref().take_while(|&c| c != '>').collect();
                        out.push_str(&format!("${{{name}}}"));
                    } else {
                        out.push_str("\\g");
                    }
                }
                Some('\\') => {
                    chars.next();
                    out.push('\\');
                }
                _ => out.push('\\'),
            },
            '$' => {
                // `$1` is accepted too; anything else after `$` is literal.
                if chars.peek().is_some_and(|d| d.is_ascii_digit() || *d == '{') {
                    out.push('$');
                } else {
                    out.push_str("$$");
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// Is this a Teams VTC conference ID: 9 to 12 digits and nothing else?
pub fn is_meeting_id(s: &str) -> bool {
    (9..=12).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
}

/// A value as the admin typed it, in backticks: no escaping of backslashes (a regex reads as
/// written), control characters shown as escapes so that nothing acts on the terminal.
fn shown(s: &str) -> String {
    let mut out = String::from("`");
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out.push('`');
    out
}

/// A match regex that takes this alias's meeting ID (its first run of 9 to 12 digits) into group
/// 1 and matches the rest literally, with an optional `sip:`/`sips:` scheme; `None` when the alias
/// holds no such run.
pub fn suggested_match(alias: &str) -> Option<String> {
    let bare = alias.strip_prefix("sips:").or_else(|| alias.strip_prefix("sip:")).unwrap_or(alias);
    let bytes = bare.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if (9..=12).contains(&(i - start)) {
            let scheme = if bare.len() == alias.len() { "" } else { "(?:sips?:)?" };
            return Some(format!(
                "{scheme}{}(\\d{{9,12}}){}",
                regex::escape(&bare[..start]),
                regex::escape(&bare[i..])
            ));
        }
    }
    None
}

pub fn check(pattern: &str, replace: &str, aliases: &[String]) -> Report {
    let shown_replace = if replace.is_empty() { "(empty: the alias is kept)".to_owned() } else { shown(replace) };
    let mut report = Report::new(format!("route-rule match {} replace {shown_replace}", shown(pattern)));
    // Pexip matches the regex against the whole alias.
    let anchored = format!("^(?:{pattern})$");
    let re = match Regex::new(&anchored) {
        Ok(re) => {
            let n = re.captures_len() - 1;
            report.push(Check::pass(
                "rule.regex",
                format!("the match regex compiles ({n} capture group{})", if n == 1 { "" } else { "s" }),
            ));
            re
        }
        Err(e) => {
            report.push(Check::fail(
                "rule.regex",
                format!("the match regex does not compile: {e}"),
                "Correct the regex where the error points; until it compiles Pexip never applies this rule.",
            ));
            return report;
        }
    };
    let replacement = to_rust_replacement(replace);
    for (i, alias) in aliases.iter().enumerate() {
        let id = format!("rule.alias.{}", i + 1);
        let Some(caps) = re.captures(alias) else {
            let fix = match suggested_match(alias) {
                Some(m) => format!(
                    "Pexip matches the regex against the whole alias, so it must cover the scheme, prefix and domain as callers dial them. For this alias, set the match to {} and the replace string to `\\1`.",
                    shown(&m)
                ),
                None => "This alias holds no 9 to 12 digit meeting ID, so no rule can turn it into one: check what callers really dial (the ID printed in the Teams invitation, then the VTC domain).".to_owned(),
            };
            report.push(Check::fail(
                id,
                format!("{} does not match the rule, so the rule never sends it to Teams", shown(alias)),
                fix,
            ));
            continue;
        };
        let result = if replace.is_empty() {
            alias.clone()
        } else {
            let mut out = String::new();
            caps.expand(&replacement, &mut out);
            out
        };
        if is_meeting_id(&result) {
            report.push(Check::pass(
                id,
                format!("{} -> {}, a {}-digit meeting ID", shown(alias), shown(&result), result.len()),
            ));
            continue;
        }
        let why = if result.is_empty() {
            "nothing".to_owned()
        } else if result.bytes().all(|b| b.is_ascii_digit()) {
            format!("{} digits, not 9 to 12", result.len())
        } else {
            "more than digits".to_owned()
        };
        report.push(Check::fail(
            id,
            format!("{} -> {}: {why}; the Teams Connector gets no valid conference ID", shown(alias), shown(&result)),
            fix_for(&caps, alias, replace),
        ));
    }
    report
}

/// What to change when an alias matched but the result is no meeting ID.
fn fix_for(caps: &regex::Captures<'_>, alias: &str, replace: &str) -> String {
    // A group that captured exactly the meeting ID: only the replace string is wrong.
    let exact = (1..caps.len()).find(|&g| caps.get(g).is_some_and(|m| is_meeting_id(m.as_str())));
    if let Some(g) = exact {
        let wanted = format!("\\{g}");
        return if replace.is_empty() {
            format!("Set the replace string to {}: group {g} captures the meeting ID, and an empty replace string sends the whole alias.", shown(&wanted))
        } else {
            format!(
                "Set the replace string to {} instead of {}: group {g} captures the meeting ID, and anything else in the replace string reaches the Teams Connector too.",
                shown(&wanted),
                shown(replace)
            )
        };
    }
    let groups = caps.len() - 1;
    let how = match suggested_match(alias) {
        Some(m) => format!("set the match to {} and the replace string to `\\1`", shown(&m)),
        None => {
            return "This alias holds no 9 to 12 digit meeting ID, so no rule can turn it into one: check what callers really dial (the ID printed in the Teams invitation, then the VTC domain).".to_owned();
        }
    };
    if groups == 0 {
        format!("The match regex has no capture group, so the meeting ID cannot be picked out: {how}.")
    } else {
        let took: Vec<String> = (1..caps.len())
            .map(|g| {
                format!(
                    "group {g} captures {}",
                    caps.get(g).map_or_else(|| "nothing".to_owned(), |m| shown(m.as_str()))
                )
            })
            .collect();
        format!("No group captures exactly the 9 to 12 digits ({}): {how}.", took.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replacements() {
        assert_eq!(to_rust_replacement(r"\1"), "${1}");
        assert_eq!(to_rust_replacement(r"\g<id>"), "${id}");
        assert_eq!(to_rust_replacement("$1"), "$1");
        assert_eq!(to_rust_replacement("a$b"), "a$$b");
    }

    #[test]
    fn meeting_ids() {
        assert!(is_meeting_id("123456789"));
        assert!(is_meeting_id("123456789012"));
        assert!(!is_meeting_id("12345678"));
        assert!(!is_meeting_id("1234567890123"));
        assert!(!is_meeting_id("12345678a"));
    }

    #[test]
    fn rule_results() {
        let ok = check(r"(\d{9,12})@vc\.example\.com", r"\1", &["123456789@vc.example.com".into()]);
        assert_eq!(ok.exit_code(), 0);
        let keeps_domain = check(r"(\d{9,12}@vc\.example\.com)", r"\1", &["123456789@vc.example.com".into()]);
        assert_eq!(keeps_domain.exit_code(), 1);
        let no_match = check(r"(\d{9,12})", r"\1", &["sip:123456789@vc.example.com".into()]);
        assert_eq!(no_match.exit_code(), 1);
    }

    #[test]
    fn the_pattern_is_shown_as_written_and_the_fix_says_what_to_change() {
        let fix = |r: &Report| r.get("rule.alias.1").and_then(|c| c.fix.clone()).unwrap_or_default();
        // The whole alias captured: only the groups are wrong; the pattern reads as typed.
        let r = check(r"(\d{9,12}@vc\.example\.com)", r"\1", &["123456789@vc.example.com".into()]);
        assert_eq!(r.target, r"route-rule match `(\d{9,12}@vc\.example\.com)` replace `\1`");
        assert!(
            fix(&r).contains(r"set the match to `(\d{9,12})@vc\.example\.com` and the replace string to `\1`"),
            "{r:#?}"
        );
        // A group holds the ID but the replace string adds to it: change the replace string only.
        let r = check(r"(\d{9,12})@vc\.example\.com", r"\1@teams", &["123456789@vc.example.com".into()]);
        assert!(fix(&r).starts_with(r"Set the replace string to `\1` instead of `\1@teams`"), "{r:#?}");
        let r = check(r"(\d{9,12})@vc\.example\.com", "", &["123456789@vc.example.com".into()]);
        assert!(fix(&r).starts_with(r"Set the replace string to `\1`"), "{r:#?}");
        // No match: a regex for this alias, scheme optional.
        let r = check(r"(\d{9,12})", r"\1", &["sip:123456789@vc.example.com".into()]);
        assert!(fix(&r).contains(r"`(?:sips?:)?(\d{9,12})@vc\.example\.com`"), "{r:#?}");
        assert_eq!(
            suggested_match("sip:123456789@vc.example.com").as_deref(),
            Some(r"(?:sips?:)?(\d{9,12})@vc\.example\.com")
        );
        // The suggestion does what it says.
        let r = check(r"(?:sips?:)?(\d{9,12})@vc\.example\.com", r"\1", &["sip:123456789@vc.example.com".into()]);
        assert_eq!(r.exit_code(), 0, "{r:#?}");
        // No meeting ID in the alias at all.
        let r = check(r"(\d+)", r"\1", &["12345".into()]);
        assert!(fix(&r).contains("holds no 9 to 12 digit meeting ID"), "{r:#?}");
        // Control characters in what was typed do not reach the terminal.
        let r = check("a\u{1b}[2J", "", &["x".into()]);
        assert!(!r.target.contains('\u{1b}'), "{}", r.target);
    }
}
