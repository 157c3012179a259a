//! Moves an app's storage forward to a new spec: new entities become tables, new fields columns
//! (required ones filled with a default in older records), changed fields are checked value by
//! value. What a change would lose (values of a dropped field or entity, values the new type
//! cannot hold) is listed, and nothing changes until the owner confirms. Even then nothing is
//! deleted outright: dropped fields and entities stay in storage, hidden; values the new type
//! cannot hold are cleared, and on a change of storage type the old column is kept under
//! another name.

use crate::records::check_value;
use crate::storage::{Class, Storage, StorageError, Val, quote, read_val};
use kiln_core::{AppSpec, Entity, Field, FieldType};
use serde_json::{Value, json};
use sqlx::AnyConnection;

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// What the change would lose; nothing was changed.
    #[error("the new plan would lose data: {}", .0.join("; "))]
    DataLoss(Vec<String>),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// What a migration did, in words for the build log.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    pub steps: Vec<String>,
    /// What the owner confirmed losing.
    pub lost: Vec<String>,
}

/// The value a new required field gets in existing records, when its type has an obvious one.
fn default_for(f: &Field) -> Option<Val> {
    match &f.ty {
        FieldType::Text | FieldType::LongText => Some(Val::Text(String::new())),
        FieldType::Int { min, max } => {
            Some(Val::Int(0i64.clamp(min.unwrap_or(i64::MIN), max.unwrap_or(i64::MAX))))
        }
        FieldType::Decimal => Some(Val::Real(0.0)),
        FieldType::Bool => Some(Val::Int(0)),
        FieldType::Enum { values } => values.first().map(|v| Val::Text(v.clone())),
        _ => None,
    }
}

/// A stored value as the JSON a client would send for `f` (so `check_value` decides).
fn as_json(v: &Val, f: &Field) -> Value {
    match (v, &f.ty) {
        (Val::Int(i), FieldType::Bool) if *i == 0 || *i == 1 => Value::Bool(*i == 1),
        (Val::Int(i), FieldType::Bool) => json!(i),
        (Val::Int(i), ty) if Class::of(ty) == Class::Text => Value::String(i.to_string()),
        // A whole number a decimal cannot hold exactly stays a text, which the check refuses.
        (Val::Int(i), FieldType::Decimal) if (*i as f64) as i64 != *i => {
            Value::String(i.to_string())
        }
        (Val::Int(i), _) => json!(i),
        (Val::Real(r), FieldType::Int { .. } | FieldType::Ref { .. })
            if r.fract() == 0.0 && (*r as i64) as f64 == *r =>
        {
            json!(*r as i64)
        }
        (Val::Real(r), ty) if Class::of(ty) == Class::Text => Value::String(r.to_string()),
        (Val::Real(r), _) => json!(r),
        (Val::Text(t), FieldType::Bool) => match t.trim() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => Value::String(t.clone()),
        },
        (Val::Text(t), FieldType::Int { .. } | FieldType::Ref { .. } | FieldType::Decimal) => {
            serde_json::from_str::<Value>(t.trim())
                .ok()
                .filter(Value::is_number)
                .unwrap_or(Value::String(t.clone()))
        }
        (Val::Text(t), _) => Value::String(t.clone()),
        (Val::Null(_), _) => Value::Null,
    }
}

async fn count_where(
    s: &Storage,
    c: &mut AnyConnection,
    table: &str,
    condition: &str,
) -> Result<i64, StorageError> {
    s.sql(format!("SELECT COUNT(*) FROM {} WHERE {condition}", s.table(table))).scalar_i64(c).await
}

fn records(n: i64, e: &Entity) -> String {
    if n == 1 { format!("1 {}", e.label.to_lowercase()) } else { format!("{n} {}", e.collection) }
}

/// "1 task has" / "3 tasks have".
fn records_have(n: i64, e: &Entity) -> String {
    format!("{} {}", records(n, e), if n == 1 { "has" } else { "have" })
}

/// What a migration may do with data the new plan cannot show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Stop with [`MigrateError::DataLoss`] listing it (a new plan).
    Ask,
    /// The owner confirmed: dropped fields and entities are hidden, values the new type
    /// cannot hold are cleared.
    Confirmed,
    /// A rollback: nothing is cleared; what the older plan cannot show is kept, hidden (values
    /// of a changed field move to an `_old_…` column), and comes back with a later version.
    KeepAll,
}

