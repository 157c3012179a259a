//! Reading the model's answer: JSON → normalised [`AppSpec`] → validated, or the reason it
//! cannot be used (which is what the retry sends back to the model).

use kiln_core::spec::{RESERVED_SLUGS, SPEC_VERSION, normalize_name, slugify};
use kiln_core::{Access, ApiError, AppSpec, Entity, Feature, Field, FieldType};
use serde::Deserialize;
use serde_json::{Map, Value};

/// Names the runtime adds to every record; a model often lists them anyway.
const RUNTIME_FIELDS: &[&str] = &["id", "created_at", "updated_at", "created_by"];

/// The answer as the schema asks for it, read leniently: `slug` and labels may be missing,
/// unknown features are dropped, nulls mean "not given".
#[derive(Deserialize)]
struct RawSpec {
    name: String,
    #[serde(default)]
    slug: Option<String>,
    #[serde(default)]
    features: Vec<String>,
    entities: Vec<Value>,
}

#[derive(Deserialize)]
struct RawEntity {
    name: String,
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    collection: Option<String>,
    #[serde(default)]
    access: Option<Access>,
    fields: Vec<Value>,
}

/// The field type is read by [`FieldType`]'s own serde (tag `type`, flattened), so the
/// schema and `AppSpec` agree on its shape.
#[derive(Deserialize)]
struct RawField {
    name: String,
    #[serde(default)]
    label: Option<String>,
    #[serde(flatten)]
    ty: FieldType,
    #[serde(default)]
    required: bool,
}

/// Turns the model's answer into a valid [`AppSpec`], or says in a sentence or two why it
/// cannot (not JSON, not an AppSpec, or the problems [`AppSpec::validate`] names).
pub(crate) fn read_answer(content: &str) -> Result<AppSpec, String> {
    let json = json_text(content).ok_or("the answer is empty")?;
    let value: Value =
        serde_json::from_str(json).map_err(|e| format!("the answer is not valid JSON ({e})"))?;
    let mut spec = to_spec(value)?;
    normalize(&mut spec);
    spec.validate().map_err(|e| describe_problems(&e))?;
    Ok(spec)
}

/// The JSON object in an answer: models without structured output sometimes wrap it in a
/// code fence or a sentence.
fn json_text(content: &str) -> Option<&str> {
    // Reasoning models served by Ollama or vLLM may put their thinking first.
    let t = content.rsplit_once("</think>").map_or(content, |(_, answer)| answer).trim();
    if t.is_empty() {
        return None;
    }
    if t.starts_with('{') {
        return Some(t);
    }
    match (t.find('{'), t.rfind('}')) {
        (Some(a), Some(b)) if a < b => Some(&t[a..=b]),
        _ => Some(t),
    }
}

fn to_spec(value: Value) -> Result<AppSpec, String> {
    if !value.is_object() {
        return Err("the answer must be one JSON object (the AppSpec)".into());
    }
    let raw: RawSpec =
        serde_json::from_value(value).map_err(|e| format!("it is not an AppSpec: {e}"))?;
    let mut features: Vec<Feature> = raw
        .features
        .iter()
        .filter_map(|f| match f.trim().to_ascii_lowercase().as_str() {
            "auth" => Some(Feature::Auth),
            "crud" => Some(Feature::Crud),
            "chat" => Some(Feature::Chat),
            _ => None,
        })
        .collect();
    features.sort_unstable();
    features.dedup();
    let mut entities = Vec::with_capacity(raw.entities.len());
    for (i, e) in raw.entities.into_iter().enumerate() {
        let raw: RawEntity = serde_json::from_value(tidy(e))
            .map_err(|err| format!("entities[{i}] is not an entity: {err}"))?;
        let mut fields = Vec::with_capacity(raw.fields.len());
        for (j, f) in raw.fields.into_iter().enumerate() {
            let f: RawField = serde_json::from_value(tidy(f))
                .map_err(|err| format!("entities[{i}].fields[{j}] is not a field: {err}"))?;
            fields.push(Field {
                label: label_or(&f.label, &f.name),
                name: f.name,
                ty: f.ty,
                required: f.required,
            });
        }
        entities.push(Entity {
            label: label_or(&raw.label, &raw.name),
            collection: raw.collection.unwrap_or_default(),
            name: raw.name,
            fields,
            access: raw.access,
        });
    }
    Ok(AppSpec {
        version: SPEC_VERSION,
        name: raw.name.trim().to_owned(),
        slug: raw.slug.unwrap_or_default(),
        features,
        entities,
    })
}

