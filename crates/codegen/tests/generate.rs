//! Every plan of the development set generates an app that passes Prettier, ESLint and
//! `node --test` inside the sandbox, with the pinned toolchain.

use kiln_core::{Access, AppSpec, Entity, Feature, Field, FieldType};
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
    kiln_planner::quality::dev_set().into_iter().map(|c| c.description).collect()
}

#[tokio::test]
async fn every_dev_set_app_passes_its_checks_in_the_sandbox() {
    let sandbox = Sandbox { toolchain: Some(toolchain()), ..Default::default() };
    let mut specs: Vec<AppSpec> = descriptions().iter().map(|d| kiln_planner::plan(d)).collect();
    // Every field type, awkward values, and each module alone.
    specs.push(every_field(&[Feature::Auth, Feature::Crud, Feature::Chat]));
    specs.push(every_field(&[Feature::Chat]));
    specs.push(every_field(&[]));
    for spec in specs {
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

/// A spec with one entity of every field type, and the given features.
fn every_field(features: &[Feature]) -> AppSpec {
    let field = |name: &str, ty: FieldType, required: bool| Field {
        name: name.into(),
        label: name.replace('_', " "),
        ty,
        required,
    };
    let auth = features.contains(&Feature::Auth);
    let entity = |name: &str, collection: &str, fields: Vec<Field>| Entity {
        name: name.into(),
        label: name[..1].to_uppercase() + &name[1..],
        collection: collection.into(),
        fields,
        access: auth.then_some(Access::Private),
    };
    AppSpec {
        version: kiln_core::spec::SPEC_VERSION,
        name: "Field \"types\" & <more>".into(),
        slug: "field-types".into(),
        features: features.to_vec(),
        entities: vec![
            entity("category", "categories", vec![field("name", FieldType::Text, true)]),
            entity(
                "item",
                "items",
                vec![
                    field("title", FieldType::Text, true),
                    field("notes", FieldType::LongText, false),
                    field("count", FieldType::Int { min: Some(0), max: Some(10) }, true),
                    field("floor", FieldType::Int { min: Some(-3), max: None }, false),
                    field("big", FieldType::Int { min: None, max: Some(i64::MAX) }, false),
                    field("price", FieldType::Decimal, false),
                    field("done", FieldType::Bool, false),
                    field("due", FieldType::Date, false),
                    field("starts_at", FieldType::Datetime, false),
                    field("at", FieldType::Time, false),
                    field("email", FieldType::Email, false),
                    field("link", FieldType::Url, false),
                    field(
                        "size",
                        FieldType::Enum {
                            values: vec![
                                "small".into(),
                                "it's \"large\"".into(),
                                format!("a {} one", "very long ".repeat(12)),
                            ],
                        },
                        true,
                    ),
                    field("category", FieldType::Ref { entity: "category".into() }, false),
                ],
            ),
        ],
    }
}

fn imports(main_js: &str) -> Vec<&str> {
    main_js.lines().filter(|l| l.starts_with("import ")).collect()
}

#[test]
fn modules_lists_the_four_with_a_line_each() {
    let names: Vec<&str> = kiln_codegen::MODULES.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, ["base", "crud", "auth", "chat"]);
    for (name, about) in kiln_codegen::MODULES {
        assert!(!about.is_empty() && !about.contains('\n'), "{name}: {about:?}");
        assert!(!kiln_codegen::module_files(name).is_empty(), "{name} has no files");
    }
}

#[test]
fn a_spec_without_auth_or_chat_has_neither() {
    let spec = every_field(&[Feature::Crud]);
    assert_eq!(kiln_codegen::modules_for(&spec), ["base", "crud"]);
    let tree = kiln_codegen::generate(&spec).expect("generate");
    for path in tree.files.keys() {
        assert!(!path.contains("auth") && !path.contains("chat"), "{path}");
    }
    let main = &tree.files["src/main.js"];
    assert_eq!(
        imports(main),
        [r#"import { startApp } from "./app.js";"#, r#"import { crud } from "./crud/pages.js";"#],
        "{main}"
    );
    assert!(main.contains("startApp([crud]);"), "{main}");
    let html = &tree.files["index.html"];
    assert!(
        html.contains("./src/crud/crud.css") && !html.contains("auth") && !html.contains("chat")
    );
    assert!(tree.files.contains_key("tests/validate.test.js"));
}

#[test]
fn a_spec_with_auth_and_chat_has_their_pages_and_imports() {
    let spec = every_field(&[Feature::Auth, Feature::Crud, Feature::Chat]);
    assert_eq!(kiln_codegen::modules_for(&spec), ["base", "crud", "auth", "chat"]);
    let tree = kiln_codegen::generate(&spec).expect("generate");
    for path in ["src/auth/pages.js", "src/auth/client.js", "tests/auth.test.js"] {
        assert!(tree.files.contains_key(path), "{path}");
    }
    for path in ["src/chat/pages.js", "src/chat/client.js", "tests/chat.test.js"] {
        assert!(tree.files.contains_key(path), "{path}");
    }
    let main = &tree.files["src/main.js"];
    for line in [
        r#"import { auth } from "./auth/pages.js";"#,
        r#"import { chat } from "./chat/pages.js";"#,
        "startApp([crud, auth, chat]);",
    ] {
        assert!(main.lines().any(|l| l == line), "{line} in\n{main}");
    }
    let html = &tree.files["index.html"];
    assert!(html.contains("./src/auth/auth.css") && html.contains("./src/chat/chat.css"));

    // Only chat: no crud pages, and chat is the start page.
    let only_chat = every_field(&[Feature::Chat]);
    let tree = kiln_codegen::generate(&only_chat).expect("generate");
    assert!(!tree.files.keys().any(|p| p.contains("crud") || p.contains("validate")));
    assert!(tree.files["src/main.js"].contains("startApp([chat]);"));
}

#[test]
fn the_tests_written_out_follow_the_spec() {
    let tree = kiln_codegen::generate(&every_field(&[Feature::Crud])).expect("generate");
    let tests = &tree.files["tests/validate.test.js"];
    for expected in [
        r#"describe("category", () => {"#,
        r#"describe("item", () => {"#,
        r#"test("takes whole numbers from 0 up to 10", () => {"#,
        r#"assert.match(checkField(field, "11"), /at most 10/);"#,
        r#"assert.match(checkField(field, "-4"), /at least -3/);"#,
        r#"test("takes whole numbers from -3", () => {"#,
        r#"test("takes whole numbers", () => {"#,
        r#"'it\'s "large"',"#,
        r#"assert.match(checkField(field, "not valid"), /must be an email address/);"#,
    ] {
        assert!(tests.contains(expected), "{expected} in\n{tests}");
    }
    assert_eq!(tests.matches(r#"test("is required", () => {"#).count(), 4, "{tests}");
    // Rendered files keep no template syntax; the name is escaped for HTML.
    for (path, text) in &tree.files {
        assert!(!text.contains("{{") && !text.contains("{%"), "{path}");
    }
    assert!(
        tree.files["index.html"]
            .contains("<title>Field &quot;types&quot; &amp; &lt;more&gt;</title>")
    );
}

#[test]
fn the_key_is_the_spec_and_the_template_version() {
    let spec = every_field(&[Feature::Crud]);
    let tree = kiln_codegen::generate(&spec).expect("generate");
    assert_eq!(tree, kiln_codegen::generate(&spec).expect("again"));
    assert_eq!(tree.key, kiln_codegen::key_for(&spec, kiln_codegen::TEMPLATE_VERSION));
    assert_ne!(tree.key, kiln_codegen::key_for(&spec, kiln_codegen::TEMPLATE_VERSION + 1));
    let mut other = spec.clone();
    other.entities[0].fields[0].required = false;
    assert_ne!(kiln_codegen::generate(&other).expect("other").key, tree.key);
}

#[test]
fn the_app_pins_the_toolchain_it_is_checked_with() {
    let toolchain: serde_json::Value =
        serde_json::from_str(include_str!("../../../toolchain/package.json"))
            .expect("toolchain/package.json");
    let tree = kiln_codegen::generate(&every_field(&[Feature::Crud])).expect("generate");
    let app: serde_json::Value = serde_json::from_str(&tree.files["package.json"]).expect("json");
    assert_eq!(app["devDependencies"], toolchain["devDependencies"]);
    assert_eq!(app["type"], "module");
    assert_eq!(app["name"], "field-types");
    for script in ["lint", "format", "test"] {
        assert!(app["scripts"][script].is_string(), "{script}");
    }
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
