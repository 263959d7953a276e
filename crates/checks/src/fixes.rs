//! Fix texts from the knowledge base, so that a failed probe and `uctriage explain` give the same
//! advice for the same code.

use uctriage_kb::KnowledgeBase;

/// The fixes the knowledge base gives for `code` (canonical spelling, e.g. `HTTP 407`), joined one a
/// line, or `fallback` when the base does not know the code.
pub fn for_code(code: &str, fallback: &str) -> String {
    let kb = KnowledgeBase::builtin();
    let entry = code.parse().ok().and_then(|c| kb.get(&c));
    match entry {
        Some(e) if !e.fixes.is_empty() => {
            let mut text = e.fixes.join("\n");
            text.push_str(&format!("\n(uctriage explain \"{code}\" has the causes and first checks)"));
            text
        }
        _ => fallback.to_string(),
    }
}

/// A fix for a network failure, closing with what Teams shows when this path is blocked.
pub fn network(text: &str) -> String {
    format!("{text}\nTeams shows a blocked sign-in path as 0xCAA82EE2 or 0xCAA70004 (uctriage explain 0xCAA82EE2).")
}

/// The fix for a name that does not resolve: DNS first, since no firewall rule can help before
/// the name has an address.
pub fn dns(host: &str) -> String {
    format!(
        "Make {host} resolve from this machine before looking at firewalls: check the name is spelled right and published (`nslookup {host}`), that this machine's DNS servers answer (a VPN, split-horizon DNS or a missing conditional forwarder can hide a name), and that no stale hosts-file entry overrides it."
    )
}
