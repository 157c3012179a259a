//! Records of an entity: typed validation of what clients send, and the queries behind the REST
//! routes. The rules match the generated app's own `validate.js`.

use crate::storage::{Class, Sql, Storage, StorageError, Val, quote, read_val};
use kiln_core::{ApiError, Entity, ErrorCode, Field, FieldError, FieldType};
use serde_json::{Map, Value, json};
use sqlx::AnyConnection;
use sqlx::any::AnyRow;

/// Longest text value.
pub const MAX_TEXT: usize = 10_000;

/// What the columns of a record are, in the order queries select them.
fn select_list(e: &Entity) -> String {
    let mut cols =
        vec!["id".to_owned(), "created_by".into(), "created_at".into(), "updated_at".into()];
    cols.extend(e.fields.iter().map(|f| quote(&f.name)));
    cols.join(", ")
}

/// A record as JSON: id, creator, timestamps (ISO 8601, UTC) and the fields.
pub fn to_json(e: &Entity, row: &AnyRow) -> Value {
    let mut m = Map::new();
    let int = |i| match read_val(row, i, Class::Int) {
        Val::Int(v) => Some(v),
        _ => None,
    };
    m.insert("id".into(), json!(int(0)));
    m.insert("created_by".into(), json!(int(1)));
    m.insert("created_at".into(), json!(int(2).map(kiln_core::time::iso_time)));
    m.insert("updated_at".into(), json!(int(3).map(kiln_core::time::iso_time)));
    for (k, f) in e.fields.iter().enumerate() {
        let v = match read_val(row, 4 + k, Class::of(&f.ty)) {
            Val::Null(_) => Value::Null,
            Val::Int(i) if f.ty == FieldType::Bool => Value::Bool(i != 0),
            Val::Int(i) => json!(i),
            Val::Real(r) => json!(r),
            Val::Text(t) => Value::String(t),
        };
        m.insert(f.name.clone(), v);
    }
    Value::Object(m)
}

fn digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn is_date(s: &str) -> bool {
    let p: Vec<&str> = s.split('-').collect();
    p.len() == 3
        && p[0].len() == 4
        && p[1].len() == 2
        && p[2].len() == 2
        && p.iter().all(|x| digits(x))
        && (1..=12).contains(&p[1].parse::<u32>().unwrap_or(0))
        && (1..=31).contains(&p[2].parse::<u32>().unwrap_or(0))
}

fn is_time(s: &str) -> bool {
    let p: Vec<&str> = s.split(':').collect();
    (p.len() == 2 || p.len() == 3)
        && p.iter().all(|x| x.len() == 2 && digits(x))
        && p[0].parse::<u32>().unwrap_or(99) < 24
        && p[1].parse::<u32>().unwrap_or(99) < 60
        && p.get(2).is_none_or(|s| s.parse::<u32>().unwrap_or(99) < 60)
}

/// `YYYY-MM-DDTHH:MM[:SS[.fff]][Z|±HH:MM]` (what a `datetime-local` input and ISO 8601 give).
fn is_datetime(s: &str) -> bool {
    let Some((date, rest)) = s.split_once(['T', ' ']) else { return false };
    if !is_date(date) {
        return false;
    }
    let (time, _zone) = match rest.find(['Z', '+', '-']) {
        Some(i) => {
            let zone = &rest[i..];
            let ok = zone == "Z" || (zone.len() == 6 && is_time(&zone[1..]));
            if !ok {
                return false;
            }
            (&rest[..i], zone)
        }
        None => (rest, ""),
    };
    let time = time.split_once('.').map_or(time, |(t, frac)| if digits(frac) { t } else { "x" });
    is_time(time)
}

fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else { return false };
    !local.is_empty()
        && !domain.contains('@')
        && !s.chars().any(char::is_whitespace)
        && domain.split_once('.').is_some_and(|(a, b)| !a.is_empty() && !b.is_empty())
}

