use thiserror::Error;

/// Bad input, described so a person can fix it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{field}: {message}")]
pub struct Invalid {
    pub field: &'static str,
    pub message: String,
}

impl Invalid {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}

/// Numbers typed into forms arrive as text; say which field is wrong.
pub fn whole_number(field: &'static str, raw: &str) -> Result<i64, Invalid> {
    raw.trim()
        .parse::<i64>()
        .map_err(|_| Invalid::new(field, "must be a whole number"))
}

pub fn optional_whole_number(field: &'static str, raw: &str) -> Result<Option<i64>, Invalid> {
    if raw.trim().is_empty() {
        Ok(None)
    } else {
        whole_number(field, raw).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_form_numbers() {
        assert_eq!(whole_number("rpm", " 60 "), Ok(60));
        assert_eq!(
            whole_number("rpm", "sixty").map_err(|e| e.field),
            Err("rpm")
        );
        assert_eq!(optional_whole_number("days", ""), Ok(None));
        assert_eq!(optional_whole_number("days", "7"), Ok(Some(7)));
    }
}
