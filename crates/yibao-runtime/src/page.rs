//! The one pagination rule for `yibao.common.v1.PageRequest`, in every service: keyset pages
//! behind opaque tokens, one default size and one maximum, and an error naming the field for
//! anything else — never a silent clamp.
//!
//! A page token carries the sort key of the last row returned (one or more columns), so a
//! store reads the next page with `WHERE (k1, k2) > (?, ?) ORDER BY k1, k2 LIMIT ?` and rows
//! written meanwhile neither repeat nor vanish. The store asks for [`Page::fetch`] rows (one
//! more than the page), and [`Page::finish`] cuts the page and makes the next token only when
//! another page exists.

use crate::error::ApiError;
use base64::Engine as _;
use yibao_proto::common::v1 as common;

/// Page size used when the request gives none.
pub const DEFAULT_PAGE_SIZE: u64 = 100;
/// Largest page size accepted.
pub const MAX_PAGE_SIZE: u64 = 1000;

pub use crate::error::codes::PAGE_INVALID;

const TOKEN_PREFIX: &str = "k1.";

/// A parsed page request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// Rows in the page.
    pub size: u64,
    /// Sort key of the last row of the previous page; empty for the first page.
    pub after: Vec<String>,
}

impl Page {
    /// Parses a request's page (absent: the first page of the default size).
    pub fn parse(p: Option<&common::PageRequest>) -> Result<Page, ApiError> {
        let (size, token) = p.map_or((0, ""), |p| (p.page_size, p.page_token.as_str()));
        let size = match u64::try_from(size) {
            Ok(0) => DEFAULT_PAGE_SIZE,
            Ok(n) if n <= MAX_PAGE_SIZE => n,
            _ => {
                return Err(PAGE_INVALID.invalid(
                    "page.page_size",
                    format!("must be 1 to {MAX_PAGE_SIZE} (0 or absent: {DEFAULT_PAGE_SIZE})"),
                ));
            }
        };
        let after = if token.is_empty() {
            Vec::new()
        } else {
            decode_token(token).ok_or_else(|| {
                PAGE_INVALID.invalid("page.page_token", "is not a token a previous page returned")
            })?
        };
        Ok(Page { size, after })
    }

    /// The first page of `size` rows (for callers inside the service).
    pub fn first(size: u64) -> Page {
        Page {
            size,
            after: Vec::new(),
        }
    }

    /// Rows the store should read: one more than the page, to know whether another follows.
    pub fn fetch(&self) -> u64 {
        self.size + 1
    }

    /// The `n`-th column of the previous page's last key, or "" on the first page.
    pub fn after_key(&self, n: usize) -> &str {
        self.after.get(n).map_or("", String::as_str)
    }

    /// True on the first page.
    pub fn is_first(&self) -> bool {
        self.after.is_empty()
    }

    /// Cuts `rows` (read with [`Page::fetch`]) to the page and returns the response's page,
    /// whose token carries `key` of the last row kept when more rows exist.
    pub fn finish<T>(
        &self,
        mut rows: Vec<T>,
        key: impl Fn(&T) -> Vec<String>,
    ) -> (Vec<T>, common::PageResponse) {
        let size = usize::try_from(self.size).unwrap_or(usize::MAX);
        let next_page_token = if rows.len() > size {
            rows.truncate(size);
            rows.last()
                .map(|r| encode_token(&key(r)))
                .unwrap_or_default()
        } else {
            String::new()
        };
        (rows, common::PageResponse { next_page_token })
    }
}

/// The opaque token of a sort key.
pub fn encode_token(key: &[String]) -> String {
    let json = serde_json::to_vec(key).unwrap_or_default();
    format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    )
}

fn decode_token(token: &str) -> Option<Vec<String>> {
    let body = token.strip_prefix(TOKEN_PREFIX)?;
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(body)
        .ok()?;
    let key: Vec<String> = serde_json::from_slice(&json).ok()?;
    (!key.is_empty()).then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(size: i32, token: &str) -> common::PageRequest {
        common::PageRequest {
            page_size: size,
            page_token: token.into(),
        }
    }

    #[test]
    fn absent_and_zero_mean_the_default_and_the_maximum_is_refused_not_clamped() {
        assert_eq!(Page::parse(None).map(|p| p.size), Ok(DEFAULT_PAGE_SIZE));
        assert_eq!(
            Page::parse(Some(&req(0, ""))).map(|p| p.size),
            Ok(DEFAULT_PAGE_SIZE)
        );
        assert_eq!(Page::parse(Some(&req(1000, ""))).map(|p| p.size), Ok(1000));
        for bad in [1001, -1] {
            let e = Page::parse(Some(&req(bad, ""))).err();
            let e = e.unwrap_or_else(|| panic!("{bad} accepted"));
            assert_eq!(e.code, "PAGE_INVALID");
            assert_eq!(e.violations[0].0, "page.page_size");
        }
    }

    #[test]
    fn tokens_round_trip_and_foreign_tokens_are_refused() {
        let page = Page::first(2);
        let (rows, resp) = page.finish(vec!["a", "b", "c"], |r| vec![r.to_string(), "x".into()]);
        assert_eq!(rows, vec!["a", "b"]);
        let next =
            Page::parse(Some(&req(2, &resp.next_page_token))).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(next.after, vec!["b".to_string(), "x".to_string()]);
        assert_eq!(
            (next.after_key(0), next.after_key(1), next.after_key(2)),
            ("b", "x", "")
        );
        let (rows, resp) = next.finish(vec!["c"], |r| vec![r.to_string()]);
        assert_eq!((rows.len(), resp.next_page_token.as_str()), (1, ""));
        for bad in ["200", "k1.!!", "k1.W10"] {
            let e = Page::parse(Some(&req(2, bad))).err();
            assert_eq!(
                e.map(|e| e.violations[0].0.clone()).as_deref(),
                Some("page.page_token"),
                "{bad}"
            );
        }
    }
}
