//! Rewriting JSON text in place: where a value borrowed from it
//! (`&RawValue`) lies, and the text with some of those values replaced.
//! A passthrough that changes one field (a whole answer's `model`, a
//! streamed string released redacted) sends the rest of the provider's
//! bytes as they came, instead of parsing and serializing them again.

use std::ops::Range;

use serde_json::value::RawValue;

/// Where `raw`, borrowed from `data`, lies in it.
pub fn span(data: &str, raw: &RawValue) -> Option<Range<usize>> {
    let start = (raw.get().as_ptr() as usize).checked_sub(data.as_ptr() as usize)?;
    let end = start.checked_add(raw.get().len())?;
    (data.get(start..end)? == raw.get()).then_some(start..end)
}

/// `data` with each span replaced (spans are disjoint: distinct values).
pub fn splice(data: &str, mut edits: Vec<(Range<usize>, String)>) -> String {
    edits.sort_by_key(|(span, _)| span.start);
    let grown: usize = edits.iter().map(|(_, json)| json.len()).sum();
    let mut s = String::with_capacity(data.len().saturating_add(grown));
    let mut at = 0;
    for (span, json) in edits {
        let Some(gap) = data.get(at..span.start) else {
            continue;
        };
        s.push_str(gap);
        s.push_str(&json);
        at = span.end;
    }
    s.push_str(data.get(at..).unwrap_or_default());
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_borrowed_value_is_found_and_replaced_in_place() {
        let data = r#"{"a": [1, 2], "b" :"x\"y", "c":null}"#;
        let v: std::collections::BTreeMap<&str, &RawValue> = serde_json::from_str(data).unwrap();
        let b = span(data, v["b"]).unwrap();
        assert_eq!(&data[b.clone()], r#""x\"y""#);
        let a = span(data, v["a"]).unwrap();
        let out = splice(data, vec![(b, "\"z\"".into()), (a, "[]".into())]);
        assert_eq!(out, r#"{"a": [], "b" :"z", "c":null}"#);
        // A value not borrowed from `data` has no place in it.
        let other = RawValue::from_string("1".into()).unwrap();
        assert_eq!(span(data, &other), None);
    }
}
