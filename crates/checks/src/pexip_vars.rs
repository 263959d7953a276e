//! `check pexip-vars`: the Pexip Teams Connector variables initialization script. The deployment
//! script fails late and vaguely on a bad value ("MCU-signalling-endpoint has invalid Address
//! prefix"); this check names the line and the fix first.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::target::is_fqdn;
use crate::{Check, Cidr, Error, Report};

const VARIABLES: &str = include_str!("../data/pexip-vars.toml");

/// A variable the check knows.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variable {
    pub name: String,
    pub kind: String,
    pub required: bool,
    pub about: String,
}

#[derive(Debug, Deserialize)]
struct VariablesFile {
    variable: Vec<Variable>,
}

/// The known variables.
pub fn variables() -> Vec<Variable> {
    toml::from_str::<VariablesFile>(VARIABLES).expect("the built-in variable list is valid (tested)").variable
}

/// One item of a value as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A quoted string (its text, and whether it holds `$` interpolation in double quotes).
    Str(String, bool),
    Bool(bool),
    Number(i64),
    /// `$Other` or `$(...)`: computed, not checked.
    Reference(String),
    /// Anything unquoted that is none of the above.
    Bare(String),
}

/// One assignment in the script.
#[derive(Debug, Clone)]
pub struct Assignment {
    pub name: String,
    pub line: usize,
    pub items: Vec<Item>,
    /// Whether the value was written as an array `@( ... )` or a comma list.
    pub is_list: bool,
}

/// Remove a `#` comment that is not inside quotes.
fn strip_comment(line: &str) -> &str {
    let mut quote: Option<char> = None;
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (None, '#') => return &line[..i],
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            _ => {}
        }
    }
    line
}

/// Split on commas and `+` outside quotes and parentheses.
fn split_top(text: &str) -> Result<Vec<String>, String> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut depth = 0i32;
    for c in text.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => {
                quote = None;
                cur.push(c);
            }
            (None, '"' | '\'') => {
                quote = Some(c);
                cur.push(c);
            }
            (None, '(') => {
                depth += 1;
                cur.push(c);
            }
            (None, ')') => {
                depth -= 1;
                cur.push(c);
            }
            (None, ',' | '+') if depth == 0 => parts.push(std::mem::take(&mut cur)),
            (_, c) => cur.push(c),
        }
    }
    if let Some(q) = quote {
        return Err(format!("a {q} quote is not closed"));
    }
    if depth != 0 {
        return Err("unbalanced parentheses".into());
    }
    parts.push(cur);
    Ok(parts.into_iter().map(|p| p.trim().to_string()).filter(|p| !p.is_empty()).collect())
}

fn parse_item(text: &str) -> Item {
    let t = text.trim();
    if t.len() >= 2 && (t.starts_with('"') && t.ends_with('"') || t.starts_with('\'') && t.ends_with('\'')) {
        let inner = &t[1..t.len() - 1];
        return Item::Str(inner.to_string(), t.starts_with('"') && inner.contains('$'));
    }
    match t.to_ascii_lowercase().as_str() {
        "$true" => return Item::Bool(true),
        "$false" => return Item::Bool(false),
        _ => {}
    }
    if let Ok(n) = t.parse::<i64>() {
        return Item::Number(n);
    }
    if t.starts_with('$') {
        return Item::Reference(t.to_string());
    }
    Item::Bare(t.to_string())
}

/// Parse a value expression; `Err` carries a quoting problem.
pub fn parse_value(raw: &str) -> Result<(Vec<Item>, bool), String> {
    let raw = raw.trim().trim_end_matches(';').trim();
    if let Some(c) = raw.chars().find(|c| matches!(c, '\u{201c}' | '\u{201d}' | '\u{2018}' | '\u{2019}')) {
        return Err(format!(
            "typographic quote {c} (from a word processor or web page); PowerShell needs straight quotes \" or '"
        ));
    }
    if raw.is_empty() {
        return Err("no value after =".into());
    }
    let mut is_list = false;
    let mut items = Vec::new();
    for part in split_top(raw)? {
        if let Some(inner) = part.strip_prefix("@(").and_then(|p| p.strip_suffix(')')) {
            is_list = true;
            for p in split_top(inner)? {
                items.push(parse_item(&p));
            }
        } else {
            items.push(parse_item(&part));
        }
    }
    if raw.contains(',') {
        is_list = true;
    }
    Ok((items, is_list))
}

