//! Line numbers for imported rules: byte offsets to lines, and the offset of every value of a
//! JSON document by its JSON pointer (one pass; `serde_json` keeps no positions).

use super::*;

/// 1-based line numbers of byte offsets, by binary search over the line starts. Counting the
/// newlines before each rule again took 17 s for a 20,000-rule file.
pub(super) struct Lines(Vec<usize>);

impl Lines {
    pub(super) fn new(text: &str) -> Lines {
        Lines(
            std::iter::once(0)
                .chain(text.match_indices('\n').map(|(at, _)| at + 1))
                .collect(),
        )
    }

    pub(super) fn line(&self, offset: usize) -> usize {
        // Line 1 starts at 0, so at least one start is `<= offset`.
        self.0.partition_point(|&start| start <= offset)
    }
}

/// Where each value of a JSON text starts, by JSON pointer (`/hosting/0/rewrites/3/source`),
/// found in one pass. Searching the text for each rule's `source` was quadratic, and named the
/// first of two rules with the same `source` (or another site's rule) for both.
pub(super) struct JsonPositions {
    at: HashMap<String, usize>,
    lines: Lines,
}

impl JsonPositions {
    /// `text` must be JSON that serde_json accepted; for anything else the positions found are
    /// incomplete, never a panic or an endless loop (every step consumes a byte or returns).
    pub(super) fn new(text: &str) -> JsonPositions {
        let mut positions = JsonPositions {
            at: HashMap::new(),
            lines: Lines::new(text),
        };
        let mut i = 0;
        positions.value(text, &mut i, &mut String::new());
        positions
    }

    /// The line of `pointer`'s first `keys` (`source`), else of `pointer` itself, else 1.
    pub(super) fn line(&self, pointer: &str, keys: &[&str]) -> usize {
        keys.iter()
            .find_map(|key| self.at.get(&format!("{pointer}/{key}")))
            .or_else(|| self.at.get(pointer))
            .map_or(1, |&offset| self.lines.line(offset))
    }

    pub(super) fn value(&mut self, text: &str, i: &mut usize, path: &mut String) {
        let bytes = text.as_bytes();
        skip_space(bytes, i);
        self.at.insert(path.clone(), *i);
        match bytes.get(*i) {
            Some(b'{') => self.object(text, i, path),
            Some(b'[') => self.array(text, i, path),
            Some(b'"') => *i = string_end(bytes, *i),
            Some(_) => {
                // A number or literal: up to the next delimiter.
                *i += 1;
                while !matches!(
                    bytes.get(*i),
                    None | Some(b',' | b']' | b'}' | b' ' | b'\t' | b'\n' | b'\r')
                ) {
                    *i += 1;
                }
            }
            None => {}
        }
    }

    /// The members of an object, each under its key's pointer; `i` is at the `{`.
    fn object(&mut self, text: &str, i: &mut usize, path: &mut String) {
        let bytes = text.as_bytes();
        *i += 1;
        loop {
            skip_space(bytes, i);
            match bytes.get(*i) {
                Some(b'"') => {
                    let end = string_end(bytes, *i);
                    // Keys with escapes are rare; decoding them keeps the pointer exact.
                    let key: String = serde_json::from_str(&text[*i..end]).unwrap_or_default();
                    *i = end;
                    skip_space(bytes, i);
                    *i += 1; // the `:`
                    let len = path.len();
                    path.push('/');
                    path.push_str(&key.replace('~', "~0").replace('/', "~1"));
                    self.value(text, i, path);
                    path.truncate(len);
                }
                Some(b',') => *i += 1,
                Some(b'}') => {
                    *i += 1;
                    return;
                }
                _ => return,
            }
        }
    }

    /// The items of an array, each under its index's pointer; `i` is at the `[`.
    fn array(&mut self, text: &str, i: &mut usize, path: &mut String) {
        let bytes = text.as_bytes();
        *i += 1;
        let mut index = 0;
        loop {
            skip_space(bytes, i);
            match bytes.get(*i) {
                Some(b']') => {
                    *i += 1;
                    return;
                }
                Some(b',') => *i += 1,
                Some(b'}') | None => return,
                Some(_) => {
                    let len = path.len();
                    let _ = write!(path, "/{index}");
                    self.value(text, i, path);
                    path.truncate(len);
                    index += 1;
                }
            }
        }
    }
}

pub(super) fn skip_space(bytes: &[u8], i: &mut usize) {
    while matches!(bytes.get(*i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        *i += 1;
    }
}

/// Just past the closing quote of the string whose opening quote is at `start`.
pub(super) fn string_end(bytes: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_positions_follow_pointers() {
        let text = "{\"a\": [1, {\"b\\\"\": \"x\"}],\n \"c/d\": {\"e\": \"[{\"},\n \"f\": [[], {}, \"\\\\\"]}";
        let positions = JsonPositions::new(text);
        assert_eq!(positions.at[""], 0);
        assert_eq!(&text[positions.at["/a/1/b\""]..][..3], "\"x\"");
        assert_eq!(&text[positions.at["/c~1d/e"]..][..4], "\"[{\"");
        assert_eq!(&text[positions.at["/f/2"]..][..4], "\"\\\\\"");
        assert_eq!(positions.line("/f/1", &["none"]), 3);
        assert_eq!(positions.line("/nowhere", &["x"]), 1);
    }
}
