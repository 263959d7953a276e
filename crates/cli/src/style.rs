//! Terminal styling: colour only when writing to a terminal, never when `NO_COLOR` is set to a
//! non-empty value (<https://no-color.org>: an empty `NO_COLOR` does not turn colour off).

use std::ffi::OsStr;
use std::io::IsTerminal;

use crate::args::ColorChoice;

/// Which escapes to emit. `plain()` emits none.
#[derive(Debug, Clone, Copy, Default)]
pub struct Style {
    on: bool,
}

impl Style {
    pub fn new(choice: ColorChoice) -> Self {
        Style { on: colour(choice, std::io::stdout().is_terminal(), std::env::var_os("NO_COLOR").as_deref()) }
    }

    /// Whether escapes are emitted.
    pub fn is_on(self) -> bool {
        self.on
    }

    pub fn plain() -> Self {
        Style { on: false }
    }

    fn wrap(self, code: &str, s: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_owned()
        }
    }

    pub fn code(self, s: &str) -> String {
        self.wrap("1;36", s)
    }

    pub fn heading(self, s: &str) -> String {
        self.wrap("1", s)
    }

    pub fn dim(self, s: &str) -> String {
        self.wrap("2", s)
    }

    pub fn bad(self, s: &str) -> String {
        self.wrap("1;31", s)
    }

    pub fn good(self, s: &str) -> String {
        self.wrap("32", s)
    }
}

/// Whether to colour: `--color always` or `never` decide; `auto` colours a terminal unless
/// `NO_COLOR` holds a non-empty value.
pub fn colour(choice: ColorChoice, terminal: bool, no_color: Option<&OsStr>) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => terminal && no_color.is_none_or(OsStr::is_empty),
    }
}

/// Wrap `text` to `width` columns, each line starting with `indent`.
pub fn wrap(text: &str, indent: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line = String::from(indent);
    for word in text.split_whitespace() {
        if line.len() > indent.len() && line.len() + 1 + word.len() > width {
            out.push_str(line.trim_end());
            out.push('\n');
            line = String::from(indent);
        }
        if line.len() > indent.len() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if line.len() > indent.len() {
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// Wrap a list item: `prefix` on the first line, aligned continuation lines.
pub fn item(prefix: &str, text: &str, indent: &str, width: usize) -> String {
    let first = format!("{indent}{prefix}");
    let hang = " ".repeat(first.chars().count());
    let body = wrap(text, &hang, width);
    body.replacen(&hang, &first, 1)
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;

    use super::colour;
    use crate::args::ColorChoice;

    #[test]
    fn only_a_non_empty_no_color_turns_colour_off() {
        assert!(colour(ColorChoice::Auto, true, None));
        assert!(colour(ColorChoice::Auto, true, Some(OsStr::new(""))));
        assert!(!colour(ColorChoice::Auto, true, Some(OsStr::new("1"))));
        assert!(!colour(ColorChoice::Auto, false, None));
        assert!(colour(ColorChoice::Always, false, Some(OsStr::new("1"))));
        assert!(!colour(ColorChoice::Never, true, None));
    }
}