/// Drops `null` members (the schema makes keys that only some field types use nullable) and
/// lower-cases the `type` and `access` words.
fn tidy(value: Value) -> Value {
    let Value::Object(map) = value else { return value };
    let map: Map<String, Value> = map
        .into_iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| match (k.as_str(), v) {
            ("type" | "access", Value::String(s)) => {
                (k, Value::String(s.trim().to_ascii_lowercase()))
            }
            (_, v) => (k, v),
        })
        .collect();
    Value::Object(map)
}

fn label_or(label: &Option<String>, name: &str) -> String {
    match label.as_deref().map(str::trim) {
        Some(l) if !l.is_empty() => l.to_owned(),
        _ => {
            let words = normalize_name(name).replace('_', " ");
            let mut chars = words.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        }
    }
}

/// Harmless repairs before validation: names in the required form, a slug from the name,
/// a collection when missing, refs by collection mapped to the entity, no runtime fields.
fn normalize(spec: &mut AppSpec) {
    let slug = match slugify(&spec.slug) {
        s if s.is_empty() => slugify(&spec.name),
        s => s,
    };
    spec.slug = match slug {
        s if s.is_empty() => "app".to_owned(),
        s if RESERVED_SLUGS.contains(&s.as_str()) => format!("{s}-app"),
        s => s,
    };
    for e in &mut spec.entities {
        e.name = normalize_name(&e.name);
        e.collection = match normalize_name(&e.collection) {
            c if c.is_empty() => format!("{}s", e.name),
            c => c,
        };
    }
    let names: Vec<(String, String)> =
        spec.entities.iter().map(|e| (e.name.clone(), e.collection.clone())).collect();
    for e in &mut spec.entities {
        e.fields.retain(|f| !RUNTIME_FIELDS.contains(&normalize_name(&f.name).as_str()));
        for f in &mut e.fields {
            f.name = normalize_name(&f.name);
            match &mut f.ty {
                FieldType::Ref { entity } => {
                    let n = normalize_name(entity);
                    *entity = if names.iter().any(|(name, _)| *name == n) {
                        n
                    } else {
                        names.iter().find(|(_, c)| *c == n).map_or(n, |(name, _)| name.clone())
                    };
                }
                FieldType::Enum { values } => {
                    let mut seen = Vec::with_capacity(values.len());
                    for v in values.iter().map(|v| v.trim()).filter(|v| !v.is_empty()) {
                        if !seen.iter().any(|s: &String| s == v) {
                            seen.push(v.to_owned());
                        }
                    }
                    *values = seen;
                }
                _ => {}
            }
        }
    }
}

