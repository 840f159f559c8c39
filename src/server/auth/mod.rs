//! Portal sign-in: argon2id passwords, server-side sessions, throttling and
//! the cross-origin check on mutations.

pub mod cookie;
pub mod origin;
pub mod password;
pub mod session;
