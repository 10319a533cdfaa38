//! A Markdown summary of a batch of runs, for people: a table of every scenario, then for each failed
//! one the failing step, the violations and the command that replays it. The table has both clocks:
//! wall time (as JUnit's `time`; `-` when not measured) and the backend's simulated time. Written for
//! GitHub's job summary (`$GITHUB_STEP_SUMMARY`) and merge-request comments, readable as plain text.

use crate::completion::Completion;
use capi_scenarios::report::{RunReport, StepReport, StepStatus};
use capi_scenarios::DurationMs;
use std::fmt::Write as _;

/// The command that replays one run: `cargo xtask scenario run <file> --seed <seed>`, with the file
/// quoted for a POSIX shell when it needs to be.
pub fn replay_command(file: &str, seed: u64) -> String {
    format!("cargo xtask scenario run {} --seed {seed}", shell_quote(file))
}

fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+:,=@%".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The Markdown summary of `reports`, headed by `title`.
pub fn markdown<'a>(title: &str, reports: impl IntoIterator<Item = &'a RunReport>) -> String {
    markdown_batch(title, reports, &Completion::Finished)
}

/// [`markdown`] for a batch that may not have finished: unless `completion` is finished, the summary
/// opens with what happened in bold, and never says that all scenarios passed.
pub fn markdown_batch<'a>(title: &str, reports: impl IntoIterator<Item = &'a RunReport>, completion: &Completion) -> String {
    let reports: Vec<&RunReport> = reports.into_iter().collect();
    let failed: Vec<&RunReport> = reports.iter().copied().filter(|r| !r.passed).collect();
    let mut out = String::new();
    let _ = writeln!(out, "# {}\n", inline(title));
    if let Some(sentence) = completion.sentence(reports.len()) {
        let passed = reports.len() - failed.len();
        let _ =
            writeln!(out, "**INCOMPLETE. {}** Of the scenarios reported, {passed} passed and {} failed.", inline(&sentence), failed.len());
    }
    let _ = match (reports.len(), failed.len()) {
        _ if !completion.is_finished() => Ok(()),
        (0, _) => writeln!(out, "No scenario was run."),
        (1, 0) => writeln!(out, "The scenario passed."),
        (n, 0) => writeln!(out, "All {n} scenarios passed."),
        (n, f) => writeln!(out, "**{f} of {n} {} failed**, {} passed.", plural(n, "scenario", "scenarios"), n - f),
    };
    if reports.is_empty() {
        return out;
    }
    out.push_str("\n| Scenario | Result | Backend | Seed | Wall time | Simulated time | Reconciles | Events | Trace hash |\n");
    out.push_str("|---|---|---|--:|--:|--:|--:|--:|---|\n");
    for r in &reports {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            inline(&r.scenario),
            if r.passed {
                "passed"
            } else if r.interrupted.is_some() {
                "**interrupted**"
            } else {
                "**failed**"
            },
            inline(&r.backend),
            r.seed,
            r.wall_time_ms.map_or_else(|| "-".to_string(), wall_seconds),
            DurationMs(r.sim_time_ms),
            r.reconciles,
            r.events,
            r.trace_hash.as_deref().map_or_else(|| "-".to_string(), code_in_table),
        );
    }
    if failed.is_empty() {
        return out;
    }
    out.push_str("\n## Failures\n");
    for r in failed {
        failure_section(&mut out, r);
    }
    out
}

/// Wall time in seconds, as JUnit's `time` has it (`12.345 s`).
fn wall_seconds(ms: u64) -> String {
    format!("{:.3} s", ms as f64 / 1000.0)
}