/// Migrates within the caller's transaction; on `DataLoss` the caller rolls it back.
pub async fn migrate(
    s: &Storage,
    c: &mut AnyConnection,
    new: &AppSpec,
    policy: Policy,
    version: i64,
) -> Result<Report, MigrateError> {
    let keep_all = policy == Policy::KeepAll;
    s.ensure_internal(c).await?;
    let old = s.migrated_spec(c).await?;
    let mut report = Report::default();
    let mut losses = Vec::new();
    for e in &new.entities {
        let cols = s.columns(c, &e.collection).await?;
        if cols.is_empty() {
            s.sql(s.create_table_sql(e)).execute(c).await?;
            let index = format!(
                "CREATE INDEX {} ON {} (created_by)",
                // Collections never start with `_`: no table can take this name.
                quote(&format!("_kiln_idx_{}_created_by", e.collection)),
                s.table(&e.collection)
            );
            s.sql(index).execute(c).await?;
            report.steps.push(format!("new collection {}", e.collection));
            continue;
        }
        let old_entity =
            old.as_ref().and_then(|o| o.entities.iter().find(|o| o.collection == e.collection));
        for f in &e.fields {
            let class = Class::of(&f.ty);
            let Some((_, stored)) = cols.iter().find(|(n, _)| n == &f.name).cloned() else {
                s.sql(s.add_column_sql(&e.collection, &f.name, class)).execute(c).await?;
                let mut step = format!("new field {}.{}", e.collection, f.name);
                if f.required
                    && let Some(d) = default_for(f)
                {
                    let mut q = s.sql(format!(
                        "UPDATE {} SET {} = ",
                        s.table(&e.collection),
                        quote(&f.name)
                    ));
                    q.arg(d.clone());
                    let n = q.execute(c).await?;
                    if n > 0 {
                        step.push_str(&format!(" ({n} existing records get {})", show(&d)));
                    }
                }
                report.steps.push(step);
                continue;
            };
            let old_field = old_entity.and_then(|o| o.fields.iter().find(|o| o.name == f.name));
            // A reference that now points at another entity: its numbers mean nothing there.
            let retargeted = matches!(
                (old_field.map(|o| &o.ty), &f.ty),
                (Some(FieldType::Ref { entity: a }), FieldType::Ref { entity: b }) if a != b
            );
            if old_field == Some(f) && stored == class {
                continue;
            }
            // The definition changed (or the column is a hidden one coming back): check every
            // stored value against the new definition.
            let q = s.sql(format!(
                "SELECT id, {col} FROM {} WHERE {col} IS NOT NULL ORDER BY id",
                s.table(&e.collection),
                col = quote(&f.name)
            ));
            let rows = q.fetch_all(c).await?;
            let mut keep = Vec::new();
            let mut bad = Vec::new();
            for r in &rows {
                let id = match read_val(r, 0, Class::Int) {
                    Val::Int(i) => i,
                    _ => continue,
                };
                let v = read_val(r, 1, stored);
                if retargeted {
                    bad.push((id, v));
                    continue;
                }
                match check_value(f, &as_json(&v, f)) {
                    Ok(nv) => keep.push((id, nv)),
                    Err(_) => bad.push((id, v)),
                }
            }
            if !bad.is_empty() && keep_all {
                report.steps.push(format!(
                    "{} a value of {} the older plan cannot show: kept, hidden",
                    records_have(bad.len() as i64, e),
                    f.label
                ));
            } else if !bad.is_empty() && retargeted {
                losses.push(format!(
                    "{} a {} that would point at records of another entity",
                    records_have(bad.len() as i64, e),
                    f.label
                ));
            } else if !bad.is_empty() {
                let example = show(&bad[0].1);
                losses.push(format!(
                    "{} a value of {} that the new type cannot hold (e.g. {example})",
                    records_have(bad.len() as i64, e),
                    f.label
                ));
            }
            if stored != class || (keep_all && !bad.is_empty()) {
                // Another storage type (or values to keep): keep the old column under another
                // name, copy what fits.
                let mut kept = format!("_old_{}_v{version}", f.name);
                let mut n = 2;
                while cols.iter().any(|(c, _)| *c == kept) {
                    kept = format!("_old_{}_v{version}_{n}", f.name);
                    n += 1;
                }
                s.sql(s.rename_column_sql(&e.collection, &f.name, &kept)).execute(c).await?;
                s.sql(s.add_column_sql(&e.collection, &f.name, class)).execute(c).await?;
                for (id, v) in &keep {
                    let mut u = s.sql(format!(
                        "UPDATE {} SET {} = ",
                        s.table(&e.collection),
                        quote(&f.name)
                    ));
                    u.arg(v.clone()).push(" WHERE id = ").arg(Val::Int(*id));
                    u.execute(c).await?;
                }
                report.steps.push(format!(
                    "{}.{} now stored as {class:?} ({} values carried over)",
                    e.collection,
                    f.name,
                    keep.len()
                ));
            } else {
                for (id, _) in &bad {
                    let mut u = s.sql(format!(
                        "UPDATE {} SET {} = NULL WHERE id = ",
                        s.table(&e.collection),
                        quote(&f.name)
                    ));
                    u.arg(Val::Int(*id));
                    u.execute(c).await?;
                }
                if old_field.is_some() {
                    report.steps.push(format!("field {}.{} changed", e.collection, f.name));
                }
            }
        }
        // Values an earlier migration kept aside (`_old_<field>_v<n>`) come back wherever the
        // field is empty now and the value fits the field as planned now (a rollback, then
        // forward again, ends where it started).
        for f in &e.fields {
            let prefix = format!("_old_{}_v", f.name);
            for (old_col, old_class) in cols.iter().filter(|(n, _)| n.starts_with(&prefix)) {
                let q = s.sql(format!(
                    "SELECT id, {o} FROM {} WHERE {o} IS NOT NULL AND {n} IS NULL ORDER BY id",
                    s.table(&e.collection),
                    o = quote(old_col),
                    n = quote(&f.name)
                ));
                let mut restored = 0;
                for r in q.fetch_all(c).await? {
                    let Val::Int(id) = read_val(&r, 0, Class::Int) else { continue };
                    let v = read_val(&r, 1, *old_class);
                    let Ok(nv) = check_value(f, &as_json(&v, f)) else { continue };
                    let mut u = s.sql(format!(
                        "UPDATE {} SET {} = ",
                        s.table(&e.collection),
                        quote(&f.name)
                    ));
                    u.arg(nv).push(&format!(", {} = NULL WHERE id = ", quote(old_col)));
                    u.arg(Val::Int(id));
                    u.execute(c).await?;
                    restored += 1;
                }
                if restored > 0 {
                    report.steps.push(format!(
                        "{restored} values of {}.{} restored from {old_col}",
                        e.collection, f.name
                    ));
                }
            }
        }
        if let Some(o) = old_entity {
            for f in o.fields.iter().filter(|f| !e.fields.iter().any(|n| n.name == f.name)) {
                let n =
                    count_where(s, c, &e.collection, &format!("{} IS NOT NULL", quote(&f.name)))
                        .await?;
                if n > 0 && keep_all {
                    report.steps.push(format!(
                        "{} a value in {}, which the older plan lacks: kept, hidden",
                        records_have(n, e),
                        f.label
                    ));
                } else if n > 0 {
                    losses.push(format!(
                        "{} a value in {}, which the new plan drops",
                        records_have(n, e),
                        f.label
                    ));
                } else {
                    report.steps.push(format!(
                        "field {}.{} dropped (it held nothing)",
                        e.collection, f.name
                    ));
                }
            }
        }
    }
    if let Some(o) = &old {
        for e in
            o.entities.iter().filter(|e| !new.entities.iter().any(|n| n.collection == e.collection))
        {
            if s.columns(c, &e.collection).await?.is_empty() {
                continue;
            }
            let n = count_where(s, c, &e.collection, "1 = 1").await?;
            if n > 0 && keep_all {
                report.steps.push(format!(
                    "{} kept, hidden: the older plan lacks {}",
                    records(n, e),
                    e.label
                ));
            } else if n > 0 {
                losses.push(format!(
                    "{} would no longer be shown: the new plan drops {}",
                    records(n, e),
                    e.label
                ));
            }
        }
    }
    if !losses.is_empty() && policy == Policy::Ask {
        return Err(MigrateError::DataLoss(losses));
    }
    report.lost = losses;
    s.set_migrated_spec(c, new).await?;
    Ok(report)
}

