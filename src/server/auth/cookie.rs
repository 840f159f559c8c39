//! The session cookie: HttpOnly, SameSite=Lax, Secure behind TLS.

pub const SESSION_COOKIE: &str = "atrium_session";

pub fn set_session(token: &str, max_age_secs: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}"
    )
}

pub fn clear_session(secure: bool) -> String {
    set_session("", 0, secure)
}

/// Finds the session token in a `Cookie` header.
pub fn session_token(cookie_header: &str) -> Option<&str> {
    cookie_header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value)
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_token_among_other_cookies() {
        assert_eq!(session_token("a=1; atrium_session=tok; b=2"), Some("tok"));
        assert_eq!(session_token("a=1"), None);
        assert_eq!(session_token("atrium_session="), None);
    }

    #[test]
    fn cookie_flags() {
        let c = set_session("t", 60, true);
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Lax") && c.contains("Secure"));
        assert!(!set_session("t", 60, false).contains("Secure"));
    }
}
