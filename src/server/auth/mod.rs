//! Portal sign-in at the HTTP edge: the session cookie, the client's
//! address, the `Actor` extractor and the cross-origin check on mutations.
//! Sessions themselves (SQL, throttling) are `services::sessions`.

pub mod client;
pub mod cookie;
pub mod extract;
pub mod origin;
