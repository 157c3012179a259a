//! Deploying a version: unpack its files into their own directory, migrate the app's storage and
//! smoke-check the version in place, all before anything is switched. The migration and the
//! check share one transaction, so a failed check leaves the storage as it was.

use crate::migrate::{self, MigrateError, Report};
use crate::records::{self, Scope, check_value};
use crate::storage::{Storage, Val};
use crate::{Runtime, RuntimeError};
use kiln_core::{AppSpec, Entity, Field, FieldType};
use serde_json::{Value, json};
use sqlx::{Acquire, AnyConnection};
use std::collections::HashMap;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// The new plan would lose these; nothing was changed.
    #[error("the new plan would lose data: {}", .0.join("; "))]
    DataLoss(Vec<String>),
    /// The version failed its smoke check or could not be put in place.
    #[error("{0}")]
    Failed(String),
}

impl From<RuntimeError> for DeployError {
    fn from(e: RuntimeError) -> Self {
        DeployError::Failed(e.0)
    }
}

impl From<crate::storage::StorageError> for DeployError {
    fn from(e: crate::storage::StorageError) -> Self {
        DeployError::Failed(e.to_string())
    }
}

/// Marks a directory whose files were all written.
const COMPLETE: &str = ".kiln-complete";

impl Runtime {
    /// Unpacks, migrates and smoke-checks `version`. The caller then switches the live version
    /// (one database write) and calls [`Runtime::invalidate`].
    pub async fn deploy(
        &self,
        app_id: i64,
        version: i64,
        spec: &AppSpec,
        files: &[(String, String)],
        policy: migrate::Policy,
    ) -> Result<Report, DeployError> {
        let dir = self.version_dir(app_id, version);
        unpack(&dir, files)
            .map_err(|e| DeployError::Failed(format!("unpacking the files: {e}")))?;
        let storage = self.storage(app_id).await?;
        let mut tx = storage.begin_write().await?;
        let report = match migrate::migrate(&storage, &mut tx, spec, policy, version).await {
            Ok(r) => r,
            Err(MigrateError::DataLoss(l)) => return Err(DeployError::DataLoss(l)),
            Err(MigrateError::Storage(e)) => {
                return Err(DeployError::Failed(format!("migrating the data: {e}")));
            }
        };
        smoke_check(&storage, &mut tx, spec, &dir)
            .await
            .map_err(|e| DeployError::Failed(format!("smoke check: {e}")))?;
        tx.commit()
            .await
            .map_err(|e| DeployError::Failed(format!("committing the migration: {e}")))?;
        Ok(report)
    }
}

impl Runtime {
    /// Smoke-checks the live `version` as it stands (files and storage), writing nothing: the
    /// check's records are rolled back. Self-healing runs it at start-up.
    pub async fn check_live(
        &self,
        app_id: i64,
        version: i64,
        spec: &AppSpec,
    ) -> Result<(), String> {
        let storage = self.storage(app_id).await.map_err(|e| e.0)?;
        let mut tx = storage.begin_write().await.map_err(|e| e.to_string())?;
        let checked =
            smoke_check(&storage, &mut tx, spec, &self.version_dir(app_id, version)).await;
        let _ = tx.rollback().await;
        checked
    }

    /// Which files of a version differ on disk from `files` (missing, unreadable or changed),
    /// by path; empty when the directory is intact.
    pub fn damaged_files(
        &self,
        app_id: i64,
        version: i64,
        files: &[(String, String)],
    ) -> Vec<String> {
        let dir = self.version_dir(app_id, version);
        files
            .iter()
            .filter(|(rel, text)| {
                std::fs::read_to_string(dir.join(rel)).ok().as_deref() != Some(text.as_str())
            })
            .map(|(rel, _)| rel.clone())
            .collect()
    }

    /// Without its archive to compare with: whether the pages a version cannot do without
    /// (`index.html`, `app.json`) are there.
    pub fn damaged_basics(&self, app_id: i64, version: i64) -> Vec<String> {
        let dir = self.version_dir(app_id, version);
        ["index.html", "app.json"]
            .into_iter()
            .filter(|f| std::fs::read_to_string(dir.join(f)).is_err())
            .map(str::to_owned)
            .collect()
    }

    /// Writes a version's files again, whatever is on disk (self-healing).
    pub fn restore_files(
        &self,
        app_id: i64,
        version: i64,
        files: &[(String, String)],
    ) -> std::io::Result<()> {
        let dir = self.version_dir(app_id, version);
        let _ = std::fs::remove_file(dir.join(COMPLETE));
        unpack(&dir, files)
    }
}

