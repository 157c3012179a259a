//! What the model is told: the system prompt, the JSON schema of its answer and the message
//! that sends a validation error back.

use kiln_core::spec::{RESERVED_NAMES, RESERVED_SLUGS};
use serde_json::{Value, json};

/// The name of the structured-output format (`response_format.json_schema.name`).
pub(crate) const SCHEMA_NAME: &str = "app_spec";

/// A complete answer for a short description, shown to the model as a pattern to follow.
pub(crate) const EXAMPLE_DESCRIPTION: &str = "A reading log: I sign in and keep the books I read \
     with a rating from 1 to 5, and notes per chapter.";
pub(crate) const EXAMPLE_ANSWER: &str = r#"{"name":"Reading Log","slug":"reading-log","features":["auth","crud"],"entities":[{"name":"book","label":"Book","collection":"books","access":"private","fields":[{"name":"title","label":"Title","type":"text","required":true,"values":null,"entity":null,"min":null,"max":null},{"name":"author","label":"Author","type":"text","required":false,"values":null,"entity":null,"min":null,"max":null},{"name":"status","label":"Status","type":"enum","required":false,"values":["to read","reading","finished"],"entity":null,"min":null,"max":null},{"name":"rating","label":"Rating","type":"int","required":false,"values":null,"entity":null,"min":1,"max":5},{"name":"finished_on","label":"Finished on","type":"date","required":false,"values":null,"entity":null,"min":null,"max":null}]},{"name":"chapter_note","label":"Chapter note","collection":"chapter_notes","access":"private","fields":[{"name":"book","label":"Book","type":"ref","required":true,"values":null,"entity":"book","min":null,"max":null},{"name":"chapter","label":"Chapter","type":"int","required":false,"values":null,"entity":null,"min":1,"max":null},{"name":"note","label":"Note","type":"long_text","required":true,"values":null,"entity":null,"min":null,"max":null}]}]}"#;

