//! XML (and HTML) escaping shared by the JUnit and SVG writers.
//!
//! Besides the five markup characters, control characters that XML 1.0 forbids (ANSI colour codes in
//! a step message, say) are written as visible `\u{1b}` text: one stray byte must not make a CI
//! system reject the whole report.

/// Escape text content.
pub(crate) fn text(s: &str) -> String {
    escape(s, false)
}

/// Escape an attribute value (for use between double quotes). Line breaks and tabs become character
/// references so that attribute-value normalization does not turn them into spaces.
pub(crate) fn attr(s: &str) -> String {
    escape(s, true)
}

fn escape(s: &str, attribute: bool) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' if attribute => out.push_str("&#10;"),
            '\r' if attribute => out.push_str("&#13;"),
            '\t' if attribute => out.push_str("&#9;"),
            '\n' | '\r' | '\t' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_quotes_and_forbidden_characters() {
        assert_eq!(text(r#"a<b & "c" 'd' > e"#), "a&lt;b &amp; &quot;c&quot; &apos;d&apos; &gt; e");
        assert_eq!(text("x\u{1b}[31my\u{0}"), "x\\u{1b}[31my\\u{0}");
        assert_eq!(text("line\nnext\tcol"), "line\nnext\tcol");
        assert_eq!(attr("line\nnext\tcol\r"), "line&#10;next&#9;col&#13;");
        assert_eq!(text("ünïcødé ✓"), "ünïcødé ✓");
    }
}