fn is_url(s: &str) -> bool {
    let rest = s.strip_prefix("https://").or_else(|| s.strip_prefix("http://"));
    rest.is_some_and(|r| !r.is_empty() && !r.starts_with('/'))
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Checks one JSON value against a field: the value to store, or the message for the person.
pub fn check_value(f: &Field, v: &Value) -> Result<Val, String> {
    let class = Class::of(&f.ty);
    let blank = match v {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        _ => false,
    };
    if blank {
        return if f.required {
            Err(format!("{} is required.", f.label))
        } else {
            Ok(Val::Null(class))
        };
    }
    let label = &f.label;
    let text = || match v {
        Value::String(s) => Some(s.trim().to_owned()),
        _ => None,
    };
    match &f.ty {
        FieldType::Int { min, max } => {
            let n = v.as_i64().ok_or_else(|| format!("{label} must be a whole number."))?;
            if let Some(lo) = min.filter(|lo| n < *lo) {
                return Err(format!("{label} must be at least {lo}."));
            }
            if let Some(hi) = max.filter(|hi| n > *hi) {
                return Err(format!("{label} must be at most {hi}."));
            }
            Ok(Val::Int(n))
        }
        FieldType::Decimal => v
            .as_f64()
            .filter(|x| x.is_finite())
            .map(Val::Real)
            .ok_or_else(|| format!("{label} must be a number.")),
        FieldType::Bool => v
            .as_bool()
            .map(|b| Val::Int(b.into()))
            .ok_or_else(|| format!("{label} must be yes or no.")),
        FieldType::Ref { .. } => {
            v.as_i64().filter(|n| *n > 0).map(Val::Int).ok_or_else(|| format!("Choose a {label}."))
        }
        FieldType::Enum { values } => {
            let t =
                text().ok_or_else(|| format!("{label} must be one of: {}.", values.join(", ")))?;
            values
                .iter()
                .find(|x| x.trim() == t)
                .map(|x| Val::Text(x.clone()))
                .ok_or_else(|| format!("{label} must be one of: {}.", values.join(", ")))
        }
        ty => {
            let t = text().ok_or_else(|| format!("{label} must be text."))?;
            let ok = match ty {
                FieldType::Date => is_date(&t),
                FieldType::Datetime => is_datetime(&t),
                FieldType::Time => is_time(&t),
                FieldType::Email => is_email(&t),
                FieldType::Url => is_url(&t),
                _ => true,
            };
            if !ok {
                return Err(match ty {
                    FieldType::Date => format!("{label} must be a date (YYYY-MM-DD)."),
                    FieldType::Datetime => format!("{label} must be a date and time."),
                    FieldType::Time => format!("{label} must be a time (HH:MM)."),
                    FieldType::Email => format!("{label} must be an email address."),
                    _ => format!("{label} must be a web address."),
                });
            }
            if t.chars().count() > MAX_TEXT {
                return Err(format!("{label} is too long (at most {MAX_TEXT} characters)."));
            }
            Ok(Val::Text(t))
        }
    }
}

/// Checks a create (`full`: every required field present) or an edit (only what is sent).
/// Unknown fields are refused.
pub fn check_body(e: &Entity, body: &Value, full: bool) -> Result<Vec<(String, Val)>, ApiError> {
    let Some(obj) = body.as_object() else {
        return Err(ApiError::new(ErrorCode::BadRequest, "Send a JSON object of field values."));
    };
    let mut problems = Vec::new();
    for k in obj.keys() {
        if !e.fields.iter().any(|f| &f.name == k) {
            problems.push(FieldError {
                field: k.clone(),
                message: format!("{} has no field named {k:?}.", e.label),
            });
        }
    }
    let mut out = Vec::new();
    for f in &e.fields {
        let v = match obj.get(&f.name) {
            Some(v) => v,
            None if full => &Value::Null,
            None => continue,
        };
        match check_value(f, v) {
            Ok(val) => out.push((f.name.clone(), val)),
            Err(message) => problems.push(FieldError { field: f.name.clone(), message }),
        }
    }
    if problems.is_empty() {
        return Ok(out);
    }
    Err(ApiError {
        error: ErrorCode::Invalid,
        message: if problems.len() == 1 {
            problems[0].message.clone()
        } else {
            format!("{} fields need attention.", problems.len())
        },
        fields: problems,
        retry_after: None,
    })
}

/// Who may see which records of a list: everyone's, or only one creator's.
#[derive(Debug, Clone, Copy)]
pub enum Scope {
    All,
    CreatedBy(i64),
}

fn push_scope(q: &mut Sql, scope: Scope) {
    match scope {
        Scope::All => q.push(" WHERE 1 = 1"),
        Scope::CreatedBy(u) => q.push(" WHERE created_by = ").arg(Val::Int(u)),
    };
}

pub async fn get(
    s: &Storage,
    c: &mut AnyConnection,
    e: &Entity,
    id: i64,
) -> Result<Option<AnyRow>, StorageError> {
    let mut q =
        s.sql(format!("SELECT {} FROM {} WHERE id = ", select_list(e), s.table(&e.collection)));
    q.arg(Val::Int(id));
    q.fetch_optional(c).await
}

/// The creator of a record, `Some(None)` for an anonymous one, `None` when there is none.
pub async fn creator(
    s: &Storage,
    c: &mut AnyConnection,
    collection: &str,
    id: i64,
) -> Result<Option<Option<i64>>, StorageError> {
    let mut q = s.sql(format!("SELECT created_by FROM {} WHERE id = ", s.table(collection)));
    q.arg(Val::Int(id));
    Ok(q.fetch_optional(c).await?.map(|r| match read_val(&r, 0, Class::Int) {
        Val::Int(u) => Some(u),
        _ => None,
    }))
}

pub async fn insert(
    s: &Storage,
    c: &mut AnyConnection,
    e: &Entity,
    values: &[(String, Val)],
    created_by: Option<i64>,
    now: i64,
) -> Result<i64, StorageError> {
    let mut cols = vec!["created_by".to_owned(), "created_at".into(), "updated_at".into()];
    cols.extend(values.iter().map(|(k, _)| quote(k)));
    let mut q =
        s.sql(format!("INSERT INTO {} ({}) VALUES (", s.table(&e.collection), cols.join(", ")));
    q.arg(created_by.map_or(Val::Null(Class::Int), Val::Int));
    q.push(", ").arg(Val::Int(now)).push(", ").arg(Val::Int(now));
    for (_, v) in values {
        q.push(", ").arg(v.clone());
    }
    q.push(") RETURNING id");
    q.scalar_i64(c).await
}

pub async fn update(
    s: &Storage,
    c: &mut AnyConnection,
    e: &Entity,
    id: i64,
    values: &[(String, Val)],
    now: i64,
) -> Result<bool, StorageError> {
    let mut q = s.sql(format!("UPDATE {} SET updated_at = ", s.table(&e.collection)));
    q.arg(Val::Int(now));
    for (k, v) in values {
        q.push(&format!(", {} = ", quote(k))).arg(v.clone());
    }
    q.push(" WHERE id = ").arg(Val::Int(id));
    Ok(q.execute(c).await? == 1)
}

pub async fn delete(
    s: &Storage,
    c: &mut AnyConnection,
    e: &Entity,
    id: i64,
) -> Result<bool, StorageError> {
    let mut q = s.sql(format!("DELETE FROM {} WHERE id = ", s.table(&e.collection)));
    q.arg(Val::Int(id));
    Ok(q.execute(c).await? == 1)
}

/// Whether a record exists (for `ref` fields), within `scope`.
pub async fn exists(
    s: &Storage,
    c: &mut AnyConnection,
    collection: &str,
    id: i64,
    scope: Scope,
) -> Result<bool, StorageError> {
    let mut q = s.sql(format!("SELECT COUNT(*) FROM {}", s.table(collection)));
    push_scope(&mut q, scope);
    q.push(" AND id = ").arg(Val::Int(id));
    Ok(q.scalar_i64(c).await? > 0)
}

/// A list request: paging, sorting, equality filters and a search over the text fields.
#[derive(Debug, Clone)]
pub struct ListQuery {
    pub limit: i64,
    pub offset: i64,
    /// A column, and whether it sorts descending.
    pub sort: (String, bool),
    pub filters: Vec<(String, Val)>,
    pub search: Option<String>,
}

pub const DEFAULT_LIMIT: i64 = 100;
pub const MAX_LIMIT: i64 = 500;

impl ListQuery {
    /// Reads `limit`, `offset`, `sort` (`field` or `-field`), `q` and `<field>=<value>`.
    pub fn parse(e: &Entity, pairs: &[(String, String)]) -> Result<Self, ApiError> {
        let mut out = ListQuery {
            limit: DEFAULT_LIMIT,
            offset: 0,
            sort: ("id".into(), false),
            filters: Vec::new(),
            search: None,
        };
        let number = |k: &str, v: &str, max: i64| {
            v.parse::<i64>().ok().filter(|n| (0..=max).contains(n)).ok_or_else(|| {
                ApiError::invalid(k, format!("{k} must be a number from 0 to {max}."))
            })
        };
        for (k, v) in pairs {
            match k.as_str() {
                "limit" => out.limit = number(k, v, MAX_LIMIT)?,
                "offset" => out.offset = number(k, v, i64::MAX)?,
                "q" => out.search = Some(v.trim().to_lowercase()).filter(|s| !s.is_empty()),
                "sort" => {
                    let (name, desc) = match v.strip_prefix('-') {
                        Some(n) => (n, true),
                        None => (v.as_str(), false),
                    };
                    let known = ["id", "created_at", "updated_at"].contains(&name)
                        || e.fields.iter().any(|f| f.name == name);
                    if !known {
                        return Err(ApiError::invalid(
                            "sort",
                            format!("{} has no field {name:?} to sort by.", e.label),
                        ));
                    }
                    out.sort = (name.to_owned(), desc);
                }
                name => {
                    let f = e.fields.iter().find(|f| f.name == name).ok_or_else(|| {
                        ApiError::invalid(
                            name,
                            format!("Unknown parameter {name:?}: filter by a field of {}, or use limit, offset, sort or q.", e.label),
                        )
                    })?;
                    let json = match Class::of(&f.ty) {
                        Class::Int if f.ty == FieldType::Bool => match v.as_str() {
                            "true" => Value::Bool(true),
                            "false" => Value::Bool(false),
                            _ => Value::String(v.clone()),
                        },
                        Class::Int | Class::Real => {
                            serde_json::from_str::<Value>(v).unwrap_or(Value::String(v.clone()))
                        }
                        Class::Text => Value::String(v.clone()),
                    };
                    let val = check_value(f, &json).map_err(|m| ApiError::invalid(name, m))?;
                    out.filters.push((name.to_owned(), val));
                }
            }
        }
        Ok(out)
    }
}

fn push_where(q: &mut Sql, e: &Entity, scope: Scope, lq: &ListQuery) {
    push_scope(q, scope);
    for (k, v) in &lq.filters {
        match v {
            Val::Null(_) => q.push(&format!(" AND {} IS NULL", quote(k))),
            v => q.push(&format!(" AND {} = ", quote(k))).arg(v.clone()),
        };
    }
    if let Some(s) = &lq.search {
        let texts: Vec<&Field> =
            e.fields.iter().filter(|f| Class::of(&f.ty) == Class::Text).collect();
        if texts.is_empty() {
            q.push(" AND 1 = 0");
        } else {
            let pattern =
                format!("%{}%", s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
            q.push(" AND (");
            for (i, f) in texts.iter().enumerate() {
                if i > 0 {
                    q.push(" OR ");
                }
                q.push(&format!("LOWER(COALESCE({}, '')) LIKE ", quote(&f.name)))
                    .arg(Val::Text(pattern.clone()))
                    .push(" ESCAPE '\\'");
            }
            q.push(")");
        }
    }
}

/// One page of records and how many match in all.
pub async fn list(
    s: &Storage,
    c: &mut AnyConnection,
    e: &Entity,
    scope: Scope,
    lq: &ListQuery,
) -> Result<(Vec<Value>, i64), StorageError> {
    let mut count = s.sql(format!("SELECT COUNT(*) FROM {}", s.table(&e.collection)));
    push_where(&mut count, e, scope, lq);
    let total = count.scalar_i64(c).await?;
    let mut q = s.sql(format!("SELECT {} FROM {}", select_list(e), s.table(&e.collection)));
    push_where(&mut q, e, scope, lq);
    let dir = if lq.sort.1 { "DESC" } else { "ASC" };
    q.push(&format!(" ORDER BY {} {dir}, id {dir} LIMIT ", quote(&lq.sort.0)));
    q.arg(Val::Int(lq.limit)).push(" OFFSET ").arg(Val::Int(lq.offset));
    let rows = q.fetch_all(c).await?;
    Ok((rows.iter().map(|r| to_json(e, r)).collect(), total))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(ty: FieldType, required: bool) -> Field {
        Field { name: "x".into(), label: "X".into(), ty, required }
    }

    #[test]
    fn values_are_checked_by_type() {
        let int = field(FieldType::Int { min: Some(1), max: Some(8) }, true);
        assert_eq!(check_value(&int, &json!(3)), Ok(Val::Int(3)));
        assert!(check_value(&int, &json!(9)).expect_err("max").contains("at most 8"));
        assert!(check_value(&int, &json!("3")).is_err());
        assert!(check_value(&int, &Value::Null).expect_err("required").contains("required"));
        let e = field(FieldType::Enum { values: vec!["low".into(), "high".into()] }, false);
        assert_eq!(check_value(&e, &json!("high")), Ok(Val::Text("high".into())));
        assert!(check_value(&e, &json!("urgent")).expect_err("enum").contains("low, high"));
        assert_eq!(check_value(&e, &Value::Null), Ok(Val::Null(Class::Text)));
        let d = field(FieldType::Date, false);
        assert!(check_value(&d, &json!("2026-11-28")).is_ok());
        assert!(check_value(&d, &json!("2026-13-28")).is_err());
        let dt = field(FieldType::Datetime, false);
        for ok in ["2026-11-28T14:30", "2026-11-28T14:30:05.123Z", "2026-11-28 14:30+01:00"] {
            assert!(check_value(&dt, &json!(ok)).is_ok(), "{ok}");
        }
        assert!(check_value(&dt, &json!("tomorrow")).is_err());
        let b = field(FieldType::Bool, false);
        assert_eq!(check_value(&b, &json!(true)), Ok(Val::Int(1)));
        assert!(check_value(&b, &json!("yes")).is_err());
        let em = field(FieldType::Email, false);
        assert!(check_value(&em, &json!("ada@example.com")).is_ok());
        assert!(check_value(&em, &json!("ada@example")).is_err());
        let u = field(FieldType::Url, false);
        assert!(check_value(&u, &json!("https://example.com/a")).is_ok());
        assert!(check_value(&u, &json!("javascript:alert(1)")).is_err());
        let t = field(FieldType::Time, false);
        assert!(check_value(&t, &json!("09:30")).is_ok());
        assert!(check_value(&t, &json!("25:00")).is_err());
    }
}
