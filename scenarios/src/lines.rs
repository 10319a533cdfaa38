//! Where things are in a scenario file: the line of every step and of inline manifests, read from the
//! YAML event stream (serde_yaml gives positions only for errors).

use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::TScalarStyle;

/// Positions inside one step.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StepLines {
    /// 1-based line where the step item starts.
    pub line: usize,
    /// 1-based column where the step item starts.
    pub column: usize,
    /// 1-based line where the first inline `manifest:` text of the step starts, if any.
    pub manifest_line: Option<usize>,
}

enum Frame {
    Map { key_next: bool, key: Option<String> },
    Seq,
}

/// Lines of each item of the top-level `steps:` sequence. Returns an empty list if the text is not
/// YAML (the serde pass reports that error with its position).
pub fn step_lines(text: &str) -> Vec<StepLines> {
    item_lines(text, "steps")
}

/// Lines of each item of the top-level sequence under `key` (`steps`, `invariants`).
pub fn item_lines(text: &str, key: &str) -> Vec<StepLines> {
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    let mut out: Vec<StepLines> = Vec::new();
    // Depth (stack length) of the `steps` sequence, once entered.
    let mut steps_depth: Option<usize> = None;
    let mut want_manifest_value = false;
    let mut manifest_key_line = 0;
    // A step item just started: its first key gives its position.
    let mut item_pending = false;
    loop {
        let (event, mark) = match parser.next_token() {
            Ok(x) => x,
            Err(_) => return out,
        };
        let line = mark.line();
        // Is this event a value (or item) start inside the current container?
        let in_steps_item_start = steps_depth == Some(stack.len()) && matches!(stack.last(), Some(Frame::Seq));
        match &event {
            Event::StreamEnd => break,
            Event::Scalar(value, style, _, _) => {
                if in_steps_item_start {
                    out.push(StepLines { line, column: mark.col() + 1, manifest_line: None });
                }
                if std::mem::take(&mut item_pending) {
                    if let Some(last) = out.last_mut() {
                        last.line = line;
                        last.column = mark.col() + 1;
                    }
                }
                if want_manifest_value {
                    want_manifest_value = false;
                    if let Some(last) = out.last_mut() {
                        if last.manifest_line.is_none() {
                            let block = matches!(style, TScalarStyle::Literal | TScalarStyle::Folded);
                            last.manifest_line = Some(if block { manifest_key_line + 1 } else { manifest_key_line });
                        }
                    }
                }
                if let Some(Frame::Map { key_next, key }) = stack.last_mut() {
                    if *key_next {
                        *key = Some(value.clone());
                        *key_next = false;
                        if value == "manifest" && steps_depth.is_some_and(|d| stack.len() > d) {
                            want_manifest_value = true;
                            manifest_key_line = line;
                        }
                    } else {
                        *key_next = true;
                    }
                }
            }
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                if in_steps_item_start {
                    out.push(StepLines { line, column: mark.col() + 1, manifest_line: None });
                    item_pending = matches!(event, Event::MappingStart(..));
                }
                want_manifest_value = false;
                let entering_steps = stack.len() == 1
                    && matches!(&event, Event::SequenceStart(..))
                    && matches!(stack.last(), Some(Frame::Map { key: Some(k), key_next: false }) if k == key);
                stack.push(if matches!(event, Event::MappingStart(..)) { Frame::Map { key_next: true, key: None } } else { Frame::Seq });
                if entering_steps {
                    steps_depth = Some(stack.len());
                }
            }
            Event::MappingEnd | Event::SequenceEnd => {
                if steps_depth == Some(stack.len()) {
                    steps_depth = None;
                }
                stack.pop();
                if let Some(Frame::Map { key_next, .. }) = stack.last_mut() {
                    *key_next = true;
                }
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_step_and_manifest_lines() {
        let text =
            "name: x\nsteps:\n  - sleep: 1s\n  - apply:\n      manifest: |\n        apiVersion: v1\n  - expect: {exists: Cluster/a}\n";
        assert_eq!(
            step_lines(text),
            vec![
                StepLines { line: 3, column: 5, manifest_line: None },
                StepLines { line: 4, column: 5, manifest_line: Some(6) },
                StepLines { line: 7, column: 5, manifest_line: None },
            ]
        );
    }
}
