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

pub fn check(pattern: &str, replace: &str, aliases: &[String]) -> Report {
    let mut report = Report::new(format!("route-rule match {pattern:?} replace {replace:?}"));
    // Pexip matches the regex against the whole alias.
    let anchored = format!("^(?:{pattern})$");
    let re = match Regex::new(&anchored) {
        Ok(re) => {
            report.push(Check::pass(
                "rule.regex",
                format!("the match regex compiles ({} group(s))", re.captures_len() - 1),
            ));
            re
        }
        Err(e) => {
            report.push(Check::fail(
                "rule.regex",
                format!("the match regex does not compile: {e}"),
                "Correct the regex; Pexip would never apply this rule.",
            ));
            return report;
        }
    };
    let replacement = to_rust_replacement(replace);
    let groups = re.captures_len() - 1;
    for (i, alias) in aliases.iter().enumerate() {
        let id = format!("rule.alias.{}", i + 1);
        let Some(caps) = re.captures(alias) else {
            report.push(Check::fail(
                id,
                format!("{alias:?} does not match the rule, so the rule never sends it to Teams"),
                "Widen the match regex to the whole alias as callers dial it (domain, prefixes and any sip: scheme), for example (\\d{9,12})@vc\\.example\\.com, or check the alias.",
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
            report.push(Check::pass(id, format!("{alias:?} -> {result:?}, a {}-digit meeting ID", result.len())));
        } else {
            let why = if result.bytes().all(|b| b.is_ascii_digit()) && !result.is_empty() {
                format!("{} digits, not 9 to 12", result.len())
            } else if result.is_empty() {
                "nothing".to_string()
            } else {
                "more than digits".to_string()
            };
            let fix = if groups == 0 {
                "Put the meeting ID in a capture group of the match regex, e.g. (\\d{9,12}), and set the replace string to \\1.".to_string()
            } else {
                "Make the replace string produce only the captured meeting ID (e.g. \\1), and let the capture group take exactly the 9-12 digits.".to_string()
            };
            report.push(Check::fail(
                id,
                format!("{alias:?} -> {result:?}: {why}; the Teams Connector gets no valid conference ID"),
                fix,
            ));
        }
    }
    report
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
}
