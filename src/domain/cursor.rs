//! Cursor paging for the admin API: lists ordered by a number (a creation
//! time) and an id, resumed after the last row seen. Unlike page numbers,
//! a cursor stays put when rows are inserted before it.

use serde::{Deserialize, Serialize};

use super::validation::Invalid;

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 200;
/// Longer cursors are not ours; refused before decoding.
const MAX_CURSOR_LEN: usize = 256;

/// Where a list resumes: after `(key, id)`, at most `limit` rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CursorRequest {
    pub limit: u32,
    pub after: Option<(i64, String)>,
}

impl CursorRequest {
    /// A limit outside 1..=200 and a cursor we did not issue are the
    /// caller's mistakes, refused as such.
    pub fn new(limit: Option<u32>, cursor: Option<&str>) -> Result<Self, Invalid> {
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(Invalid::new("limit", format!("must be 1 to {MAX_LIMIT}")));
        }
        let after = match cursor.map(str::trim).filter(|c| !c.is_empty()) {
            Some(c) => Some(decode(c)?),
            None => None,
        };
        Ok(Self { limit, after })
    }

    pub fn first(limit: u32) -> Self {
        Self {
            limit: limit.clamp(1, MAX_LIMIT),
            after: None,
        }
    }

    /// Rows to fetch: one more than the limit tells whether a next page
    /// exists without counting.
    pub fn fetch(&self) -> i64 {
        i64::from(self.limit) + 1
    }

    /// The bounds for `WHERE (key, id) > (after_key, after_id)`, written
    /// portably as `key > $k OR (key = $k AND id > $i)`.
    pub fn bounds(&self) -> (i64, String) {
        self.after.clone().unwrap_or((i64::MIN, String::new()))
    }

    /// Cuts the fetched rows to the limit and names the next cursor.
    pub fn page<T>(&self, mut rows: Vec<T>, key: impl Fn(&T) -> (i64, String)) -> CursorPage<T> {
        let limit = self.limit as usize;
        let next_cursor = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(|r| {
                let (k, id) = key(r);
                encode(k, &id)
            })
        } else {
            None
        };
        CursorPage {
            data: rows,
            next_cursor,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CursorPage<T> {
    pub data: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> CursorPage<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> CursorPage<U> {
        CursorPage {
            data: self.data.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
        }
    }
}

/// `<key>.<hex of id>`: opaque to callers, plain to read back.
pub fn encode(key: i64, id: &str) -> String {
    format!("{key}.{}", hex::encode(id.as_bytes()))
}

pub fn decode(cursor: &str) -> Result<(i64, String), Invalid> {
    let bad = || Invalid::new("cursor", "is not a cursor this list issued");
    if cursor.len() > MAX_CURSOR_LEN {
        return Err(bad());
    }
    let (key, id) = cursor.split_once('.').ok_or_else(bad)?;
    let key: i64 = key.parse().map_err(|_| bad())?;
    let id = hex::decode(id).map_err(|_| bad())?;
    let id = String::from_utf8(id).map_err(|_| bad())?;
    if id.chars().any(char::is_control) {
        return Err(bad());
    }
    Ok((key, id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_strangers_are_refused() {
        let c = encode(-5, "ab-1");
        assert_eq!(decode(&c), Ok((-5, "ab-1".to_string())));
        assert!(decode("x").is_err());
        assert!(decode("1.zz").is_err());
        assert!(decode(&"1".repeat(300)).is_err());
        assert!(
            decode(&encode(1, "a\0b")).is_err(),
            "no NUL reaches the database"
        );
        assert!(CursorRequest::new(Some(0), None).is_err());
        assert!(CursorRequest::new(Some(201), None).is_err());
    }

    #[test]
    fn a_page_names_the_next_cursor_only_when_more_rows_exist() {
        let req = CursorRequest::first(2);
        let p = req.page(vec![1, 2, 3], |n| (*n as i64, n.to_string()));
        assert_eq!(p.data, vec![1, 2]);
        assert_eq!(
            p.next_cursor.as_deref().map(decode),
            Some(Ok((2, "2".into())))
        );
        let p = req.page(vec![1, 2], |n| (*n as i64, n.to_string()));
        assert_eq!(p.next_cursor, None);
    }
}