/// The system prompt: what an AppSpec is and how to choose each part of it.
pub(crate) fn system_prompt() -> String {
    let reserved = RESERVED_NAMES.join(", ");
    let reserved_slugs = RESERVED_SLUGS.join(", ");
    format!(
        r#"You plan web apps for Kiln. Kiln turns your plan, an AppSpec in JSON, into a working app: a database, a REST API and pages to list, create, edit and delete records. Read the person's description of the app they want and answer with one JSON object, the AppSpec, and nothing else (no prose, no code fences).

The AppSpec has these keys:
- "name": the app's name as people see it, short (at most 80 characters), e.g. "Book Club".
- "slug": the name as a DNS label: lower-case letters, digits and "-", e.g. "book-club". Never {reserved_slugs}.
- "features": a list of:
  - "crud": pages to list, create, edit and delete the records of every entity. Always include it.
  - "auth": people sign in to the app, and every entity gets an access rule. Include it when the description mentions accounts, signing in or logging in, users, members, teams, staff, "my"/personal/private records, or records some people must not see or change.
  - "chat": an AI chat page. Only when the description asks for an AI, an assistant or a chat bot.
- "entities": the kinds of records the app keeps (1 to 30), e.g. task, book, meeting. Only what the description asks for; do not invent extras. Each entity has:
  - "name": singular, lower snake_case matching ^[a-z][a-z0-9_]{{0,39}}$, unique, e.g. "task", "adoption_request".
  - "label": the singular as people see it, e.g. "Adoption request".
  - "collection": the plural in lower snake_case, unique, used in URLs, e.g. "tasks", "adoption_requests".
  - "access": with "auth" one of
    - "private": only the record's creator sees and changes it (a personal journal, my own tasks or expenses),
    - "shared": every signed-in user sees the records, each changes their own (a team board, club members' posts, staff tickets),
    - "public": anyone, even visitors who are not signed in, reads; signed-in users write (listings, catalogues, event pages, a blog).
    Without "auth" it is null.
  - "fields": 1 to 60, only what people type or choose in the entity's form. Never add "id", "created_at", "updated_at", "created_by" or a field for the record's creator or owner: the runtime adds an id, the creator and timestamps to every record. Each field has:
    - "name": lower snake_case matching ^[a-z][a-z0-9_]{{0,39}}$, unique within its entity, e.g. "due_date".
    - "label": as people see it, e.g. "Due date".
    - "type": one of
      text (a short line: a title, a name), long_text (paragraphs: a description, notes, a body), int (a whole number: a count, a quantity, minutes), decimal (money, prices, weights, measurements), bool (yes/no: done, paid, attending), date, datetime, time, email, url (a link, a photo or file given as a link), enum (a fixed choice: list the choices in "values", e.g. ["low", "medium", "high"]), ref (a link to a record of another entity of this app: name that entity in "entity").
    - "required": true for what a record cannot do without (usually its title or name, and the parent of a child record), else false.
    - "values": the choices of an enum field, else null.
    - "entity": for a ref field, the "name" of the entity it links to (an entity of this same AppSpec), else null.
    - "min", "max": bounds of an int field when the description gives them (a rating from 1 to 5), else null.

Relations: a record that belongs to another one gets a ref field to it (a comment has a ref to its ticket, an RSVP to its event, a chapter note to its book). Lists inside a record ("tags", "ingredients") are a long_text field unless people manage them as records of their own.

Reserved: never use {reserved} as the name or collection of an entity or as a field name; the runtime uses them itself (if the description speaks of "events", name the entity e.g. "event_item" with the collection "event_items").

Example. Description: "{EXAMPLE_DESCRIPTION}"
Answer: {EXAMPLE_ANSWER}"#
    )
}

/// The user message carrying the description.
pub(crate) fn user_prompt(description: &str) -> String {
    format!("Plan this app. The description:\n\n{description}")
}

/// The second user message, after an answer that could not be used.
pub(crate) fn correction(reason: &str) -> String {
    format!(
        "That answer cannot be used: {reason}\n\nAnswer again with the complete, corrected \
         AppSpec as one JSON object, and nothing else."
    )
}

/// The JSON schema of an answer, for `response_format: json_schema` with `strict: true`:
/// every object lists all its keys as required and allows no others, and keys that only some
/// field types use are nullable. An answer that follows it deserialises as a
/// [`kiln_core::AppSpec`] (the `type` key is the tag of the field type flattened into the
/// field; `version` is left out and defaults).
pub(crate) fn answer_schema() -> Value {
    let name = |what: &str| {
        json!({
            "type": "string",
            "description": format!("{what}: lower snake_case, ^[a-z][a-z0-9_]{{0,39}}$"),
        })
    };
    let field = json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["name", "label", "type", "required", "values", "entity", "min", "max"],
        "properties": {
            "name": name("The field's name, unique within its entity"),
            "label": { "type": "string", "description": "What people see, e.g. \"Due date\"" },
            "type": {
                "type": "string",
                "enum": ["text", "long_text", "int", "decimal", "bool", "date", "datetime",
                         "time", "email", "url", "enum", "ref"],
            },
            "required": { "type": "boolean" },
            "values": {
                "type": ["array", "null"],
                "items": { "type": "string" },
                "description": "The choices of an enum field; null for other types",
            },
            "entity": {
                "type": ["string", "null"],
                "description": "For a ref field, the name of the entity it links to; else null",
            },
            "min": { "type": ["integer", "null"], "description": "Lower bound of an int field" },
            "max": { "type": ["integer", "null"], "description": "Upper bound of an int field" },
        },
    });
    let entity = json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["name", "label", "collection", "access", "fields"],
        "properties": {
            "name": name("Singular entity name, e.g. task"),
            "label": { "type": "string", "description": "Singular, as people see it" },
            "collection": name("Plural, unique, used in URLs, e.g. tasks"),
            "access": {
                "type": ["string", "null"],
                "enum": ["private", "shared", "public", null],
                "description": "Required with the auth feature; null without it",
            },
            "fields": {
                "type": "array",
                "items": field,
                "description": "Only what users edit; id, creator and timestamps are added",
            },
        },
    });
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["name", "slug", "features", "entities"],
        "properties": {
            "name": { "type": "string", "description": "The app's name, at most 80 characters" },
            "slug": { "type": "string", "description": "A DNS label: a-z, 0-9 and -" },
            "features": {
                "type": "array",
                "items": { "type": "string", "enum": ["auth", "crud", "chat"] },
            },
            "entities": { "type": "array", "items": entity },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// OpenAI's strict mode rejects a schema unless every object requires exactly its
    /// properties and forbids others; check that for every object in the tree.
    fn check_strict(schema: &Value, at: &str) {
        let Some(obj) = schema.as_object() else { return };
        if obj.get("type") == Some(&json!("object")) {
            assert_eq!(obj.get("additionalProperties"), Some(&json!(false)), "{at}");
            let props = obj["properties"].as_object().expect("properties");
            let mut required: Vec<&str> = obj["required"]
                .as_array()
                .expect("required")
                .iter()
                .flat_map(Value::as_str)
                .collect();
            let mut keys: Vec<&str> = props.keys().map(String::as_str).collect();
            required.sort_unstable();
            keys.sort_unstable();
            assert_eq!(required, keys, "{at}");
        }
        for (k, v) in obj {
            check_strict(v, &format!("{at}.{k}"));
        }
    }

    #[test]
    fn schema_is_valid_for_strict_mode() {
        check_strict(&answer_schema(), "$");
    }

    #[test]
    fn the_prompt_names_every_reserved_word_and_the_example_is_a_valid_spec() {
        let p = system_prompt();
        for w in RESERVED_NAMES.iter().chain(RESERVED_SLUGS) {
            assert!(p.contains(w), "{w}");
        }
        // The example must itself be an answer the schema allows and AppSpec accepts.
        let spec: kiln_core::AppSpec = serde_json::from_str(EXAMPLE_ANSWER).expect("AppSpec");
        spec.validate().expect("valid example");
        assert_eq!(
            spec.entities[1].fields[0].ty,
            kiln_core::FieldType::Ref { entity: "book".into() }
        );
        let value: Value = serde_json::from_str(EXAMPLE_ANSWER).expect("json");
        let schema = answer_schema();
        let field_keys = schema["properties"]["entities"]["items"]["properties"]["fields"]["items"]
            ["required"]
            .as_array()
            .expect("required")
            .len();
        for e in value["entities"].as_array().expect("entities") {
            for f in e["fields"].as_array().expect("fields") {
                assert_eq!(f.as_object().expect("field").len(), field_keys, "{f}");
            }
        }
    }
}
