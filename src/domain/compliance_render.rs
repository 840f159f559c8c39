//! Reports as people read them: a printable HTML page, and CSV of their
//! tables. Both are renderings of the signed JSON document, which stays
//! the evidence; they are built from any report's shape, so a new field
//! shows without a template change.

use serde_json::{Map, Value};

use super::csv::cell;

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A scalar as text; objects and arrays inside cells as compact JSON.
fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn is_table(v: &Value) -> bool {
    matches!(v, Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_object))
}

/// The column names of an array of objects, in first-seen order.
pub fn columns(items: &[Value]) -> Vec<String> {
    let mut cols: Vec<String> = Vec::new();
    for o in items.iter().filter_map(Value::as_object) {
        for k in o.keys() {
            if !cols.contains(k) {
                cols.push(k.clone());
            }
        }
    }
    cols
}

fn html_table(items: &[Value]) -> String {
    let cols = columns(items);
    let mut out = String::from("<table><thead><tr>");
    for c in &cols {
        out.push_str(&format!("<th>{}</th>", esc(c)));
    }
    out.push_str("</tr></thead><tbody>");
    for o in items.iter().filter_map(Value::as_object) {
        out.push_str("<tr>");
        for c in &cols {
            let v = o.get(c).map(text).unwrap_or_default();
            out.push_str(&format!("<td>{}</td>", esc(&v)));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    out
}

fn html_fields(map: &Map<String, Value>, depth: usize) -> String {
    let mut out = String::from("<dl>");
    let mut tables = String::new();
    for (k, v) in map {
        if is_table(v) {
            if let Value::Array(items) = v {
                let h = if depth == 0 { "h2" } else { "h3" };
                tables.push_str(&format!("<{h}>{}</{h}>{}", esc(k), html_table(items)));
            }
            continue;
        }
        let shown = match v {
            Value::Object(inner) if depth < 2 => html_fields(inner, depth + 1),
            other => esc(&text(other)),
        };
        out.push_str(&format!("<dt>{}</dt><dd>{shown}</dd>", esc(k)));
    }
    out.push_str("</dl>");
    out.push_str(&tables);
    out
}

/// A printable page of a report document.
pub fn html(doc: &Value) -> String {
    let title = format!("{} {}", text(&doc["kind"]).to_uppercase(), text(&doc["id"]));
    let mut meta = Map::new();
    for k in [
        "id",
        "kind",
        "tenant_id",
        "period",
        "generated_at",
        "atrium_version",
        "body_sha256",
    ] {
        meta.insert(k.to_string(), doc[k].clone());
    }
    if let Some(sig) = doc.get("signature") {
        meta.insert("signature".into(), sig.clone());
    }
    let body = doc
        .get("body")
        .and_then(Value::as_object)
        .map(|b| html_fields(b, 0))
        .unwrap_or_default();
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\
         <style>body{{font:14px sans-serif;margin:2em}}table{{border-collapse:collapse;\
         margin:1em 0}}td,th{{border:1px solid #999;padding:4px;text-align:left;\
         vertical-align:top}}dt{{font-weight:bold}}dd{{margin:0 0 .5em 1.5em}}</style>\
         </head><body><h1>{t}</h1>{m}{b}<p>The signed JSON document is the evidence; \
         this page renders it. Verify with <code>atrium compliance verify</code>.</p>\
         </body></html>",
        t = esc(&title),
        m = html_fields(&meta, 1),
        b = body
    )
}

/// One table (an array of objects) as CSV with a header row.
pub fn table_csv(items: &[Value]) -> String {
    let cols = columns(items);
    let mut out = cols.iter().map(|c| cell(c)).collect::<Vec<_>>().join(",");
    out.push('\n');
    for o in items.iter().filter_map(Value::as_object) {
        let row: Vec<String> = cols
            .iter()
            .map(|c| cell(&o.get(c).map(text).unwrap_or_default()))
            .collect();
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}

/// Every table in the report's body as CSV, each headed by a `# name` line.
pub fn csv(doc: &Value) -> String {
    let mut out = String::new();
    let Some(body) = doc.get("body").and_then(Value::as_object) else {
        return out;
    };
    for (name, v) in body {
        let Value::Array(items) = v else { continue };
        if !is_table(v) {
            continue;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&format!("# {name}\n"));
        out.push_str(&table_csv(items));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_tables_and_escapes() {
        let doc = json!({ "id": "rpt_1", "kind": "ropa", "body": {
            "name": "<b>x</b>",
            "recipients": [{ "provider": "p,1", "requests": 2 }] } });
        let page = html(&doc);
        assert!(page.contains("&lt;b&gt;x&lt;/b&gt;"));
        assert!(page.contains("<th>provider</th>"));
        assert_eq!(csv(&doc), "# recipients\nprovider,requests\n\"p,1\",2\n");
    }
}
