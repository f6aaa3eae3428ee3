//! The error-code catalogue of the whole platform, generated from the codes each crate
//! declares once (`yibao_runtime::error_codes!`): `yibao errors` prints it as Markdown, and
//! `docs/errors.md` is that output, kept in step by a test.

use yibao_runtime::error::ErrorCode;

/// Every crate's codes, in the order the catalogue lists them.
pub fn sections() -> Vec<(&'static str, &'static [ErrorCode])> {
    vec![
        (
            "runtime (every service and the gateway)",
            yibao_runtime::error::codes::CODES,
        ),
        ("gateway", yibao_gateway::error::CODES),
        ("enrollment", yibao_enrollment::error::CODES),
        ("settlement", yibao_settlement::error::CODES),
        ("ltc (long-term care)", yibao_ltc::error::CODES),
        ("procurement", yibao_procurement::error::CODES),
        ("supervision", yibao_supervision::error::CODES),
    ]
}

/// The catalogue as Markdown.
pub fn markdown() -> String {
    let mut out = String::from(
        "# Error codes\n\n\
         Every error Yibao answers carries a stable code: over gRPC in `google.rpc.ErrorInfo.reason` \
         (domain `yibao.org`), over REST as `code` in the `application/problem+json` body, with the \
         offending fields in `google.rpc.BadRequest` / `errors[].field`. Match on the code, never on \
         the message. This page is generated from the code (`cargo run -p yibao -- errors`); a test \
         fails when it is stale.\n",
    );
    for (section, codes) in sections() {
        out.push_str(&format!(
            "\n## {section}\n\n| code | gRPC | HTTP | meaning |\n| --- | --- | --- | --- |\n"
        ));
        for c in codes {
            out.push_str(&format!(
                "| `{}` | {} | {} | {} |\n",
                c.code,
                c.kind.grpc_name(),
                c.kind.http_status(),
                c.meaning.replace('|', "\\|")
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_across_the_platform() {
        let mut seen = HashSet::new();
        for (section, codes) in sections() {
            for c in codes {
                assert!(
                    seen.insert(c.code),
                    "{} is declared twice ({section})",
                    c.code
                );
                assert!(!c.meaning.is_empty(), "{} has no meaning", c.code);
            }
        }
    }

    #[test]
    fn docs_errors_md_is_the_generated_catalogue() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/errors.md");
        let on_disk = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            on_disk == markdown(),
            "docs/errors.md is stale: run `cargo run -p yibao -- errors > docs/errors.md`"
        );
    }
}