/// Every `$Name = value` assignment of the script, and quoting problems by line.
pub fn parse_script(text: &str) -> (Vec<Assignment>, Vec<(usize, String, String)>) {
    let mut assignments = Vec::new();
    let mut problems = Vec::new();
    let mut in_block_comment = false;
    for (i, raw_line) in text.lines().enumerate() {
        let line_no = i + 1;
        let mut line = raw_line.trim_start_matches('\u{feff}').trim();
        if in_block_comment {
            match line.find("#>") {
                Some(end) => {
                    in_block_comment = false;
                    line = line[end + 2..].trim();
                }
                None => continue,
            }
        }
        if line.starts_with("<#") {
            if !line.contains("#>") {
                in_block_comment = true;
            }
            continue;
        }
        let line = strip_comment(line).trim();
        let Some(rest) = line.strip_prefix('$') else { continue };
        let name_len = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
        let (name, after) = rest.split_at(name_len);
        let Some(value) = after.trim_start().strip_prefix('=') else { continue };
        if value.starts_with('=') || name.is_empty() {
            continue;
        }
        match parse_value(value) {
            Ok((items, is_list)) => {
                assignments.push(Assignment { name: name.to_string(), line: line_no, items, is_list });
            }
            Err(e) => problems.push((line_no, name.to_string(), e)),
        }
    }
    (assignments, problems)
}

fn is_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts.iter().zip([8, 4, 4, 4, 12]).all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The text items of a value; a fqdn-list may be one string with commas.
fn strings(a: &Assignment, split_commas: bool) -> Vec<String> {
    let mut out = Vec::new();
    for item in &a.items {
        if let Item::Str(s, _) = item {
            if split_commas {
                out.extend(s.split(',').map(|p| p.trim().to_string()));
            } else {
                out.push(s.clone());
            }
        }
    }
    out
}

pub fn check_file(path: &Path) -> Result<Report, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::read(path, e))?;
    Ok(check_text(&text, &path.display().to_string()))
}

/// Check the text of a variables script.
pub fn check_text(text: &str, label: &str) -> Report {
    let mut report = Report::new(format!("pexip-vars {label}"));
    let known = variables();
    let (assignments, problems) = parse_script(text);

    for (line, name, problem) in &problems {
        report.push(Check::fail(
            format!("var.{name}"),
            format!("line {line}: ${name}: {problem}"),
            "Fix the quoting: every text value, IP address and prefix in straight double quotes, arrays as @(\"a\", \"b\").",
        ));
    }
    let broken: Vec<&str> = problems.iter().map(|(_, n, _)| n.as_str()).collect();

    // The last assignment wins in PowerShell, as when the script runs.
    let mut by_name: BTreeMap<String, &Assignment> = BTreeMap::new();
    for a in &assignments {
        if let Some(prev) = by_name.insert(a.name.to_ascii_lowercase(), a) {
            if known.iter().any(|k| k.name.eq_ignore_ascii_case(&a.name)) {
                report.push(Check::warn(
                    format!("var.{}.duplicate", a.name),
                    format!(
                        "${} is set on line {} and again on line {}; the later value is used",
                        a.name, prev.line, a.line
                    ),
                    "Keep one assignment per variable so that the value you edit is the one used.",
                ));
            }
        }
    }

    for var in &known {
        let key = var.name.to_ascii_lowercase();
        let Some(a) = by_name.get(&key) else {
            if var.required && !broken.iter().any(|b| b.eq_ignore_ascii_case(&var.name)) {
                report.push(Check::fail(
                    format!("var.{}", var.name),
                    format!("${} is not set ({})", var.name, var.about),
                    format!("Add ${} = \"...\" to the script; the deployment script needs it.", var.name),
                ));
            }
            continue;
        };
        report.push(check_value(var, a));
    }

    // Unknown $Px… names close to a known one are most likely typos.
    for a in &assignments {
        if known.iter().any(|k| k.name.eq_ignore_ascii_case(&a.name)) || !a.name.starts_with("Px") {
            continue;
        }
        let nearest = known
            .iter()
            .map(|k| (strsim::jaro_winkler(&k.name.to_ascii_lowercase(), &a.name.to_ascii_lowercase()), k))
            .max_by(|x, y| x.0.total_cmp(&y.0));
        if let Some((score, k)) = nearest {
            if score >= 0.9 {
                report.push(Check::fail(
                    format!("var.{}.typo", a.name),
                    format!(
                        "line {}: ${} is not a variable the deployment reads; did you mean ${}?",
                        a.line, a.name, k.name
                    ),
                    format!("Rename ${} to ${}.", a.name, k.name),
                ));
            }
        }
    }

    if let (Some(base), Some(region)) = (by_name.get("pxbaseconnname"), by_name.get("pxvmssregion")) {
        let b = strings(base, false).concat();
        let r = strings(region, false).concat();
        let len = b.chars().count() + r.chars().count();
        if !(3..=14).contains(&len) {
            report.push(Check::fail(
                "var.PxBaseConnName+PxVmssRegion",
                format!("\"{b}\" + \"{r}\" is {len} characters; together they must be 3 to 14"),
                "Shorten $PxBaseConnName or $PxVmssRegion so that the two together are 3-14 characters.",
            ));
        }
    }
    report
}