/// Writes the files into `dir` through a temporary sibling renamed into place, unless `dir`
/// already holds exactly these files (a second deploy of the same version).
fn unpack(dir: &Path, files: &[(String, String)]) -> std::io::Result<()> {
    let digest = {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        files.hash(&mut h);
        format!("{:016x}", h.finish())
    };
    if std::fs::read_to_string(dir.join(COMPLETE)).is_ok_and(|d| d == digest) {
        return Ok(());
    }
    let parent = dir.parent().ok_or_else(|| std::io::Error::other("no parent directory"))?;
    std::fs::create_dir_all(parent)?;
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = parent.join(format!(".{name}.partial"));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp)?;
    for (rel, text) in files {
        if rel.split('/').any(|s| s.is_empty() || s == ".." || s == ".") || rel.starts_with('/') {
            return Err(std::io::Error::other(format!("unsafe path in the version: {rel:?}")));
        }
        let path = tmp.join(rel);
        if let Some(p) = path.parent() {
            std::fs::create_dir_all(p)?;
        }
        std::fs::write(&path, text)?;
    }
    std::fs::write(tmp.join(COMPLETE), &digest)?;
    let _ = std::fs::remove_dir_all(dir);
    std::fs::rename(&tmp, dir)
}

/// A valid value for each field type, as a client would send it.
fn sample(f: &Field) -> Value {
    match &f.ty {
        FieldType::Text | FieldType::LongText => json!("Kiln smoke check"),
        FieldType::Int { min, max } => {
            json!(1i64.clamp(min.unwrap_or(i64::MIN), max.unwrap_or(i64::MAX)))
        }
        FieldType::Decimal => json!(1.5),
        FieldType::Bool => json!(true),
        FieldType::Date => json!("2026-01-02"),
        FieldType::Datetime => json!("2026-01-02T03:04"),
        FieldType::Time => json!("03:04"),
        FieldType::Email => json!("smoke@example.com"),
        FieldType::Url => json!("https://example.com/"),
        FieldType::Enum { values } => json!(values.first()),
        FieldType::Ref { .. } => Value::Null,
    }
}

/// A record the smoke check wrote: its entity, id and values.
type Written<'a> = (&'a Entity, i64, Vec<(String, Val)>);

/// The index page and the spec are in place, storage answers, and every collection takes a
/// record, returns it as written, lists it and deletes it, inside a savepoint that is rolled back.
async fn smoke_check(
    s: &Storage,
    tx: &mut AnyConnection,
    spec: &AppSpec,
    dir: &Path,
) -> Result<(), String> {
    let index =
        std::fs::read_to_string(dir.join("index.html")).map_err(|e| format!("index.html: {e}"))?;
    if !index.to_ascii_lowercase().contains("<html") {
        return Err("index.html is not an HTML page".into());
    }
    let app_json =
        std::fs::read_to_string(dir.join("app.json")).map_err(|e| format!("app.json: {e}"))?;
    let served: AppSpec = serde_json::from_str(&app_json).map_err(|e| format!("app.json: {e}"))?;
    if served.entities != spec.entities || served.features != spec.features {
        return Err("app.json does not match the plan being deployed".into());
    }
    let mut sp = tx.begin().await.map_err(|e| e.to_string())?;
    sqlx::query("SELECT 1").execute(&mut *sp).await.map_err(|e| format!("storage: {e}"))?;
    let mut ids: HashMap<&str, i64> = HashMap::new();
    let mut written: Vec<Written> = Vec::new();
    for e in &spec.entities {
        let mut values = Vec::new();
        for f in &e.fields {
            let v = match &f.ty {
                FieldType::Ref { entity } => match ids.get(entity.as_str()) {
                    Some(id) => json!(id),
                    // A target not written yet: a required ref makes do with a dangling number.
                    None if f.required => json!(1),
                    None => Value::Null,
                },
                _ => sample(f),
            };
            let val = check_value(f, &v)
                .map_err(|m| format!("{}: sample value refused: {m}", e.collection))?;
            values.push((f.name.clone(), val));
        }
        let id = records::insert(s, &mut sp, e, &values, None, 0)
            .await
            .map_err(|x| format!("{}: create: {x}", e.collection))?;
        ids.insert(&e.name, id);
        written.push((e, id, values));
    }
    for (e, id, values) in &written {
        let row = records::get(s, &mut sp, e, *id)
            .await
            .map_err(|x| format!("{}: read: {x}", e.collection))?;
        let row =
            row.ok_or_else(|| format!("{}: the record just created cannot be read", e.collection))?;
        let back = records::to_json(e, &row);
        for (name, v) in values {
            let f = e.fields.iter().find(|f| &f.name == name).ok_or("field vanished")?;
            let again = check_value(f, &back[name])
                .map_err(|m| format!("{}: read back {name}: {m}", e.collection))?;
            if &again != v {
                return Err(format!(
                    "{}: {name} read back as {} instead of what was written",
                    e.collection, back[name]
                ));
            }
        }
        let lq = records::ListQuery::parse(
            e,
            &[("q".into(), "smoke".into()), ("sort".into(), "-updated_at".into())],
        )
        .map_err(|x| x.message)?;
        records::list(s, &mut sp, e, Scope::All, &lq)
            .await
            .map_err(|x| format!("{}: list: {x}", e.collection))?;
        if !records::delete(s, &mut sp, e, *id)
            .await
            .map_err(|x| format!("{}: delete: {x}", e.collection))?
        {
            return Err(format!("{}: the record could not be deleted", e.collection));
        }
    }
    sp.rollback().await.map_err(|e| e.to_string())?;
    Ok(())
}
