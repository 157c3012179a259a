//! Every plan of the development set generates an app that passes Prettier, ESLint and
//! `node --test` inside the sandbox, with the pinned toolchain.

use kiln_sandbox::Sandbox;
use std::path::PathBuf;

fn toolchain() -> PathBuf {
    let dir = std::env::var("KILN_TOOLCHAIN_DIR").unwrap_or_default();
    assert!(
        !dir.is_empty() && PathBuf::from(&dir).join("node_modules/.bin/eslint").exists(),
        "KILN_TOOLCHAIN_DIR must name an installed toolchain (scripts/setup --test installs it: \
         npm ci in a copy of toolchain/)"
    );
    PathBuf::from(dir)
}

fn descriptions() -> Vec<String> {
    let shared = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/dev-descriptions.json");
    let copy = concat!(env!("CARGO_MANIFEST_DIR"), "/../planner/tests/dev-descriptions.json");
    let path = if std::path::Path::new(shared).exists() { shared } else { copy };
    let set: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("dev set")).expect("json");
    set["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| c["description"].as_str().expect("description").to_owned())
        .collect()
}

#[tokio::test]
async fn every_dev_set_app_passes_its_checks_in_the_sandbox() {
    let sandbox = Sandbox { toolchain: Some(toolchain()), ..Default::default() };
    for description in descriptions() {
        let spec = kiln_planner::plan(&description);
        let tree = kiln_codegen::generate(&spec).expect("generate");
        let dir = tempfile::tempdir().expect("tmp");
        let _ = std::process::Command::new("chmod").arg("755").arg(dir.path()).status();
        tree.write(dir.path()).expect("write");
        let runs = kiln_codegen::check(&sandbox, dir.path()).await.expect("sandbox");
        for r in &runs {
            assert!(r.passed, "{} failed for {:?}:\n{}", r.tool, spec.name, r.output);
        }
    }
}

#[test]
fn the_same_spec_gives_the_same_tree_and_key() {
    let spec = kiln_planner::plan("A todo list: tasks with a title and a due date.");
    let a = kiln_codegen::generate(&spec).expect("a");
    let b = kiln_codegen::generate(&spec).expect("b");
    assert_eq!(a, b);
    let mut other = spec.clone();
    other.name = "Other".into();
    assert_ne!(kiln_codegen::generate(&other).expect("c").key, a.key);
    assert!(
        a.files["index.html"].contains("<title>Todo list</title>"),
        "{}",
        a.files["index.html"]
    );
    assert!(a.files.contains_key("app.json") && a.files.contains_key("tests/validate.test.js"));
}

#[test]
fn an_invalid_spec_is_refused() {
    let mut spec = kiln_planner::plan("Tasks with a title.");
    spec.slug = "api".into();
    assert!(matches!(
        kiln_codegen::generate(&spec),
        Err(kiln_codegen::CodegenError::InvalidSpec(_))
    ));
}

#[tokio::test]
async fn a_broken_tree_fails_each_check_with_the_tools_own_output() {
    let sandbox = Sandbox { toolchain: Some(toolchain()), ..Default::default() };
    let spec = kiln_planner::plan("Tasks with a title and a due date.");
    let mut tree = kiln_codegen::generate(&spec).expect("generate");
    tree.files.insert("src/ugly.js".into(), "export const  x=1\n".into());
    tree.files.insert("src/unused.js".into(), "const unused = 1;\n".into());
    tree.files.insert(
        "tests/fails.test.js".into(),
        "import { test } from \"node:test\";\nimport assert from \"node:assert/strict\";\n\ntest(\"fails\", () => {\n  assert.equal(1, 2);\n});\n".into(),
    );
    let dir = tempfile::tempdir().expect("tmp");
    let _ = std::process::Command::new("chmod").arg("755").arg(dir.path()).status();
    tree.write(dir.path()).expect("write");
    let runs = kiln_codegen::check(&sandbox, dir.path()).await.expect("sandbox");
    let by = |t: &str| runs.iter().find(|r| r.tool == t).expect(t).clone();
    assert!(!by("prettier").passed && by("prettier").output.contains("ugly.js"), "{runs:?}");
    assert!(!by("eslint").passed && by("eslint").output.contains("no-unused-vars"), "{runs:?}");
    assert!(!by("node --test").passed && by("node --test").output.contains("fails"), "{runs:?}");
}
