//! One CSV cell rule for every download (invoices, usage, audit): quoted
//! when it must be, and never read as a formula by a spreadsheet (a cell
//! starting with `=`, `+`, `-`, `@`, a tab or a carriage return gets a
//! leading apostrophe, as OWASP's CSV injection advice says). Model names,
//! key names and audit details are chosen by tenants, so every text cell
//! goes through here.

pub fn cell(c: &str) -> String {
    let guarded = if c.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{c}")
    } else {
        c.to_string()
    };
    if guarded.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

#[cfg(test)]
mod tests {
    use super::cell;

    #[test]
    fn formulas_are_defused_and_separators_quoted() {
        assert_eq!(cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(cell("+1"), "'+1");
        assert_eq!(cell("a,b"), "\"a,b\"");
        assert_eq!(cell("plain"), "plain");
    }
}
