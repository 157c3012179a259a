#![doc = include_str!("../README.md")]

use kiln_core::{AppSpec, Feature};
use kiln_sandbox::Sandbox;
use minijinja::value::{Value, ValueKind};
use minijinja::{AutoEscape, ErrorKind, UndefinedBehavior};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

// `TEMPLATES`: every file under templates/, by module folder (written by build.rs).
include!(concat!(env!("OUT_DIR"), "/templates.rs"));

/// Bumped whenever a template changes, so cached trees are regenerated. A unit test compares
/// the templates with the digest recorded for this version and says when to bump it.
pub const TEMPLATE_VERSION: u32 = 3;

/// SHA-256 of the templates at [`TEMPLATE_VERSION`] (checked by a unit test).
#[cfg(test)]
const TEMPLATE_DIGEST: &str = "230993c8ca588d94d95fab6ce4dbe4c5ba9b083f1643a19dc223f6973510be12";

/// The template modules, in the order they are applied, with a line each for
/// `kiln templates list`.
pub const MODULES: &[(&str, &str)] = &[
    ("base", "every app: layout, navigation, theme, API client, package.json, lint config, README"),
    (
        "crud",
        "per entity: list with search, create/edit with field messages, detail, confirmed delete",
    ),
    ("auth", "end-user sign up, log in and log out (with the auth feature)"),
    ("chat", "an AI chat page streaming from the runtime's chat endpoint (with the chat feature)"),
];

#[derive(Debug, thiserror::Error)]
pub enum CodegenError {
    #[error("the plan is not valid: {0}")]
    InvalidSpec(kiln_core::ApiError),
    #[error("template {path}: {source}")]
    Template {
        path: String,
        #[source]
        source: minijinja::Error,
    },
    #[error("writing {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A generated app: relative path → contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tree {
    pub files: BTreeMap<String, String>,
    /// SHA-256 of the spec and the template version: the cache key.
    pub key: String,
}

/// The modules `spec`'s app is made of, in [`MODULES`] order: `base` always, `crud`, `auth` and
/// `chat` when the spec has that feature.
pub fn modules_for(spec: &AppSpec) -> Vec<&'static str> {
    let wanted = |module: &str| match module {
        "base" => true,
        "crud" => spec.features.contains(&Feature::Crud),
        "auth" => spec.features.contains(&Feature::Auth),
        "chat" => spec.features.contains(&Feature::Chat),
        _ => false,
    };
    MODULES.iter().map(|(name, _)| *name).filter(|m| wanted(m)).collect()
}

/// The files of one module: (path in the module folder, text); empty for an unknown module.
pub fn module_files(module: &str) -> &'static [(&'static str, &'static str)] {
    TEMPLATES.iter().find(|(name, _)| *name == module).map_or(&[], |(_, files)| files)
}

fn spec_json(spec: &AppSpec) -> String {
    serde_json::to_string_pretty(spec).expect("an AppSpec serialises") + "\n"
}

fn key_of(spec_json: &str, template_version: u32) -> String {
    let mut h = Sha256::new();
    h.update(template_version.to_le_bytes());
    h.update(spec_json.as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The cache key of `spec`'s tree under `template_version` ([`Tree::key`] is this with
/// [`TEMPLATE_VERSION`]).
pub fn key_for(spec: &AppSpec, template_version: u32) -> String {
    key_of(&spec_json(spec), template_version)
}

/// A JavaScript string literal quoted as Prettier prints it: double quotes, unless the text has
/// more double than single quotes.
fn js_string(text: &str) -> String {
    let quote = if text.matches('"').count() > text.matches('\'').count() { '\'' } else { '"' };
    let mut out = String::with_capacity(text.len() + 2);
    out.push(quote);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// The `js` filter: a string, number or boolean as a JavaScript literal.
fn js_literal(value: &Value) -> Result<String, minijinja::Error> {
    match value.kind() {
        ValueKind::String => Ok(js_string(value.as_str().unwrap_or_default())),
        ValueKind::Number | ValueKind::Bool => Ok(value.to_string()),
        kind => Err(minijinja::Error::new(
            ErrorKind::InvalidOperation,
            format!("js: a {kind} is not written as a JavaScript literal"),
        )),
    }
}

/// The `md` filter: text for one line of Markdown, shown as it is (Prettier keeps the escapes).
fn md_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, word) in text.split_whitespace().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        for c in word.chars() {
            if "\\`*_[]<>#|~&!".contains(c) {
                out.push('\\');
            }
            out.push(c);
        }
    }
    out
}

/// Text for HTML: the characters that end text or an attribute value, and no more.
fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn environment() -> minijinja::Environment<'static> {
    let mut env = minijinja::Environment::new();
    env.set_keep_trailing_newline(true);
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.add_filter("js", |v: Value| js_literal(&v));
    env.add_filter("md", |v: String| md_text(&v));
    // `*.html.j2` is escaped for HTML (by its name); everything else is written as it is.
    env.set_formatter(|out, state, value| {
        if state.auto_escape() == AutoEscape::Html && !value.is_safe() {
            let text = html_escape(&value.to_string());
            out.write_str(&text).map_err(|_| minijinja::Error::from(ErrorKind::WriteFailure))
        } else {
            minijinja::escape_formatter(out, state, value)
        }
    });
    env
}

