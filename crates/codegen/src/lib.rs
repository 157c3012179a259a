#![doc = include_str!("../README.md")]

use kiln_core::AppSpec;
use kiln_sandbox::Sandbox;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Bumped whenever a template changes, so cached trees are regenerated.
pub const TEMPLATE_VERSION: u32 = 1;

macro_rules! files {
    ($($path:literal),* $(,)?) => {
        &[$(($path, include_str!(concat!("../../../templates/base/", $path)))),*]
    };
}

/// The `base` module: every generated app.
const BASE: &[(&str, &str)] = files![
    "index.html",
    "styles.css",
    "package.json",
    "eslint.config.mjs",
    ".prettierrc",
    ".prettierignore",
    "README.md",
    "src/main.js",
    "src/api.js",
    "src/validate.js",
    "src/render.js",
    "tests/validate.test.js",
    "tests/render.test.js",
    "tests/api.test.js",
];

/// The template modules, for `kiln templates list`.
pub const MODULES: &[(&str, &str)] = &[(
    "base",
    "layout, navigation and theme; list/search/create/edit/delete per entity; account and \
     assistant pages when the spec asks; tests of the spec's validation rules",
)];

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

/// Generates the files of `spec`'s app.
pub fn generate(spec: &AppSpec) -> Result<Tree, CodegenError> {
    spec.validate().map_err(CodegenError::InvalidSpec)?;
    let spec_json = serde_json::to_string_pretty(spec).expect("an AppSpec serialises") + "\n";
    let mut env = minijinja::Environment::new();
    env.set_keep_trailing_newline(true);
    let ctx = serde_json::json!({ "name": spec.name, "slug": spec.slug });
    let mut files = BTreeMap::new();
    for (path, src) in BASE {
        let text = if src.contains("{{") {
            env.render_str(src, &ctx)
                .map_err(|source| CodegenError::Template { path: (*path).to_owned(), source })?
        } else {
            (*src).to_owned()
        };
        files.insert((*path).to_owned(), text);
    }
    files.insert("app.json".to_owned(), spec_json.clone());
    let mut h = Sha256::new();
    h.update(TEMPLATE_VERSION.to_le_bytes());
    h.update(spec_json.as_bytes());
    let key = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Ok(Tree { files, key })
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

/// Runs Prettier `--check`, ESLint and `node --test` on `dir` in the sandbox. The sandbox must
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
    let mut out = Vec::new();
    for (tool, argv) in steps {
        let run = sb.run(dir, argv).await?;
        out.push(ToolRun { tool, passed: run.success(), output: run.combined() });
    }
    Ok(out)
}
