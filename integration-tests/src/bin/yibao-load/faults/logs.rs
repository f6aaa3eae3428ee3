//! Row f: no ID number the suite sent appears in clear in any log of the cluster.

use super::verify::Figures;
use std::collections::{BTreeMap, HashSet};
use std::path::Path;

/// Positions in `text` where an 18-character ID number of `ids` starts.
fn occurrences<'a>(text: &'a [u8], ids: &HashSet<&[u8]>) -> Vec<&'a [u8]> {
    let mut found = Vec::new();
    let mut i = 0;
    while i + 18 <= text.len() {
        let window = &text[i..i + 18];
        let shaped = window[..17].iter().all(u8::is_ascii_digit)
            && (window[17].is_ascii_digit() || window[17] == b'X');
        if shaped && ids.contains(window) {
            found.push(window);
            i += 18;
        } else {
            i += 1;
        }
    }
    found
}

/// Scans every `*.log` under `dir` for the ID numbers in `people`.
pub(crate) fn scan(dir: &Path, people: &[String]) -> Figures {
    let mut f = Figures::default();
    let ids: HashSet<&[u8]> = people.iter().map(|p| p.as_bytes()).collect();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            f.failures
                .push(format!("cannot read {}: {e}", dir.display()));
            return f;
        }
    };
    let (mut files, mut bytes) = (0u64, 0u64);
    let mut hits: BTreeMap<String, usize> = BTreeMap::new();
    let mut example = None;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "log") {
            continue;
        }
        let Ok(text) = std::fs::read(&path) else {
            f.failures.push(format!("cannot read {}", path.display()));
            continue;
        };
        files += 1;
        bytes += text.len() as u64;
        let found = occurrences(&text, &ids);
        if let Some(first) = found.first() {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            example.get_or_insert_with(|| {
                // Masked in the report too: region, birth year, last character.
                let s = String::from_utf8_lossy(first);
                format!("{}…{} in {name}", &s[..10], &s[17..])
            });
            hits.insert(name, found.len());
        }
    }
    let total: usize = hits.values().sum();
    f.notes.push(format!(
        "searched {} ID numbers in {files} logs ({:.1} MB) of {}: {total} found",
        ids.len(),
        bytes as f64 / 1e6,
        dir.display()
    ));
    if total > 0 {
        let per_file: Vec<String> = hits.iter().map(|(n, c)| format!("{n} {c}")).collect();
        f.failures.push(format!(
            "{total} ID numbers in clear ({}), e.g. {}",
            per_file.join(", "),
            example.unwrap_or_default()
        ));
    }
    if files == 0 {
        f.failures.push(format!("no logs in {}", dir.display()));
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_whole_id_numbers_only() {
        let id = "34152219400101001X".to_string();
        let ids: HashSet<&[u8]> = [id.as_bytes()].into_iter().collect();
        let text = format!("a id_number={id} b 3415221940010100 c {id}\n");
        assert_eq!(occurrences(text.as_bytes(), &ids).len(), 2);
        assert!(occurrences(b"341522********001X", &ids).is_empty());
    }
}
