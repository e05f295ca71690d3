//! A small writer of Terraform's HCL: blocks, attributes, comments and the few expressions the
//! export needs. Every string goes through [`quote`]; a raw expression ([`Expr::Raw`]) comes only
//! from the export's own constants, never from input.

use std::fmt::Write as _;

#[derive(Debug, Clone)]
pub(super) enum Expr {
    Str(String),
    /// A reference or expression written as is (`aws_s3_bucket.site.id`).
    Raw(String),
    Bool(bool),
    Num(u32),
    List(Vec<Expr>),
    Object(Vec<(&'static str, Expr)>),
}

impl Expr {
    pub(super) fn str(text: impl Into<String>) -> Expr {
        Expr::Str(text.into())
    }

    pub(super) fn raw(text: impl Into<String>) -> Expr {
        Expr::Raw(text.into())
    }

    pub(super) fn strs<S: AsRef<str>>(items: &[S]) -> Expr {
        Expr::List(items.iter().map(|s| Expr::str(s.as_ref())).collect())
    }
}

#[derive(Debug, Clone)]
pub(super) enum Item {
    Attr(&'static str, Expr),
    Block(Block),
    Comment(String),
    Blank,
}

#[derive(Debug, Clone)]
pub(super) struct Block {
    pub kind: &'static str,
    pub labels: Vec<String>,
    pub items: Vec<Item>,
}

/// `kind "label"… { items }`.
pub(super) fn block(kind: &'static str, labels: &[&str], items: Vec<Item>) -> Item {
    Item::Block(Block {
        kind,
        labels: labels.iter().map(|l| (*l).to_string()).collect(),
        items,
    })
}

pub(super) fn attr(name: &'static str, value: Expr) -> Item {
    Item::Attr(name, value)
}

pub(super) fn comment(text: &str) -> Item {
    Item::Comment(text.to_string())
}

/// The file: top-level items separated by blank lines where the caller put them.
pub(super) fn render(items: &[Item]) -> String {
    let mut out = String::new();
    write_items(&mut out, items, 0);
    out
}

fn write_items(out: &mut String, items: &[Item], depth: usize) {
    let indent = "  ".repeat(depth);
    for (i, item) in items.iter().enumerate() {
        match item {
            Item::Attr(name, value) => {
                let width = run_width(items, i);
                let _ = writeln!(out, "{indent}{name:width$} = {}", expr(value, depth));
            }
            Item::Block(block) => {
                out.push_str(&indent);
                out.push_str(block.kind);
                for label in &block.labels {
                    out.push(' ');
                    out.push_str(&quote(label));
                }
                out.push_str(" {\n");
                write_items(out, &block.items, depth + 1);
                let _ = writeln!(out, "{indent}}}");
            }
            Item::Comment(text) => {
                for line in text.lines() {
                    let line = format!("{indent}# {line}");
                    out.push_str(line.trim_end());
                    out.push('\n');
                }
            }
            Item::Blank => out.push('\n'),
        }
    }
}

/// The widest name among the attributes next to item `at` (as `terraform fmt` aligns the `=`
/// of consecutive attributes).
fn run_width(items: &[Item], at: usize) -> usize {
    let name = |item: &Item| match item {
        Item::Attr(name, _) => Some(name.len()),
        _ => None,
    };
    let before = items[..at].iter().rev().map_while(name);
    let after = items[at..].iter().map_while(name);
    before.chain(after).max().unwrap_or(0)
}

fn expr(value: &Expr, depth: usize) -> String {
    match value {
        Expr::Str(text) => quote(text),
        Expr::Raw(text) => text.clone(),
        Expr::Bool(b) => b.to_string(),
        Expr::Num(n) => n.to_string(),
        Expr::List(items) => {
            let items: Vec<String> = items.iter().map(|e| expr(e, depth)).collect();
            format!("[{}]", items.join(", "))
        }
        Expr::Object(fields) => {
            let indent = "  ".repeat(depth + 1);
            let mut text = String::from("{\n");
            let width = fields.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
            for (name, value) in fields {
                let _ = writeln!(text, "{indent}{name:width$} = {}", expr(value, depth + 1));
            }
            text.push_str(&"  ".repeat(depth));
            text.push('}');
            text
        }
    }
}

/// A quoted HCL string holding `text` exactly: backslash escapes for `"`, `\` and control
/// characters, and `$${` / `%%{` so that no template interpolation or directive starts.
pub(super) fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' | '%' if chars.peek() == Some(&'{') => {
                out.push(c);
                out.push(c);
            }
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_cannot_start_an_interpolation_or_end_early() {
        assert_eq!(quote("a\"b"), r#""a\"b""#);
        assert_eq!(quote(r"a\b"), r#""a\\b""#);
        assert_eq!(quote("${x} %{if}"), r#""$${x} %%{if}""#);
        assert_eq!(quote("$x %d"), r#""$x %d""#);
        assert_eq!(quote("a\nb\u{1}"), r#""a\nb\u0001""#);
    }

    #[test]
    fn blocks_nest_and_comments_stay_comments() {
        let text = render(&[block(
            "resource",
            &["aws_s3_bucket", "site"],
            vec![
                comment("one\ntwo"),
                attr("bucket", Expr::str("b")),
                block("lifecycle", &[], vec![attr("x", Expr::raw("[code]"))]),
            ],
        )]);
        assert_eq!(
            text,
            "resource \"aws_s3_bucket\" \"site\" {\n  # one\n  # two\n  bucket = \"b\"\n  \
             lifecycle {\n    x = [code]\n  }\n}\n"
        );
    }
}
