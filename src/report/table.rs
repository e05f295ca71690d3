//! Text tables by terminal width, and sizes in human units.

use std::fmt;

pub(super) fn write_table(f: &mut fmt::Formatter<'_>, rows: &[[String; 6]]) -> fmt::Result {
    // Size right-aligned; the key column capped so one long key does not push every row.
    let columns = [
        Column::left(),
        Column::right(),
        Column::left().at_most(60),
        Column::left(),
        Column::left(),
        Column::left(),
    ];
    for line in aligned(rows, &columns) {
        writeln!(f, "  {line}")?;
    }
    Ok(())
}

/// How a column of a text table is laid out.
#[derive(Debug, Clone, Copy)]
pub(super) struct Column {
    right: bool,
    max: usize,
}

impl Column {
    pub(super) fn left() -> Column {
        Column {
            right: false,
            max: usize::MAX,
        }
    }

    pub(super) fn right() -> Column {
        Column {
            right: true,
            max: usize::MAX,
        }
    }

    fn at_most(self, max: usize) -> Column {
        Column { max, ..self }
    }
}

/// Rows laid out in columns two spaces apart, by the width each cell takes on a terminal (CJK
/// characters take two cells, combining marks none), trailing spaces trimmed.
pub(super) fn aligned<const N: usize>(rows: &[[String; N]], columns: &[Column; N]) -> Vec<String> {
    use unicode_width::UnicodeWidthStr;
    let mut widths = [0usize; N];
    for row in rows {
        for ((width, cell), column) in widths.iter_mut().zip(row).zip(columns) {
            *width = (*width).max(cell.width()).min(column.max);
        }
    }
    rows.iter()
        .map(|row| {
            let mut line = String::new();
            for ((cell, width), column) in row.iter().zip(widths).zip(columns) {
                let padding = " ".repeat(width.saturating_sub(cell.width()));
                if column.right {
                    line.push_str(&padding);
                    line.push_str(cell);
                } else {
                    line.push_str(cell);
                    line.push_str(&padding);
                }
                line.push_str("  ");
            }
            line.trim_end().to_string()
        })
        .collect()
}

/// `spadeploy releases`: one line per release, the live one marked.
pub(crate) fn releases_table(list: &[crate::state::release::ReleaseSummary]) -> String {
    let header = ["release", "pushed at", "files", "source", "live"].map(String::from);
    let rows: Vec<[String; 5]> = std::iter::once(header)
        .chain(list.iter().map(|r| {
            [
                r.id.clone(),
                r.pushed_at.clone(),
                r.files.to_string(),
                r.source
                    .as_deref()
                    .map_or("-".to_string(), |s| s.chars().take(12).collect()),
                if r.live { "*" } else { "" }.to_string(),
            ]
        }))
        .collect();
    let columns = [
        Column::left(),
        Column::left(),
        Column::right(),
        Column::left(),
        Column::left(),
    ];
    aligned(&rows, &columns)
        .into_iter()
        .map(|line| line + "\n")
        .collect()
}

pub(super) fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_stay_aligned_with_wide_and_combining_characters() {
        let cell = |s: &str| s.to_string();
        let rows = [
            [cell("upload"), cell("1 B"), cell("café.txt")],
            // NFD: "e" + a combining acute accent, one column on screen.
            [cell("update"), cell("10 B"), cell("cafe\u{301}.txt")],
            [cell("upload"), cell("100 B"), cell("日本語.html")],
            [cell("delete"), cell(""), cell("a.js")],
        ];
        let columns = [Column::left(), Column::right(), Column::left()];
        let lines = aligned(&rows, &columns);
        use unicode_width::UnicodeWidthStr;
        let key_at: Vec<usize> = lines
            .iter()
            .zip(&rows)
            .map(|(line, row)| {
                line.find(row[2].as_str())
                    .map(|i| line[..i].width())
                    .unwrap()
            })
            .collect();
        assert!(key_at.iter().all(|&at| at == key_at[0]), "{lines:#?}");
        assert!(
            lines[0].starts_with("upload    1 B  café.txt"),
            "{lines:#?}"
        );
    }

    #[test]
    fn bytes_are_human() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(150 * 1024 * 1024), "150.0 MiB");
    }
}
