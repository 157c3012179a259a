//! `examples/todo/` is the tree Kiln generates from the development set's todo description
//! (offline planner, then the templates), committed as a golden copy. This test generates it
//! again and fails on any difference, so every template or planner change shows up as a diff
//! of that folder in review. After an intended change, rewrite the copy with
//!
//!     KILN_UPDATE_GOLDEN=1 cargo test -p kiln-codegen --test golden

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn todo_description() -> String {
    kiln_planner::quality::dev_set()
        .into_iter()
        .find(|c| c.id == "todo")
        .expect("the todo description of the development set")
        .description
}

fn files_under(dir: &Path) -> BTreeMap<String, String> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(base, &path, out);
            } else {
                let rel = path.strip_prefix(base).expect("under base");
                let rel = rel.to_string_lossy().replace('\\', "/");
                out.insert(rel, std::fs::read_to_string(&path).expect("utf-8 file"));
            }
        }
    }
    let mut out = BTreeMap::new();
    if dir.exists() {
        walk(dir, dir, &mut out);
    }
    out
}

#[test]
fn the_todo_example_is_what_kiln_generates() {
    let spec = kiln_planner::plan(&todo_description());
    let tree = kiln_codegen::generate(&spec).expect("generate");
    let golden = root().join("examples/todo");
    if std::env::var_os("KILN_UPDATE_GOLDEN").is_some() {
        let _ = std::fs::remove_dir_all(&golden);
        tree.write(&golden).expect("write the golden copy");
    }
    let committed = files_under(&golden);
    let generated = &tree.files;
    let mut problems = Vec::new();
    for (path, text) in generated {
        match committed.get(path) {
            None => problems.push(format!("{path}: generated, missing from examples/todo")),
            Some(c) if c != text => {
                let line = c
                    .lines()
                    .zip(text.lines())
                    .position(|(a, b)| a != b)
                    .map_or_else(|| "length".to_owned(), |i| format!("line {}", i + 1));
                problems.push(format!("{path}: differs ({line})"));
            }
            Some(_) => {}
        }
    }
    for path in committed.keys().filter(|p| !generated.contains_key(*p)) {
        problems.push(format!("{path}: in examples/todo, no longer generated"));
    }
    assert!(
        problems.is_empty(),
        "examples/todo differs from what Kiln generates now:\n  {}\nIf the change is intended, \
         run `KILN_UPDATE_GOLDEN=1 cargo test -p kiln-codegen --test golden` and commit the diff.",
        problems.join("\n  ")
    );
}