/// Every problem with its path, on one line: what the model needs to correct its answer.
pub(crate) fn describe_problems(e: &ApiError) -> String {
    if e.fields.is_empty() {
        return e.message.clone();
    }
    let shown: Vec<String> =
        e.fields.iter().take(12).map(|f| format!("{}: {}", f.field, f.message)).collect();
    let more = e.fields.len().saturating_sub(shown.len());
    let mut out = format!("the AppSpec is invalid: {}", shown.join("; "));
    if more > 0 {
        out.push_str(&format!("; and {more} more"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn answer(v: Value) -> Result<AppSpec, String> {
        read_answer(&v.to_string())
    }

    fn field(name: &str, ty: &str) -> Value {
        json!({"name": name, "label": name, "type": ty, "required": false,
               "values": null, "entity": null, "min": null, "max": null})
    }

    #[test]
    fn a_schema_shaped_answer_with_nulls_reads_as_app_spec_directly_too() {
        let v = json!({"name": "Shop", "slug": "shop", "features": ["crud"], "entities": [
            {"name": "product", "label": "Product", "collection": "products", "access": null,
             "fields": [field("title", "text"), field("price", "decimal"),
                {"name": "size", "label": "Size", "type": "enum", "required": false,
                 "values": ["S", "M"], "entity": null, "min": null, "max": null},
                {"name": "stock", "label": "Stock", "type": "int", "required": false,
                 "values": null, "entity": null, "min": 0, "max": null}]}]});
        let direct: AppSpec = serde_json::from_value(v.clone()).expect("AppSpec deserialises");
        let read = answer(v).expect("valid");
        assert_eq!(read, direct);
        assert_eq!(read.entities[0].fields[3].ty, FieldType::Int { min: Some(0), max: None });
    }

    #[test]
    fn harmless_slips_are_repaired() {
        let v = json!({"name": "Help Desk", "features": ["CRUD", "auth", "search", "auth"],
            "entities": [
            {"name": "Ticket", "collection": "", "access": "Shared",
             "fields": [field("id", "int"), field("Subject Line", "text"), field("created_at", "datetime")]},
            {"name": "comment", "label": "Comment", "collection": "comments", "access": "shared",
             "fields": [{"name": "ticket", "label": "Ticket", "type": "ref", "required": true,
                         "entity": "tickets"}, field("body", "long_text")]}]});
        let s = answer(v).expect("valid after repair");
        assert_eq!(s.slug, "help-desk");
        assert_eq!(s.features, vec![Feature::Auth, Feature::Crud]);
        let t = &s.entities[0];
        assert_eq!(
            (t.name.as_str(), t.collection.as_str(), t.label.as_str()),
            ("ticket", "tickets", "Ticket")
        );
        assert_eq!(t.access, Some(Access::Shared));
        assert_eq!(t.fields.len(), 1);
        assert_eq!(t.fields[0].name, "subject_line");
        assert_eq!(s.entities[1].fields[0].ty, FieldType::Ref { entity: "ticket".into() });
    }

    #[test]
    fn fenced_json_and_thinking_are_skipped() {
        let body = json!({"name": "Notes", "slug": "notes", "features": ["crud"],
            "entities": [{"name": "note", "label": "Note", "collection": "notes",
                          "fields": [field("text", "long_text")]}]});
        let s = read_answer(&format!("Here it is:\n```json\n{body}\n```")).expect("read");
        assert_eq!(s.entities[0].name, "note");
        let s = read_answer(&format!("<think>A {{note}} app.</think>\n{body}")).expect("read");
        assert_eq!(s.slug, "notes");
    }

    #[test]
    fn unusable_answers_say_why_with_paths() {
        assert!(read_answer("  ").expect_err("empty").contains("empty"));
        assert!(read_answer("{\"name\": ").expect_err("broken").contains("not valid JSON"));
        assert!(read_answer("[1]").expect_err("array").contains("one JSON object"));
        let no_entities = read_answer(r#"{"name": "X"}"#).expect_err("shape");
        assert!(
            no_entities.contains("not an AppSpec") && no_entities.contains("entities"),
            "{no_entities}"
        );
        let bad_type = answer(json!({"name": "X", "features": ["crud"], "entities": [
            {"name": "a", "label": "A", "collection": "as", "fields": [field("b", "string")]}]}))
        .expect_err("type");
        assert!(
            bad_type.contains("entities[0].fields[0]") && bad_type.contains("string"),
            "{bad_type}"
        );
        let reserved = answer(json!({"name": "X", "features": ["crud"], "entities": [
            {"name": "auth", "label": "Auth", "collection": "auths", "fields": [field("b", "text")]},
            {"name": "c", "label": "C", "collection": "cs", "access": "private",
             "fields": [field("b", "text")]}]}))
        .expect_err("reserved");
        assert!(
            reserved.contains("entities[0].name") && reserved.contains("reserved"),
            "{reserved}"
        );
        assert!(reserved.contains("entities[1].access"), "{reserved}");
    }
}
