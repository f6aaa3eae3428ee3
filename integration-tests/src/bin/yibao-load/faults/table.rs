//! The one table, the details under it, and the schemathesis row.

use super::Row;
use super::verify::Figures;
use std::path::Path;

const HEADER: [&str; 8] = [
    "scenario",
    "acknowledged",
    "present",
    "lost",
    "doubled",
    "5xx",
    "other errors",
    "verdict",
];

fn cells(r: &Row) -> [String; 8] {
    let f = &r.figures;
    let n = |v: u64| {
        if f.counted { v.to_string() } else { "-".into() }
    };
    let other = if !f.counted {
        "-".to_string()
    } else if f.other.is_empty() {
        "0".to_string()
    } else {
        f.other
            .iter()
            .map(|(label, count)| format!("{label} ×{count}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    [
        r.name.clone(),
        n(f.acknowledged),
        n(f.present),
        n(f.lost),
        n(f.doubled),
        n(f.server_errors),
        other,
        if f.failures.is_empty() {
            "ok".into()
        } else {
            "FAIL".into()
        },
    ]
}

/// Prints the table, then each row's notes and failures.
pub(crate) fn print(rows: &[Row]) {
    let table: Vec<[String; 8]> = rows.iter().map(cells).collect();
    let mut width = HEADER.map(|h| h.chars().count());
    for row in &table {
        for (w, c) in width.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(width)
            .map(|(c, w)| format!("{c}{}", " ".repeat(w - c.chars().count())))
            .collect();
        println!("| {} |", padded.join(" | "));
    };
    line(&HEADER.map(String::from));
    println!(
        "|{}|",
        width
            .iter()
            .map(|w| "-".repeat(w + 2))
            .collect::<Vec<_>>()
            .join("|")
    );
    for row in &table {
        line(row);
    }
    println!();
    for r in rows {
        println!("{}", r.name);
        for n in &r.figures.notes {
            println!("    {n}");
        }
        for e in &r.figures.failures {
            println!("    FAIL: {e}");
        }
    }
}

/// Row g: `scripts/schemathesis.sh` (which starts its own `yibao up --demo` from the `yibao`
/// binary in `bin_dir`), when the script exists; 1,000 generated requests in the short form,
/// its default (10,000) in the full form. None when there is no such script.
pub(crate) async fn schemathesis(bin_dir: &Path, short: bool) -> Option<Result<Figures, String>> {
    let script = Path::new("scripts/schemathesis.sh");
    if !script.exists() {
        return None;
    }
    let yibao = bin_dir.join("yibao");
    let out = tokio::task::spawn_blocking(move || {
        let mut c = std::process::Command::new("scripts/schemathesis.sh");
        if short {
            c.env("CASES", "1000");
        }
        c.env("YIBAO_BIN", yibao).output()
    })
    .await;
    let out = match out {
        Ok(Ok(o)) => o,
        Ok(Err(e)) => return Some(Err(format!("scripts/schemathesis.sh: {e}"))),
        Err(e) => return Some(Err(format!("scripts/schemathesis.sh: {e}"))),
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let last = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    let mut f = Figures::default();
    f.notes.push(format!("its last line: {}", last.trim()));
    if !out.status.success() {
        f.failures.push(format!(
            "scripts/schemathesis.sh exited with {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        ));
    }
    Some(Ok(f))
}
