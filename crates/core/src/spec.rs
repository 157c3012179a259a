//! `AppSpec`: the blueprint of a generated app, serialised as its `app.json`. Shared with the
//! browser (the plan-review step edits one) and validated the same way on both sides.

use crate::error::{ApiError, ErrorCode, FieldError};
use serde::{Deserialize, Serialize};

/// The version of the `app.json` format this code writes.
pub const SPEC_VERSION: u32 = 1;

/// Names the runtime of generated apps uses for itself.
pub const RESERVED_NAMES: &[&str] = &["auth", "chat", "health", "events", "experiments"];
/// Slugs that would collide with the platform's own host names.
pub const RESERVED_SLUGS: &[&str] = &["www", "api", "admin"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Feature {
    /// End-user accounts of the generated app, with per-entity access rules.
    Auth,
    /// Create, read, update and delete pages for every entity.
    Crud,
    /// An AI chat page backed by the runtime's chat endpoint.
    Chat,
}

/// Who sees and changes an entity's records (with the `auth` feature).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// Only the record's creator sees and changes it.
    Private,
    /// Every signed-in user sees it; creators change their own.
    Shared,
    /// Anyone may read; signed-in users write.
    Public,
}

/// A field's type. `enum` lists its values; `ref` names another entity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FieldType {
    Text,
    LongText,
    Int {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<i64>,
    },
    Decimal,
    Bool,
    Date,
    Datetime,
    Time,
    Email,
    Url,
    Enum {
        values: Vec<String>,
    },
    Ref {
        entity: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Field {
    /// `^[a-z][a-z0-9_]{0,39}$`, unique within its entity.
    pub name: String,
    /// What people see, e.g. "Due date".
    pub label: String,
    #[serde(flatten)]
    pub ty: FieldType,
    #[serde(default)]
    pub required: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entity {
    /// `^[a-z][a-z0-9_]{0,39}$`, unique within the app, e.g. `task`.
    pub name: String,
    /// What people see, e.g. "Task".
    pub label: String,
    /// Plural, URL-safe, unique: `tasks` (the REST path `/api/tasks`).
    pub collection: String,
    /// Only what users edit: id, creator and timestamps are added by the runtime.
    pub fields: Vec<Field>,
    /// Present with the `auth` feature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<Access>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppSpec {
    #[serde(default = "spec_version")]
    pub version: u32,
    pub name: String,
    /// A DNS label, unique across the instance.
    pub slug: String,
    pub features: Vec<Feature>,
    pub entities: Vec<Entity>,
}

fn spec_version() -> u32 {
    SPEC_VERSION
}

/// Lower-case ASCII words joined by `_`, starting with a letter, at most 40 characters:
/// "Due date" → `due_date`, "CheckIn" → `check_in`.
pub fn normalize_name(label: &str) -> String {
    let mut out = String::new();
    let mut prev_lower = false;
    for c in label.chars() {
        if c.is_ascii_alphanumeric() {
            if c.is_ascii_uppercase() && prev_lower && !out.ends_with('_') {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
            prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        } else {
            if !out.is_empty() && !out.ends_with('_') {
                out.push('_');
            }
            prev_lower = false;
        }
    }
    let trimmed = out.trim_matches('_');
    let mut s: String = trimmed.trim_start_matches(|c: char| c.is_ascii_digit() || c == '_').into();
    s.truncate(40);
    s.trim_end_matches('_').to_owned()
}

/// A DNS label from a name: lower-case letters, digits and `-`, at most 63 characters.
pub fn slugify(name: &str) -> String {
    let s = normalize_name(name).replace('_', "-");
    let s: String = s.chars().take(63).collect();
    s.trim_matches('-').to_owned()
}

/// `task` → `tasks`, `category` → `categories`, `box` → `boxes`.
pub fn plural(w: &str) -> String {
    let irregular = [("person", "people"), ("child", "children")];
    if let Some((_, p)) = irregular.iter().find(|(s, _)| *s == w) {
        return (*p).to_owned();
    }
    let b = w.as_bytes();
    if w.ends_with('y') && b.len() > 1 && !b"aeiou".contains(&b[b.len() - 2]) {
        return format!("{}ies", &w[..w.len() - 1]);
    }
    if ["s", "x", "z", "ch", "sh"].iter().any(|e| w.ends_with(e)) {
        return format!("{w}es");
    }
    format!("{w}s")
}

fn valid_name(n: &str) -> bool {
    let b = n.as_bytes();
    !b.is_empty()
        && b.len() <= 40
        && b[0].is_ascii_lowercase()
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_')
}

fn valid_slug(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_lowercase()
        && !s.ends_with('-')
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && !RESERVED_SLUGS.contains(&s)
}

impl AppSpec {
    /// Checks every rule of the format; the error names each problem by its path
    /// (`entities[1].fields[0].name`).
    pub fn validate(&self) -> Result<(), ApiError> {
        let mut problems = Vec::new();
        let mut bad = |field: String, message: String| problems.push(FieldError { field, message });
        if self.name.trim().is_empty() || self.name.chars().count() > 80 {
            bad("name".into(), "The app needs a name of at most 80 characters.".into());
        }
        if !valid_slug(&self.slug) {
            bad(
                "slug".into(),
                "The slug must be a DNS label (a-z, 0-9, -) other than www, api or admin.".into(),
            );
        }
        if self.entities.is_empty() {
            bad("entities".into(), "The app needs at least one entity.".into());
        }
        if self.entities.len() > 30 {
            bad("entities".into(), "At most 30 entities.".into());
        }
        let auth = self.features.contains(&Feature::Auth);
        let names: Vec<&str> = self.entities.iter().map(|e| e.name.as_str()).collect();
        for (i, e) in self.entities.iter().enumerate() {
            let at = format!("entities[{i}]");
            for (what, value) in [("name", &e.name), ("collection", &e.collection)] {
                if !valid_name(value) {
                    bad(
                        format!("{at}.{what}"),
                        format!("{value:?} must match ^[a-z][a-z0-9_]{{0,39}}$."),
                    );
                }
                if RESERVED_NAMES.contains(&value.as_str()) {
                    bad(format!("{at}.{what}"), format!("{value:?} is reserved by the runtime."));
                }
            }
            if self.entities.iter().filter(|o| o.name == e.name).count() > 1 {
                bad(format!("{at}.name"), format!("Two entities are named {:?}.", e.name));
            }
            if self.entities.iter().filter(|o| o.collection == e.collection).count() > 1 {
                bad(
                    format!("{at}.collection"),
                    format!("Two entities use the collection {:?}.", e.collection),
                );
            }
            if auth != e.access.is_some() {
                bad(
                    format!("{at}.access"),
                    if auth {
                        "With the auth feature every entity needs an access rule.".into()
                    } else {
                        "Access rules need the auth feature.".into()
                    },
                );
            }
            if e.fields.is_empty() || e.fields.len() > 60 {
                bad(format!("{at}.fields"), "An entity needs between 1 and 60 fields.".into());
            }
            for (j, f) in e.fields.iter().enumerate() {
                let fat = format!("{at}.fields[{j}]");
                if !valid_name(&f.name) {
                    bad(
                        format!("{fat}.name"),
                        format!("{:?} must match ^[a-z][a-z0-9_]{{0,39}}$.", f.name),
                    );
                }
                if ["id", "created_at", "updated_at", "created_by"].contains(&f.name.as_str())
                    || RESERVED_NAMES.contains(&f.name.as_str())
                {
                    bad(
                        format!("{fat}.name"),
                        format!("{:?} is added or reserved by the runtime.", f.name),
                    );
                }
                if e.fields.iter().filter(|o| o.name == f.name).count() > 1 {
                    bad(
                        format!("{fat}.name"),
                        format!("Two fields of {:?} are named {:?}.", e.name, f.name),
                    );
                }
                match &f.ty {
                    FieldType::Enum { values }
                        if values.is_empty() || values.iter().any(|v| v.trim().is_empty()) =>
                    {
                        bad(format!("{fat}.values"), "An enum needs non-empty values.".into());
                    }
                    FieldType::Ref { entity } if !names.contains(&entity.as_str()) => {
                        bad(format!("{fat}.entity"), format!("No entity named {entity:?}."));
                    }
                    FieldType::Int { min: Some(lo), max: Some(hi) } if lo > hi => {
                        bad(format!("{fat}.min"), "min is greater than max.".into());
                    }
                    _ => {}
                }
            }
        }
        if problems.is_empty() {
            return Ok(());
        }
        Err(ApiError {
            error: ErrorCode::Invalid,
            message: format!("The plan has {} problem(s): {}", problems.len(), problems[0].message),
            fields: problems,
            retry_after: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn todo() -> AppSpec {
        AppSpec {
            version: SPEC_VERSION,
            name: "Todo".into(),
            slug: "todo".into(),
            features: vec![Feature::Auth, Feature::Crud],
            entities: vec![Entity {
                name: "task".into(),
                label: "Task".into(),
                collection: "tasks".into(),
                access: Some(Access::Private),
                fields: vec![
                    Field {
                        name: "title".into(),
                        label: "Title".into(),
                        ty: FieldType::Text,
                        required: true,
                    },
                    Field {
                        name: "priority".into(),
                        label: "Priority".into(),
                        ty: FieldType::Enum { values: vec!["low".into(), "high".into()] },
                        required: false,
                    },
                ],
            }],
        }
    }

    #[test]
    fn round_trips_as_app_json() {
        let json = serde_json::to_value(todo()).expect("ser");
        assert_eq!(json["entities"][0]["fields"][1]["type"], "enum");
        assert_eq!(json["entities"][0]["fields"][1]["values"][1], "high");
        assert_eq!(json["entities"][0]["access"], "private");
        let back: AppSpec = serde_json::from_value(json).expect("de");
        assert_eq!(back, todo());
        assert!(back.validate().is_ok());
    }

    #[test]
    fn validation_names_each_problem() {
        let mut s = todo();
        s.slug = "api".into();
        s.entities[0].name = "Bad Name".into();
        s.entities[0].fields[0].name = "id".into();
        s.entities[0].fields.push(Field {
            name: "owner".into(),
            label: "Owner".into(),
            ty: FieldType::Ref { entity: "person".into() },
            required: false,
        });
        s.entities[0].access = None;
        let err = s.validate().expect_err("invalid");
        for path in [
            "slug",
            "entities[0].name",
            "entities[0].fields[0].name",
            "entities[0].fields[2].entity",
            "entities[0].access",
        ] {
            assert!(err.field(path).is_some(), "{path}: {err:?}");
        }
        let mut r = todo();
        r.entities[0].collection = "chat".into();
        assert!(r.validate().expect_err("reserved").field("entities[0].collection").is_some());
    }

    #[test]
    fn names_and_slugs_are_normalised() {
        assert_eq!(normalize_name("Due date"), "due_date");
        assert_eq!(normalize_name("CheckIn"), "check_in");
        assert_eq!(normalize_name("  SKU "), "sku");
        assert_eq!(normalize_name("weight (kg)"), "weight_kg");
        assert_eq!(normalize_name("3D model"), "d_model");
        assert_eq!(normalize_name(&"x".repeat(60)).len(), 40);
        assert_eq!(slugify("Book Club!"), "book-club");
    }
}