fn show(v: &Val) -> String {
    match v {
        Val::Null(_) => "nothing".into(),
        Val::Int(i) => i.to_string(),
        Val::Real(r) => r.to_string(),
        Val::Text(t) => {
            let short: String = t.chars().take(40).collect();
            format!("{short:?}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(ty: FieldType) -> Field {
        Field { name: "x".into(), label: "X".into(), ty, required: false }
    }

    #[test]
    fn conversions_that_would_change_a_value_are_refused() {
        let int = field(FieldType::Int { min: None, max: None });
        assert_eq!(check_value(&int, &as_json(&Val::Real(42.0), &int)), Ok(Val::Int(42)));
        // Beyond i64: saturating would store another number.
        assert!(check_value(&int, &as_json(&Val::Real(1e20), &int)).is_err());
        assert!(check_value(&int, &as_json(&Val::Real(2.5), &int)).is_err());
        let dec = field(FieldType::Decimal);
        assert_eq!(check_value(&dec, &as_json(&Val::Int(7), &dec)), Ok(Val::Real(7.0)));
        // Above 2^53 a double would round it.
        assert!(check_value(&dec, &as_json(&Val::Int((1 << 53) + 1), &dec)).is_err());
        let b = field(FieldType::Bool);
        assert_eq!(check_value(&b, &as_json(&Val::Text("true".into()), &b)), Ok(Val::Int(1)));
        assert!(check_value(&b, &as_json(&Val::Int(2), &b)).is_err());
        let t = field(FieldType::Text);
        assert_eq!(check_value(&t, &as_json(&Val::Int(3), &t)), Ok(Val::Text("3".into())));
    }
}
