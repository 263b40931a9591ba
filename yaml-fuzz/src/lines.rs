//! Line edits of YAML text: lines deleted, duplicated, swapped,
//! re-indented or truncated, scalars replaced, odd lines and random text
//! pasted in. The scalars and lines here are the generic ones (every YAML
//! type, syntax edge cases, deep nesting, alias bombs); a test adds the
//! ones of its own domain, e.g. `[yaml_fuzz::ODD_SCALARS, LOCAL].concat()`.

use proptest::prelude::*;
use proptest::sample::{Index, select};

/// Scalars of every YAML type, out-of-range numbers, odd unicode, tags,
/// anchors and unterminated syntax.
pub const ODD_SCALARS: &[&str] = &[
    "",
    "~",
    "true",
    "-1",
    "0",
    "0.5",
    "1e400",
    ".nan",
    "18446744073709551616",
    "-9223372036854775809",
    "[]",
    "{}",
    "[[]]",
    "\"\\u0000\"",
    "é̀́",
    "!!binary aGVsbG8=",
    "!!int x",
    "!custom {}",
    "*undefined",
    "&a x",
    "|",
    "'unterminated",
    "{unclosed: [",
    "? complex",
];

/// A billion laughs: nine levels of anchors, each aliasing the previous
/// one nine times (9^9 nodes if a parser expands them).
pub fn alias_bomb() -> String {
    let laughs = (1..10)
        .map(|i| {
            let prev = format!("*l{}", i - 1);
            format!("l{i}: &l{i} [{}]", vec![prev; 9].join(","))
        })
        .collect::<Vec<_>>()
        .join("\n");
    format!("l0: &l0 [x]\n{laughs}")
}

/// Whole lines to insert: document markers, tabs, deep nesting, an alias
/// bomb, a huge line, a NUL, merge keys and complex keys.
pub fn odd_lines() -> Vec<String> {
    vec![
        "---".into(),
        "...".into(),
        "--- {a: 1}".into(),
        "\t- tab".into(),
        format!("deep: {}{}", "[".repeat(2000), "]".repeat(2000)),
        format!("deep: {}", "{a: ".repeat(500) + "1" + &"}".repeat(500)),
        alias_bomb(),
        format!("long: {}", "x".repeat(100_000)),
        "\u{0}".into(),
        "<<: *undefined".into(),
        "? [a, b]\n: c".into(),
    ]
}

/// One edit of a text's lines, chosen by [`line_edit`].
#[derive(Debug, Clone)]
pub enum LineEdit {
    /// Delete the line.
    Delete(Index),
    /// Insert a copy of the line before it.
    Duplicate(Index),
    /// Swap two lines.
    Swap(Index, Index),
    /// Replace what follows the line's first `: ` (or the whole line).
    ReplaceScalar(Index, &'static str),
    /// Insert a line (possibly several) before this one, or at the end.
    Insert(Index, String),
    /// Indent the line by this many more spaces.
    Indent(Index, usize),
    /// Remove the line's indentation.
    Dedent(Index),
    /// Cut the whole text at this byte (on a char boundary).
    Truncate(Index),
    /// Random text pasted into the middle of a line.
    Splice(Index, String),
}

/// Line edits, replaced scalars from `scalars` and inserted lines from
/// `lines` (both non-empty) weighted above the rest: they reach the
/// typed fields and the syntax corners.
pub fn line_edit(
    scalars: Vec<&'static str>,
    lines: Vec<String>,
) -> impl Strategy<Value = LineEdit> {
    let i = any::<Index>;
    prop_oneof![
        1 => i().prop_map(LineEdit::Delete),
        1 => i().prop_map(LineEdit::Duplicate),
        1 => (i(), i()).prop_map(|(a, b)| LineEdit::Swap(a, b)),
        3 => (i(), select(scalars)).prop_map(|(a, s)| LineEdit::ReplaceScalar(a, s)),
        2 => (i(), select(lines)).prop_map(|(a, l)| LineEdit::Insert(a, l)),
        1 => (i(), 1..9usize).prop_map(|(a, n)| LineEdit::Indent(a, n)),
        1 => i().prop_map(LineEdit::Dedent),
        1 => i().prop_map(LineEdit::Truncate),
        1 => (i(), any::<String>()).prop_map(|(a, s)| LineEdit::Splice(a, s)),
    ]
}

/// `text` with `edit` applied; lines end in `\n` (an empty text is one
/// empty line), except after a truncation.
pub fn apply_line_edit(text: &str, edit: &LineEdit) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    if lines.is_empty() {
        lines.push(String::new());
    }
    let n = lines.len();
    match edit {
        LineEdit::Delete(i) => {
            lines.remove(i.index(n));
        }
        LineEdit::Duplicate(i) => {
            let at = i.index(n);
            lines.insert(at, lines[at].clone());
        }
        LineEdit::Swap(a, b) => lines.swap(a.index(n), b.index(n)),
        LineEdit::ReplaceScalar(i, s) => {
            let line = &mut lines[i.index(n)];
            *line = match line.find(": ") {
                Some(at) => format!("{}: {s}", &line[..at]),
                None => s.to_string(),
            };
        }
        LineEdit::Insert(i, l) => lines.insert(i.index(n + 1), l.clone()),
        LineEdit::Indent(i, by) => {
            let line = &mut lines[i.index(n)];
            *line = " ".repeat(*by) + line;
        }
        LineEdit::Dedent(i) => {
            let line = &mut lines[i.index(n)];
            *line = line.trim_start().to_string();
        }
        LineEdit::Truncate(i) => {
            let keep = i.index(text.len() + 1);
            let cut = (0..=keep).rev().find(|c| text.is_char_boundary(*c));
            return text[..cut.unwrap_or(0)].to_string();
        }
        LineEdit::Splice(i, s) => {
            let line = &mut lines[i.index(n)];
            let at = (0..=line.len() / 2)
                .rev()
                .find(|c| line.is_char_boundary(*c))
                .unwrap_or(0);
            line.insert_str(at, s);
        }
    }
    lines.join("\n") + "\n"
}