fn check_value(var: &Variable, a: &Assignment) -> Check {
    let id = format!("var.{}", var.name);
    let at = format!("line {}: ${}", a.line, var.name);
    let quote_fix = format!("Write the value in straight double quotes: ${} = \"...\".", var.name);
    if let Some(Item::Bare(b)) = a.items.iter().find(|i| matches!(i, Item::Bare(_))) {
        if var.kind != "bool" && var.kind != "count" {
            return Check::fail(id, format!("{at}: {b} is not in quotes"), quote_fix);
        }
    }
    let computed = a.items.iter().any(|i| matches!(i, Item::Reference(_) | Item::Str(_, true)));
    if a.is_list && matches!(var.kind.as_str(), "fqdn" | "guid" | "name-prefix" | "region" | "location" | "path") {
        return Check::fail(
            id,
            format!("{at} holds a list; it takes one value"),
            format!("Give ${} a single quoted value.", var.name),
        );
    }
    match var.kind.as_str() {
        "bool" => match a.items.as_slice() {
            [Item::Bool(v)] => Check::pass(id, format!("{at} = ${v}")),
            _ => Check::fail(
                id,
                format!("{at} must be $true or $false"),
                format!(
                    "Set ${} = $true or ${} = $false (no quotes: \"false\" is a non-empty string and counts as true).",
                    var.name, var.name
                ),
            ),
        },
        "count" => {
            let n = match a.items.as_slice() {
                [Item::Number(n)] => Some(*n),
                [Item::Str(s, false)] => s.trim().parse::<i64>().ok(),
                _ => None,
            };
            match n {
                Some(n) if n >= 1 => Check::pass(id, format!("{at} = {n}")),
                _ => Check::fail(
                    id,
                    format!("{at} must be a whole number of at least 1"),
                    format!("Set ${} = \"3\" (or the number of VMs you need).", var.name),
                ),
            }
        }
        "cidr-list" => check_prefixes(id, &at, var, a),
        _ if computed => Check::pass(id, format!("{at} is computed from other variables (not checked)")),
        kind => {
            let values = strings(a, kind == "fqdn-list");
            if values.is_empty() || values.iter().any(String::is_empty) {
                return Check::fail(
                    id,
                    format!("{at} is empty ({})", var.about),
                    format!("Fill in ${} ({}).", var.name, var.about),
                );
            }
            let bad: Vec<&String> = values
                .iter()
                .filter(|v| match kind {
                    "fqdn" | "fqdn-list" => !is_fqdn(v),
                    "guid" => !is_guid(v),
                    "name-prefix" => v.chars().count() > 9 || !v.chars().all(|c| c.is_ascii_alphanumeric()),
                    "region" => !v.chars().all(|c| c.is_ascii_alphabetic()),
                    "location" => !v.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()),
                    _ => false,
                })
                .collect();
            if bad.is_empty() {
                return Check::pass(id, format!("{at} = {}", values.join(", ")));
            }
            let rule = match kind {
                "fqdn" | "fqdn-list" => "a fully qualified domain name such as conf01.vc.example.com (no scheme, port, spaces or trailing dot)",
                "guid" => "a GUID such as 00000000-0000-0000-0000-000000000000",
                "name-prefix" => "at most 9 letters and digits (no dashes or spaces)",
                "region" => "letters only (no dashes, digits or spaces)",
                "location" => "an Azure region name in lower case without spaces, such as westeurope",
                _ => "a valid value",
            };
            let list_fix =
                if kind == "fqdn-list" { "; several names go in one string separated by commas" } else { "" };
            Check::fail(
                id,
                format!(
                    "{at}: {} is not {rule}",
                    bad.iter().map(|b| format!("\"{b}\"")).collect::<Vec<_>>().join(", ")
                ),
                format!("Set ${} to {rule}{list_fix}.", var.name),
            )
        }
    }
}

