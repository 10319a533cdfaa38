//! Text as the describe tree writes it: how long ago (apimachinery's `duration.HumanDuration`) and
//! condition messages wrapped to a width (`formatParagraph`).
//! Sources: `k8s.io/apimachinery/pkg/util/duration/duration.go` (`HumanDuration`),
//! `internal/util/tree/tree.go` (`formatParagraph`).

/// How long ago, as apimachinery's `duration.HumanDuration` writes it (`45s`, `3m20s`, `15m`,
/// `5h1m`, `2d3h`, ...); empty when the time is not known.
pub fn human_duration(now_ms: u64, since_ms: Option<u64>) -> String {
    let Some(since) = since_ms else { return String::new() };
    let secs = (now_ms as i64 - since as i64) / 1000;
    if secs < -1 {
        return "<invalid>".into();
    }
    if secs < 0 {
        return "0s".into();
    }
    if secs < 120 {
        return format!("{secs}s");
    }
    let minutes = secs / 60;
    if minutes < 10 {
        return if secs % 60 == 0 { format!("{minutes}m") } else { format!("{minutes}m{}s", secs % 60) };
    }
    if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = minutes / 60;
    if hours < 8 {
        return if minutes % 60 == 0 { format!("{hours}h") } else { format!("{hours}h{}m", minutes % 60) };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        return if hours % 24 == 0 { format!("{}d", hours / 24) } else { format!("{}d{}h", hours / 24, hours % 24) };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    let (years, days) = (hours / 24 / 365, (hours / 24) % 365);
    if hours < 24 * 365 * 8 && days != 0 {
        return format!("{years}y{days}d");
    }
    format!("{years}y")
}

/// `formatParagraph`: each line of `text` wrapped at `width` characters, keeping its leading
/// spaces (and two more under a `* ` bullet) on the lines it wraps into.
pub fn format_paragraph(text: &str, width: usize) -> String {
    let mut lines = Vec::new();
    for l in text.split('\n') {
        let lead = l.len() - l.trim_start_matches(' ').len();
        let mut indent = " ".repeat(lead);
        if l.trim().starts_with("* ") {
            indent.push_str("  ");
        }
        let mut tmp = " ".repeat(lead);
        // Go's regexp `[\s]+` split: runs of white space separate words, and a leading or trailing
        // run gives an empty first or last word.
        let parts: Vec<&str> = l.split(char::is_whitespace).collect();
        let n = parts.len();
        let words = parts.into_iter().enumerate().filter(|(i, w)| !w.is_empty() || *i == 0 || *i + 1 == n).map(|(_, w)| w);
        for w in words {
            if tmp.len() + w.len() < width {
                if !tmp.trim().is_empty() {
                    tmp.push(' ');
                }
                tmp.push_str(w);
                continue;
            }
            lines.push(std::mem::replace(&mut tmp, format!("{indent}{w}")));
        }
        lines.push(tmp);
    }
    lines.join("\n")
}