/// Generates the files of `spec`'s app: the files of each of its modules ([`modules_for`]),
/// with `*.j2` templates rendered (and the suffix dropped), plus `app.json`.
pub fn generate(spec: &AppSpec) -> Result<Tree, CodegenError> {
    spec.validate().map_err(CodegenError::InvalidSpec)?;
    let spec_json = spec_json(spec);
    let modules = modules_for(spec);
    let env = environment();
    let ctx = serde_json::json!({
        "name": spec.name,
        "slug": spec.slug,
        "modules": modules,
        "features": spec.features,
        "entities": spec.entities,
        "template_version": TEMPLATE_VERSION,
    });
    let mut files = BTreeMap::new();
    for module in &modules {
        for (path, src) in module_files(module) {
            let error =
                |source| CodegenError::Template { path: format!("{module}/{path}"), source };
            let (out, text) = match path.strip_suffix(".j2") {
                Some(out) => {
                    let template = env.template_from_named_str(path, src).map_err(error)?;
                    (out, template.render(&ctx).map_err(error)?)
                }
                None => (*path, (*src).to_owned()),
            };
            files.insert(out.to_owned(), text);
        }
    }
    files.insert("app.json".to_owned(), spec_json.clone());
    Ok(Tree { files, key: key_of(&spec_json, TEMPLATE_VERSION) })
}

impl Tree {
    /// Writes the tree under `dir` (created if needed).
    pub fn write(&self, dir: &Path) -> Result<(), CodegenError> {
        for (rel, text) in &self.files {
            let path = dir.join(rel);
            let io = |source| CodegenError::Io { path: path.clone(), source };
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(io)?;
            }
            std::fs::write(&path, text).map_err(io)?;
        }
        Ok(())
    }
}

/// The outcome of one tool.
#[derive(Debug, Clone)]
pub struct ToolRun {
    pub tool: &'static str,
    pub passed: bool,
    pub output: String,
}

/// Runs Prettier `--check`, ESLint and `node --test` on `dir` in the sandbox, concurrently. The sandbox must
/// have the toolchain (`toolchain/package.json` installed) as its `toolchain`.
pub async fn check(
    sandbox: &Sandbox,
    dir: &Path,
) -> Result<Vec<ToolRun>, kiln_sandbox::SandboxError> {
    let mut sb = sandbox.clone();
    sb.app_node_modules = true;
    let steps: [(&'static str, &[&str]); 3] = [
        ("prettier", &["prettier", "--check", "."]),
        ("eslint", &["eslint", "--max-warnings=0", "."]),
        ("node --test", &["node", "--test", "tests/"]),
    ];
    // The three only read the tree: run them at once (each in its own sandbox), which roughly
    // halves the check stage on two cores. Results keep the order above.
    let [a, b, c] = steps.map(|(tool, argv)| {
        let sb = &sb;
        async move {
            let run = sb.run(dir, argv).await?;
            Ok::<_, kiln_sandbox::SandboxError>(ToolRun {
                tool,
                passed: run.success(),
                output: run.combined(),
            })
        }
    });
    let (a, b, c) = tokio::join!(a, b, c);
    Ok(vec![a?, b?, c?])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn templates_digest() -> String {
        let mut h = Sha256::new();
        for (module, files) in TEMPLATES {
            for (path, text) in *files {
                for part in [*module, *path, *text] {
                    h.update((part.len() as u64).to_le_bytes());
                    h.update(part.as_bytes());
                }
            }
        }
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn the_template_version_changes_with_the_templates() {
        let digest = templates_digest();
        assert!(
            digest == TEMPLATE_DIGEST,
            "templates/ changed: bump TEMPLATE_VERSION (so cached trees are regenerated) and set \
             TEMPLATE_DIGEST to \"{digest}\""
        );
    }

    #[test]
    fn every_template_folder_is_a_module() {
        let folders: Vec<&str> = TEMPLATES.iter().map(|(m, _)| *m).collect();
        let mut modules: Vec<&str> = MODULES.iter().map(|(m, _)| *m).collect();
        modules.sort_unstable();
        assert_eq!(folders, modules);
        assert!(TEMPLATES.iter().all(|(_, files)| !files.is_empty()));
    }

    #[test]
    fn markdown_text_is_escaped_on_one_line() {
        assert_eq!(md_text("Tom's *best*\n  app #1"), r"Tom's \*best\* app \#1");
        assert_eq!(md_text(r"a_b [c](d) <e> \ `f`"), r"a\_b \[c\](d) \<e\> \\ \`f\`");
    }

    #[test]
    fn strings_are_quoted_as_prettier_does() {
        assert_eq!(js_string("low"), r#""low""#);
        assert_eq!(js_string(r#"it's"#), r#""it's""#);
        assert_eq!(js_string(r#"say "hi""#), r#"'say "hi"'"#);
        assert_eq!(js_string(r#"a"b'c"#), r#""a\"b'c""#);
        assert_eq!(js_string("back\\slash\nline\u{1}"), r#""back\\slash\nline\u0001""#);
    }
}
