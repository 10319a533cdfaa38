//! The bounds on what a scenario may ask for (all documented, with the served API's, in
//! `docs/limits.md`, checked against these constants by `conformance/tests/it/limits_doc.rs`), each
//! refused with an error that names the file (and
//! line and column where there is one) and never repeats the file's contents:
//!
//! | what | limit |
//! |---|---|
//! | a scenario file | 4 MiB, UTF-8, a regular file |
//! | a manifest file | 32 MiB, UTF-8, a regular file |
//! | YAML nesting (maps and lists inside each other) | 64 levels |
//! | YAML aliases (`*name`) | 1,000 per file |
//! | objects one `apply` creates (documents × `repeat`) | 100,000 |
//! | `repeat:` | 100,000 |
//! | one variable substitution | 64 MiB of output, defaults nested 8 deep (see [`crate::vars`]) |
//! | durations | a unit is required; at most 100 years |
//! | replica counts | 0 to 2,147,483,647 (int32, as the API server's schemas say) |

use crate::error::{Location, ScenarioError};
use std::io::Read as _;
use std::path::Path;

/// Largest scenario file.
pub const MAX_SCENARIO_BYTES: u64 = 4 << 20;
/// Largest manifest file.
pub const MAX_MANIFEST_BYTES: u64 = 32 << 20;
/// Deepest YAML nesting.
pub const MAX_DEPTH: usize = 64;
/// Most YAML aliases in one file.
pub const MAX_ALIASES: usize = 1_000;
/// Most objects one `apply` step creates.
pub const MAX_OBJECTS_PER_APPLY: usize = 100_000;
/// Largest `repeat:`.
pub const MAX_REPEAT: u32 = 100_000;
/// Longest duration, in milliseconds (100 years).
pub const MAX_DURATION_MS: u64 = 100 * 365 * 24 * 3600 * 1000;
/// Largest replica count (int32).
pub const MAX_REPLICAS: u64 = i32::MAX as u64;

/// Read a text file of at most `max` bytes: a regular file, valid UTF-8. Errors name the file (and
/// the line and column of the first invalid byte); they never quote its contents.
pub fn read_text(path: &Path, max: u64, what: &str) -> Result<String, ScenarioError> {
    let read_err = |source| ScenarioError::Read { path: path.to_path_buf(), source };
    let meta = std::fs::metadata(path).map_err(read_err)?;
    if meta.is_dir() {
        return Err(invalid_file(path, format!("is a directory, not a {what} file")));
    }
    if !meta.is_file() {
        return Err(invalid_file(path, format!("is not a regular file (a device, pipe or socket), so it cannot be a {what} file")));
    }
    if meta.len() > max {
        return Err(invalid_file(path, format!("is {} bytes; a {what} file may have at most {max} bytes", meta.len())));
    }
    let file = std::fs::File::open(path).map_err(read_err)?;
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    // The file may grow between the size check and the read: never read more than the limit.
    file.take(max + 1).read_to_end(&mut bytes).map_err(read_err)?;
    if bytes.len() as u64 > max {
        return Err(invalid_file(path, format!("has more than {max} bytes; a {what} file may have at most {max} bytes")));
    }
    String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let text = String::from_utf8_lossy(valid);
        let (line, column) = crate::vars::line_col(&text, text.len());
        ScenarioError::invalid(Location::new(path, line, column), format!("the {what} file is not UTF-8 text (invalid byte here)"))
    })
}

fn invalid_file(path: &Path, message: String) -> ScenarioError {
    ScenarioError::invalid(Location::new(path, 1, 1), message)
}

