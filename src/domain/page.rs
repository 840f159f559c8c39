use serde::{Deserialize, Serialize};

pub const DEFAULT_PER_PAGE: u32 = 25;
pub const MAX_PER_PAGE: u32 = 200;

/// A window on a list, chosen by the caller (usually from the URL query).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageRequest {
    pub page: u32,
    pub per_page: u32,
}

impl PageRequest {
    /// Out-of-range values are clamped rather than rejected: a hand-edited URL
    /// should still show something sensible.
    pub fn new(page: Option<u32>, per_page: Option<u32>) -> Self {
        Self {
            page: page.unwrap_or(1).max(1),
            per_page: per_page.unwrap_or(DEFAULT_PER_PAGE).clamp(1, MAX_PER_PAGE),
        }
    }

    pub fn offset(&self) -> i64 {
        i64::from(self.page - 1) * i64::from(self.per_page)
    }

    pub fn limit(&self) -> i64 {
        i64::from(self.per_page)
    }
}

impl Default for PageRequest {
    fn default() -> Self {
        Self::new(None, None)
    }
}

/// Which way a list is sorted, from the URL query (`dir=asc|desc`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SortDir {
    #[default]
    Asc,
    Desc,
}

impl SortDir {
    /// Anything but `desc` reads as ascending: a hand-edited URL still works.
    pub fn parse(s: &str) -> Self {
        if s.eq_ignore_ascii_case("desc") {
            SortDir::Desc
        } else {
            SortDir::Asc
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SortDir::Asc => "asc",
            SortDir::Desc => "desc",
        }
    }

    pub fn flip(self) -> Self {
        match self {
            SortDir::Asc => SortDir::Desc,
            SortDir::Desc => SortDir::Asc,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: i64,
    pub page: u32,
    pub per_page: u32,
}

impl<T> Page<T> {
    pub fn new(items: Vec<T>, total: i64, req: PageRequest) -> Self {
        Self {
            items,
            total,
            page: req.page,
            per_page: req.per_page,
        }
    }

    pub fn page_count(&self) -> u32 {
        let per = i64::from(self.per_page.max(1));
        u32::try_from(((self.total + per - 1) / per).max(1)).unwrap_or(u32::MAX)
    }

    pub fn has_next(&self) -> bool {
        self.page < self.page_count()
    }

    pub fn has_prev(&self) -> bool {
        self.page > 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_directions_parse_leniently_and_flip() {
        assert_eq!(SortDir::parse("DESC"), SortDir::Desc);
        assert_eq!(SortDir::parse("sideways"), SortDir::Asc);
        assert_eq!(SortDir::Asc.flip().as_str(), "desc");
    }

    #[test]
    fn clamps_requests() {
        let r = PageRequest::new(Some(0), Some(10_000));
        assert_eq!((r.page, r.per_page), (1, MAX_PER_PAGE));
        assert_eq!(PageRequest::new(Some(3), Some(10)).offset(), 20);
    }

    #[test]
    fn counts_pages() {
        let p: Page<u8> = Page::new(vec![], 51, PageRequest::new(Some(2), Some(25)));
        assert_eq!(p.page_count(), 3);
        assert!(p.has_next() && p.has_prev());
        let empty: Page<u8> = Page::new(vec![], 0, PageRequest::default());
        assert_eq!(empty.page_count(), 1);
        assert!(!empty.has_next());
    }
}

/// The noun for `n` of something: "1 tenant", "2 tenants".
pub fn noun<'a>(n: i64, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 {
        one
    } else {
        many
    }
}

#[cfg(test)]
mod noun_tests {
    use super::noun;

    #[test]
    fn one_is_singular_and_every_other_count_plural() {
        assert_eq!(noun(1, "tenant", "tenants"), "tenant");
        assert_eq!(noun(0, "tenant", "tenants"), "tenants");
        assert_eq!(noun(2, "API key", "API keys"), "API keys");
    }
}
