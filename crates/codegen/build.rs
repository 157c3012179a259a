//! Embeds `templates/` (at the repository root) in the crate: one `include_str!` per file,
//! grouped by module folder, so the binary needs no templates directory at run time.
//!
//! Writes `$OUT_DIR/templates.rs` with
//! `const TEMPLATES: &[(&str, &[(&str, &str)])]` = [(module, [(path in the module, text)])],
//! modules and paths sorted. Refuses two modules writing the same output path.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn files_under(dir: &Path, prefix: &str, out: &mut Vec<(String, PathBuf)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().and_then(|n| n.to_str()).expect("a UTF-8 file name");
        let rel = if prefix.is_empty() { name.to_owned() } else { format!("{prefix}/{name}") };
        if path.is_dir() {
            files_under(&path, &rel, out);
        } else {
            out.push((rel, path));
        }
    }
}

fn main() {
    println!("cargo:rerun-if-changed=../../templates");
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let root = manifest.join("../../templates").canonicalize().expect("templates/ at the root");
    let mut modules: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("templates/")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.is_dir())
        .collect();
    modules.sort();

    let mut owner: BTreeMap<String, String> = BTreeMap::new();
    let mut code = String::from("const TEMPLATES: &[(&str, &[(&str, &str)])] = &[\n");
    for dir in &modules {
        let module = dir.file_name().and_then(|n| n.to_str()).expect("a UTF-8 module name");
        let mut files = Vec::new();
        files_under(dir, "", &mut files);
        writeln!(code, "    ({module:?}, &[").expect("a String");
        for (rel, _) in files {
            let output = rel.strip_suffix(".j2").unwrap_or(&rel).to_owned();
            assert!(output != "app.json", "templates/{module}/{rel}: app.json is written by Kiln");
            if let Some(other) = owner.insert(output.clone(), module.to_owned()) {
                panic!("templates/{module}/{rel}: templates/{other} writes {output} too");
            }
            // Relative to the crate being compiled, not an absolute path: build directories are
            // shared between checkouts (CI clones), and cargo may reuse this output for another.
            let from_crate = format!("/../../templates/{module}/{rel}");
            writeln!(
                code,
                "        ({rel:?}, include_str!(concat!(env!(\"CARGO_MANIFEST_DIR\"), {from_crate:?}))),"
            )
            .expect("a String");
        }
        code.push_str("    ]),\n");
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("templates.rs");
    std::fs::write(&out, code).unwrap_or_else(|e| panic!("writing {}: {e}", out.display()));
}