/// Refuse YAML nested deeper than [`MAX_DEPTH`] or with more than [`MAX_ALIASES`] aliases, before
/// serde reads it (deep nesting and alias bombs cost time and memory there). `line_offset` is added
/// to line numbers (text embedded in a scenario). Text that is not YAML passes: the parser that
/// follows reports that with its position.
pub fn check_yaml_shape(text: &str, file: &Path, line_offset: usize) -> Result<(), ScenarioError> {
    use yaml_rust2::parser::{Event, Parser};
    let mut parser = Parser::new_from_str(text);
    let mut depth = 0usize;
    let mut aliases = 0usize;
    loop {
        let Ok((event, mark)) = parser.next_token() else { return Ok(()) };
        let here = || Location::new(file, mark.line() + line_offset, mark.col() + 1);
        match event {
            Event::StreamEnd => return Ok(()),
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(ScenarioError::invalid(here(), format!("YAML nested more than {MAX_DEPTH} levels deep")));
                }
            }
            Event::MappingEnd | Event::SequenceEnd => depth = depth.saturating_sub(1),
            Event::Alias(_) => {
                aliases += 1;
                if aliases > MAX_ALIASES {
                    return Err(ScenarioError::invalid(here(), format!("more than {MAX_ALIASES} YAML aliases (`*name`)")));
                }
            }
            _ => {}
        }
    }
}

/// A serde message without the values it quotes (`invalid type: string "root:x:0:0:..."` becomes
/// `invalid type: string`), so an error about a file never repeats what the file holds.
pub fn without_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    // serde writes unexpected values as `string "..."`, `integer `5``, `floating point `1.5``, `char 'x'`.
    while let Some(i) = rest.find(['"', '`', '\'']) {
        let quote = rest.as_bytes()[i] as char;
        let before = &rest[..i];
        let quoted_value =
            before.ends_with("string ") || before.ends_with("integer ") || before.ends_with("point ") || before.ends_with("char ");
        match rest[i + 1..].find(quote) {
            Some(j) if quoted_value => {
                out.push_str(before.trim_end());
                rest = &rest[i + 1 + j + 1..];
            }
            Some(j) => {
                out.push_str(&rest[..i + 1 + j + 1]);
                rest = &rest[i + 1 + j + 1..];
            }
            None => {
                out.push_str(rest);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("invalid type: string \"root:x:0:0:root:/root:/bin/bash\", expected a map", "invalid type: string, expected a map")]
    #[case("invalid type: integer `5`, expected a string", "invalid type: integer, expected a string")]
    #[case("unknown field `foo`, expected one of `a`, `b`", "unknown field `foo`, expected one of `a`, `b`")]
    #[case("missing field `kind`", "missing field `kind`")]
    fn serde_messages_lose_their_values(#[case] input: &str, #[case] want: &str) {
        assert_eq!(without_values(input), want);
    }

    #[test]
    fn deep_yaml_and_alias_bombs_are_refused() {
        let deep = format!("{}1{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        let e = check_yaml_shape(&deep, Path::new("s.yaml"), 0).unwrap_err().to_string();
        assert!(e.starts_with("s.yaml:1:") && e.contains("nested more than 64"), "{e}");
        let mut bomb = String::from("a: &a [x]\nb: [");
        bomb.push_str(&vec!["*a"; MAX_ALIASES + 1].join(", "));
        bomb.push_str("]\n");
        assert!(check_yaml_shape(&bomb, Path::new("s.yaml"), 0).unwrap_err().to_string().contains("aliases"));
        assert!(check_yaml_shape("a: [1, [2, {b: 3}]]\n", Path::new("s.yaml"), 0).is_ok());
    }

    #[test]
    fn files_that_are_not_text_are_refused_without_echo() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let bin = dir.join("bin.yaml");
        std::fs::write(&bin, b"a: 1\nb: \xff\xfe secret\n").unwrap();
        let e = read_text(&bin, 1024, "manifest").unwrap_err().to_string();
        assert!(e.contains("bin.yaml:2:4") && e.contains("not UTF-8") && !e.contains("secret"), "{e}");
        let big = dir.join("big.yaml");
        std::fs::write(&big, vec![b'a'; 2048]).unwrap();
        assert!(read_text(&big, 1024, "manifest").unwrap_err().to_string().contains("at most 1024 bytes"));
        assert!(read_text(&dir, 1024, "manifest").unwrap_err().to_string().contains("is a directory"));
        if Path::new("/dev/zero").exists() {
            assert!(read_text(Path::new("/dev/zero"), 1024, "manifest").unwrap_err().to_string().contains("not a regular file"));
        }
    }
}