fn check_prefixes(id: String, at: &str, var: &Variable, a: &Assignment) -> Check {
    let mut problems = Vec::new();
    let mut fixes = Vec::new();
    let mut good = Vec::new();
    for item in &a.items {
        match item {
            Item::Str(s, false) if s.trim().is_empty() => {
                problems.push("an empty \"\" entry".to_string());
                fixes.push("remove the empty \"\" entries or fill them in".to_string());
            }
            Item::Str(s, false) => match s.parse::<Cidr>() {
                Ok(c) if c.has_host_bits() => {
                    problems.push(format!("{s} has host bits set (Azure rejects it as an invalid address prefix)"));
                    fixes.push(format!(
                        "use {} for the whole /{} network, or {} for the block that starts at {}",
                        c.network(),
                        c.prefix,
                        c.tightest_valid(),
                        c.addr
                    ));
                }
                Ok(c) => good.push(c.to_string()),
                Err(e) => {
                    problems.push(format!("\"{s}\": {e}"));
                    fixes.push(format!("write \"{s}\" as an address (a.b.c.d) or a prefix (a.b.c.0/24)"));
                }
            },
            Item::Reference(_) | Item::Str(_, true) => good.push("(computed)".into()),
            Item::Bare(b) => {
                problems.push(format!("{b} is not in quotes"));
                fixes.push(format!("put quotes around {b}"));
            }
            Item::Number(_) | Item::Bool(_) => problems.push("a value that is not an address".into()),
        }
    }
    if !problems.is_empty() {
        return Check::fail(
            id,
            format!("{at}: {}", problems.join("; ")),
            format!(
                "In ${}: {}.",
                var.name,
                if fixes.is_empty() { "list addresses or prefixes in quotes".to_string() } else { fixes.join("; ") }
            ),
        );
    }
    if good.is_empty() {
        let detail = format!("{at} is empty ({})", var.about);
        return if var.required {
            Check::warn(id, detail, format!("List the public addresses of the Conferencing / Edge Nodes in ${}; empty leaves HTTPS to the connector open to any source.", var.name))
        } else {
            Check::pass(id, detail)
        };
    }
    Check::pass(id, format!("{at} = {}", good.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variable_list_is_valid() {
        let vars = variables();
        let kinds = [
            "name-prefix",
            "region",
            "fqdn",
            "fqdn-list",
            "guid",
            "location",
            "count",
            "bool",
            "cidr-list",
            "path",
            "string",
        ];
        for v in &vars {
            assert!(kinds.contains(&v.kind.as_str()), "{v:?}");
            assert!(v.name.starts_with("Px"), "{v:?}");
        }
        assert!(vars.iter().any(|v| v.name == "PxNodesSourceAddressPrefixes" && v.required));
    }

    #[test]
    fn values() {
        assert_eq!(parse_value(r#"@("1.2.3.4", "5.6.7.0/24") + $PxMgmtSrcAddrPrefixes"#).unwrap().0.len(), 3);
        assert_eq!(parse_value("$true").unwrap().0, vec![Item::Bool(true)]);
        assert!(parse_value("\u{201c}x\u{201d}").is_err());
        assert!(parse_value("\"open").is_err());
        assert_eq!(parse_value("@(1.2.3.4/32)").unwrap().0, vec![Item::Bare("1.2.3.4/32".into())]);
        assert_eq!(strip_comment(r#""a#b" # note"#), r#""a#b" "#);
    }
}
