//! Property tests of the scenario loader: arbitrary text and near-valid scenarios (library files
//! with random edits) never panic, and every error names the file. The case count comes from
//! `PROPTEST_CASES` (default 256 per property here; README "Fuzzing" says how to run a million).

use proptest::prelude::*;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256)
}

/// The library's scenario texts, the seeds of the mutations.
fn library() -> Vec<String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("scenarios/library"))
        .expect("library")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    files.iter().map(|p| std::fs::read_to_string(p).expect("readable")).collect()
}

/// Load a text as `scenarios/library/fuzz-input.yaml` (so relative paths resolve); assert that an
/// error names the file.
fn check(text: &str) -> Result<(), TestCaseError> {
    let path = root().join("scenarios/library/fuzz-input.yaml");
    let opts = capi_scenarios::LoadOptions { fixtures_dir: Some(root().join("fixtures")), ..Default::default() };
    if let Err(e) = capi_scenarios::parse::load_text(text, &path, &opts) {
        let msg = e.to_string();
        prop_assert!(msg.contains("fuzz-input.yaml"), "the error does not name the file: {msg}");
    }
    Ok(())
}

/// One edit of a text: delete, duplicate or replace a span, or insert YAML punctuation.
#[derive(Debug, Clone)]
enum Edit {
    Delete(usize, usize),
    Duplicate(usize, usize),
    Insert(usize, String),
}

fn edit() -> impl Strategy<Value = Edit> {
    let tokens = prop::sample::select(vec![
        ":",
        "- ",
        "\n",
        "  ",
        "{",
        "}",
        "[",
        "]",
        "&a ",
        "*a",
        "${",
        "}",
        "${X:=",
        "'",
        "\"",
        "#",
        "|",
        ">",
        "!!str ",
        "\t",
        "repeat: 3\n",
        "timeout: 5\n",
        "1000000000000000h",
        "-1",
        "99999999999",
        "\u{0}",
        "é",
        "---\n",
    ]);
    prop_oneof![
        (any::<usize>(), 0usize..64).prop_map(|(a, n)| Edit::Delete(a, n)),
        (any::<usize>(), 0usize..64).prop_map(|(a, n)| Edit::Duplicate(a, n)),
        (any::<usize>(), tokens).prop_map(|(a, t)| Edit::Insert(a, t.to_string())),
        (any::<usize>(), "\\PC{0,8}").prop_map(|(a, t)| Edit::Insert(a, t)),
    ]
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut b: Vec<char> = text.chars().collect();
    for e in edits {
        let len = b.len().max(1);
        match e {
            Edit::Delete(a, n) => {
                let s = a % len;
                let end = (s + n).min(b.len());
                if s < end {
                    b.drain(s..end);
                }
            }
            Edit::Duplicate(a, n) => {
                let s = a % len;
                let end = (s + n).min(b.len());
                if s < end {
                    let dup: Vec<char> = b[s..end].to_vec();
                    b.splice(end..end, dup);
                }
            }
            Edit::Insert(a, t) => {
                let s = (a % (b.len() + 1)).min(b.len());
                b.splice(s..s, t.chars());
            }
        }
    }
    b.into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    /// Arbitrary text: never a panic; an error names the file.
    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,400}") {
        check(&text)?;
    }

    /// Library scenarios with 1-6 random edits: never a panic; an error names the file.
    #[test]
    fn near_valid_scenarios_never_panic(which in any::<prop::sample::Index>(), edits in prop::collection::vec(edit(), 1..6)) {
        let lib = library();
        let text = apply(which.get(&lib[..]).as_str(), &edits);
        check(&text)?;
    }
}
