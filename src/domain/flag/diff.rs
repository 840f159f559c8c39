//! What a flag change changed, for its audit details: only the values that
//! differ, each under its JSON Pointer (RFC 6901) with its value before and
//! after. A flag may be 256 KiB; storing it whole twice per change made one
//! history view load hundreds of megabytes, where a rollout step is a few
//! bytes. Linear in the size of both documents.

use serde_json::{json, Map, Value};

/// `{"/rules/0/percentage": {"before": 10, "after": 20}, …}`; a value only
/// on one side has only that side. Arrays compare index by index, so an
/// added rule is one entry, not the whole list twice.
pub fn diff(before: &Value, after: &Value) -> Value {
    let mut out = Map::new();
    walk(&mut String::new(), before, after, &mut out);
    Value::Object(out)
}

fn walk(path: &mut String, before: &Value, after: &Value, out: &mut Map<String, Value>) {
    if before == after {
        return;
    }
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            for (k, bv) in b {
                descend(path, k, Some(bv), a.get(k), out);
            }
            for (k, av) in a.iter().filter(|(k, _)| !b.contains_key(*k)) {
                descend(path, k, None, Some(av), out);
            }
        }
        (Value::Array(b), Value::Array(a)) => {
            for i in 0..b.len().max(a.len()) {
                descend(path, &i.to_string(), b.get(i), a.get(i), out);
            }
        }
        _ => {
            out.insert(pointer(path), json!({ "before": before, "after": after }));
        }
    }
}

fn descend(
    path: &mut String,
    key: &str,
    before: Option<&Value>,
    after: Option<&Value>,
    out: &mut Map<String, Value>,
) {
    let len = path.len();
    path.push('/');
    path.push_str(&key.replace('~', "~0").replace('/', "~1"));
    match (before, after) {
        (Some(b), Some(a)) => walk(path, b, a, out),
        (Some(b), None) => {
            out.insert(pointer(path), json!({ "before": b }));
        }
        (None, Some(a)) => {
            out.insert(pointer(path), json!({ "after": a }));
        }
        (None, None) => {}
    }
    path.truncate(len);
}

/// The root is the empty pointer; `""` reads badly in a details column.
fn pointer(path: &str) -> String {
    if path.is_empty() {
        "/".to_string()
    } else {
        path.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_changed_is_kept() {
        let before =
            json!({ "enabled": true, "rules": [{ "rollout": 10 }], "variants": { "on": true } });
        let after = json!({ "enabled": true, "rules": [{ "rollout": 20 }, { "eq": "x" }],
            "variants": { "on": true, "a/b~": 1 } });
        assert_eq!(
            diff(&before, &after),
            json!({
                "/rules/0/rollout": { "before": 10, "after": 20 },
                "/rules/1": { "after": { "eq": "x" } },
                "/variants/a~1b~0": { "after": 1 },
            })
        );
        assert_eq!(diff(&before, &before), json!({}));
        assert_eq!(
            diff(&json!({ "a": 1 }), &json!({})),
            json!({ "/a": { "before": 1 } })
        );
        assert_eq!(
            diff(&json!(1), &json!("x")),
            json!({ "/": { "before": 1, "after": "x" } })
        );
    }

    #[test]
    fn a_small_change_to_a_large_flag_stays_small() {
        let big: Vec<Value> = (0..10_000).map(|i| json!({ "id": i })).collect();
        let before = json!({ "enabled": false, "rules": big });
        let mut after = before.clone();
        after["enabled"] = json!(true);
        let d = diff(&before, &after).to_string();
        assert!(d.len() < 64, "{d}");
    }
}