fn failure_section(out: &mut String, r: &RunReport) {
    let _ = writeln!(out, "\n### {} ({}, seed {})\n", inline(&r.scenario), inline(&r.backend), r.seed);
    let _ = writeln!(out, "File: {}", code(&r.file));
    if let Some(s) = r.first_failure() {
        let _ = writeln!(
            out,
            "\n**Failed step:** #{} {} at line {} (started at {}, took {}):\n",
            s.index,
            code(&s.kind),
            s.line,
            DurationMs(s.at_ms),
            DurationMs(s.took_ms)
        );
        out.push_str(&fenced("text", &s.message));
    }
    if !r.violations.is_empty() {
        let _ = writeln!(out, "\n**Invariant violations ({}):**\n", r.violations.len());
        for v in &r.violations {
            let _ = writeln!(out, "- {} at {} (event {}): {}", code(&v.invariant), DurationMs(v.at_ms), v.event_index, inline(&v.message));
        }
    }
    if let Some(why) = &r.interrupted {
        let _ = writeln!(out, "\n**Interrupted:** {}", inline(why));
    }
    if let Some(e) = &r.error {
        out.push_str("\n**Error:**\n\n");
        out.push_str(&fenced("text", e));
    }
    let skipped: Vec<&StepReport> = r.steps.iter().filter(|s| s.status == StepStatus::Skipped).collect();
    if !skipped.is_empty() {
        let list: Vec<String> = skipped.iter().map(|s| format!("#{} {}", s.index, code(&s.kind))).collect();
        let _ = writeln!(out, "\n**Skipped:** {} {}: {}.", skipped.len(), plural(skipped.len(), "step", "steps"), list.join(", "));
    }
    if r.first_failure().is_none() && r.violations.is_empty() && r.error.is_none() && r.interrupted.is_none() {
        out.push_str("\nThe run did not pass, but no step failed, no invariant was violated and no error was recorded.\n");
    }
    out.push_str("\nReplay:\n\n");
    out.push_str(&fenced("sh", &replay_command(&r.file, r.seed)));
}

fn plural<'s>(n: usize, one: &'s str, many: &'s str) -> &'s str {
    if n == 1 {
        one
    } else {
        many
    }
}

/// Text for a paragraph or a table cell: on one line, with Markdown and HTML syntax escaped.
fn inline(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' | '\r' => out.push(' '),
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#' | '&' | '~' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// An inline code span that holds any text: the delimiter is one backtick longer than the longest run
/// inside, and line breaks become spaces.
fn code(s: &str) -> String {
    let s = s.replace(['\n', '\r'], " ");
    let ticks = "`".repeat(longest_backtick_run(&s) + 1);
    let pad = if s.starts_with('`') || s.ends_with('`') { " " } else { "" };
    format!("{ticks}{pad}{s}{pad}{ticks}")
}

/// A code span inside a table row, where GitHub splits cells at every unescaped `|`, even in code.
fn code_in_table(s: &str) -> String {
    code(s).replace('|', r"\|")
}

/// A fenced code block that holds any text.
fn fenced(lang: &str, s: &str) -> String {
    let fence = "`".repeat((longest_backtick_run(s) + 1).max(3));
    let body = s.trim_end_matches('\n');
    format!("{fence}{lang}\n{body}\n{fence}\n")
}

fn longest_backtick_run(s: &str) -> usize {
    s.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_command_quotes_only_when_needed() {
        assert_eq!(
            replay_command("scenarios/library/md-scale-out.yaml", 7),
            "cargo xtask scenario run scenarios/library/md-scale-out.yaml --seed 7"
        );
        assert_eq!(replay_command("my dir/it's.yaml", 1), r"cargo xtask scenario run 'my dir/it'\''s.yaml' --seed 1");
    }

    #[test]
    fn escapes_markdown_and_holds_backticks() {
        assert_eq!(inline("a|b <c> *d*\nx"), r"a\|b \<c\> \*d\* x");
        assert_eq!(code("a `b` c"), "``a `b` c``");
        assert_eq!(code("`x"), "`` `x ``");
        assert_eq!(fenced("text", "one\n```\ntwo\n"), "````text\none\n```\ntwo\n````\n");
    }
}
