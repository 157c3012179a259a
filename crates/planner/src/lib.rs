#![doc = include_str!("../README.md")]

pub mod quality;
mod words;

use kiln_core::spec::{normalize_name, slugify};
use kiln_core::{Access, AppSpec, Entity, Feature, Field, FieldType, spec::SPEC_VERSION};
use words::{GENERIC_HEADS, INTERACTIONS, LIST_KINDS, STOP, VERBS, is, plural, singular, words};

/// Longest description the planner reads (characters); the rest is ignored.
pub const MAX_DESCRIPTION: usize = 20_000;

#[derive(Debug, Clone)]
struct DraftField {
    name: String,
    /// What people see; kept for plans that carry the description's own wording.
    #[allow(dead_code)]
    label: String,
    ty: FieldType,
    /// The entity a field named after it refers to, resolved once all entities are known.
    maybe_ref: bool,
}

#[derive(Debug, Clone)]
struct Draft {
    name: String,
    label: String,
    fields: Vec<DraftField>,
    /// Entity this one belongs to ("each with exercises", "comments to tickets").
    parent: Option<String>,
}

/// Plans an app from a description a person submitted: 422 when it is empty, 413 when it is
/// longer than [`MAX_DESCRIPTION`] characters, else the plan.
pub fn plan_description(description: &str) -> Result<AppSpec, kiln_core::ApiError> {
    use kiln_core::{ApiError, ErrorCode};
    let d = description.trim();
    if d.is_empty() {
        return Err(ApiError::invalid("description", "Describe the app first."));
    }
    if d.chars().count() > MAX_DESCRIPTION {
        let mut e = ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("A description can be at most {MAX_DESCRIPTION} characters."),
        );
        e.fields.push(kiln_core::FieldError {
            field: "description".into(),
            message: e.message.clone(),
        });
        return Err(e);
    }
    Ok(plan(d))
}

/// Plans an app from its description. Deterministic; never fails (an empty or unreadable
/// description gives a one-entity app of notes, which the person then edits).
pub fn plan(description: &str) -> AppSpec {
    let text: String = description.chars().take(MAX_DESCRIPTION).collect();
    let text = text.replace(['\u{2014}', '\u{2013}'], ". ").replace(" - ", ". ");
    let clauses = split_clauses(&text);
    let mut drafts: Vec<Draft> = Vec::new();
    for clause in &clauses {
        read_clause(clause, &mut drafts);
    }
    if drafts.is_empty() {
        drafts.push(Draft {
            name: "note".into(),
            label: "Note".into(),
            fields: vec![
                field_from_phrase("title").expect("title"),
                field_from_phrase("body").expect("body"),
            ],
            parent: None,
        });
    }
    let lower = text.to_lowercase();
    let features = features(&lower);
    let access = features.contains(&Feature::Auth).then(|| access_rule(&lower));
    let name = app_name(&clauses, &drafts);
    finish(name, features, access, drafts)
}

/// Splits on sentence ends and semicolons outside parentheses.
fn split_clauses(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut depth = 0i32;
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        match c {
            '(' => depth += 1,
            ')' => depth = (depth - 1).max(0),
            _ => {}
        }
        let next_is_space = chars.get(i + 1).is_none_or(|n| n.is_whitespace());
        let end = depth == 0
            && (c == ';' || c == '!' || c == '?' || c == '\n' || (c == '.' && next_is_space));
        if end {
            if !cur.trim().is_empty() {
                out.push(cur.trim().to_owned());
            }
            cur.clear();
        } else {
            cur.push(c);
        }
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_owned());
    }
    out
}

/// A place in a clause where a list of fields starts.
#[derive(Debug)]
struct Trigger {
    /// Byte offset of the trigger in the clause.
    at: usize,
    /// The noun phrase naming the entity (text before the trigger).
    head_end: usize,
    /// The list of fields.
    list: String,
    /// Where the list ends, so triggers inside it are ignored.
    list_end: usize,
    /// Introduced "each with …": a child of the entity before it.
    child: bool,
}

fn read_clause(clause: &str, drafts: &mut Vec<Draft>) {
    let lower = clause.to_lowercase();
    special_shapes(&lower, drafts);
    let mut triggers = Vec::new();
    // "X: a, b, c" (a colon outside parentheses) — unless what follows is itself a sentence.
    if let Some(colon) = top_level_find(&lower, ':') {
        let tail = &clause[colon + 1..];
        let tail_lower = tail.to_lowercase();
        let tail_has_shape =
            [" with ", " has ", " have ", "("].iter().any(|t| tail_lower.contains(t))
                || words(tail).first().is_some_and(|w| is(VERBS, w) || w == "each" || w == "every");
        if tail_has_shape {
            read_clause(tail, drafts);
            return;
        }
        triggers.push(Trigger {
            at: colon,
            head_end: colon,
            list: tail.to_owned(),
            list_end: clause.len(),
            child: false,
        });
    }
    for kw in [
        " with ",
        " has ",
        " have ",
        " record ",
        " records ",
        " store ",
        " stores ",
        " contain ",
        " contains ",
        " include ",
        " includes ",
        " hold ",
        " holds ",
        " track ",
        " tracks ",
    ] {
        let mut from = 0;
        while let Some(i) = lower[from..].find(kw).map(|i| i + from) {
            let list = &clause[i + kw.len()..];
            let (list, used) = cut_list(list);
            let before = lower[..i].trim_end();
            let child = kw == " with " && (before.ends_with(" each") || before == "each");
            triggers.push(Trigger {
                at: i,
                head_end: i,
                list,
                list_end: i + kw.len() + used,
                child,
            });
            from = i + kw.len();
        }
    }
    let mut from = 0;
    while let Some(open) = lower[from..].find('(').map(|i| i + from) {
        let Some(close) = matching_paren(&lower, open) else { break };
        let inner = &clause[open + 1..close];
        if inner.contains(',') || inner.contains(" and ") {
            // "workouts (…) each with exercises (…)": exercises belong to a workout.
            let pre = lower[..open].trim_end();
            let child = pre.rfind("each with ").is_some_and(|i| words(&pre[i + 10..]).len() <= 2);
            triggers.push(Trigger {
                at: open,
                head_end: open,
                list: inner.to_owned(),
                list_end: close + 1,
                child,
            });
        }
        from = close + 1;
    }
    triggers.sort_by_key(|t| t.at);
    let mut covered: Vec<(usize, usize)> = Vec::new();
    for t in triggers {
        if covered.iter().any(|(a, b)| t.at > *a && t.at < *b) {
            continue;
        }
        let Some((name, label)) = head_entity(&lower[..t.head_end]) else { continue };
        covered.push((t.at, t.list_end));
        let parent = if t.child { drafts.last().map(|d| d.name.clone()) } else { None };
        let fields = parse_fields(&t.list);
        add_draft(drafts, name, label, fields, parent);
    }
    // "mark them done": a yes/no field on the entity the clause is about.
    if let Some(i) = lower
        .find("mark them ")
        .or_else(|| lower.find("mark it "))
        .or_else(|| lower.find("mark as "))
    {
        let rest = &lower[i..];
        if let Some(word) = words(rest).get(2).cloned()
            && let Some(d) = drafts.last_mut()
            && !d.fields.iter().any(|f| f.name == word)
        {
            d.fields.push(DraftField {
                name: normalize_name(&word),
                label: cap(&word),
                ty: FieldType::Bool,
                maybe_ref: false,
            });
        }
    }
}

/// Shapes that introduce an entity without a field list.
fn special_shapes(lower: &str, drafts: &mut Vec<Draft>) {
    let w = words(lower);
    // "<actor> add comments to tickets" / "post reviews on products"
    for (i, verb) in w.iter().enumerate() {
        if !["add", "post", "write", "leave", "attach"].contains(&verb.as_str()) {
            continue;
        }
        if let (Some(noun), Some(prep), Some(target)) = (w.get(i + 1), w.get(i + 2), w.get(i + 3))
            && (prep == "to" || prep == "on")
            && !is(STOP, noun)
            && !is(STOP, target)
        {
            let name = singular(noun);
            let fields = vec![
                DraftField {
                    name: singular(target),
                    label: cap(&singular(target)),
                    ty: FieldType::Text,
                    maybe_ref: true,
                },
                field_from_phrase("body").expect("body"),
            ];
            add_draft(drafts, name.clone(), cap(&name), fields, Some(singular(target)));
        }
    }
    // "every day I check in on each habit": a dated record of doing something to each X.
    if let Some(pos) = w.iter().position(|x| x == "each")
        && pos >= 3
        && (w[pos - 1] == "on" || w[pos - 1] == "for")
    {
        {
            let target = w.get(pos + 1).cloned();
            let subject = w[..pos - 1].iter().rposition(|x| x == "i" || x == "we");
            if let (Some(target), Some(s)) = (target, subject) {
                let verb: Vec<&String> = w[s + 1..pos - 1].iter().collect();
                if !verb.is_empty() && verb.len() <= 2 && !is(STOP, verb[0]) {
                    let label = verb.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(" ");
                    let name = normalize_name(&label);
                    let fields = vec![
                        field_from_phrase("date").expect("date"),
                        DraftField {
                            name: singular(&target),
                            label: cap(&singular(&target)),
                            ty: FieldType::Text,
                            maybe_ref: true,
                        },
                    ];
                    add_draft(drafts, name, cap(&label), fields, Some(singular(&target)));
                }
            }
        }
    }
    // "set a monthly budget per category": an amount per something.
    for (i, x) in w.iter().enumerate() {
        if !["budget", "limit", "goal", "quota", "allowance"].contains(&x.as_str()) {
            continue;
        }
        if let (Some(per), Some(thing)) = (w.get(i + 1), w.get(i + 2))
            && (per == "per" || per == "for")
        {
            let qualifier = w.get(i.wrapping_sub(1)).filter(|q| !is(STOP, q)).cloned();
            let amount = match &qualifier {
                Some(q) => format!("{q} amount"),
                None => "amount".into(),
            };
            let fields = vec![
                DraftField {
                    name: singular(thing),
                    label: cap(&singular(thing)),
                    ty: FieldType::Text,
                    maybe_ref: true,
                },
                field_from_phrase(&amount).expect("amount"),
            ];
            add_draft(drafts, x.clone(), cap(x), fields, None);
        }
    }
}

fn add_draft(
    drafts: &mut Vec<Draft>,
    name: String,
    label: String,
    fields: Vec<DraftField>,
    parent: Option<String>,
) {
    if let Some(d) = drafts.iter_mut().find(|d| d.name == name) {
        for f in fields {
            if !d.fields.iter().any(|g| g.name == f.name) {
                d.fields.push(f);
            }
        }
        if d.parent.is_none() {
            d.parent = parent;
        }
        return;
    }
    drafts.push(Draft { name, label, fields, parent });
}

fn top_level_find(s: &str, needle: char) -> Option<usize> {
    let mut depth = 0i32;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            c if c == needle && depth == 0 => return Some(i),
            _ => {}
        }
    }
    None
}

fn matching_paren(s: &str, open: usize) -> Option<usize> {
    let mut depth = 0i32;
    for (i, c) in s[open..].char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(open + i);
                }
            }
            _ => {}
        }
    }
    None
}

/// The entity named by the end of `before` (the words just before a trigger).
fn head_entity(before: &str) -> Option<(String, String)> {
    let before = before.rsplit([',', ':', ')', '(']).next().unwrap_or(before);
    let w = words(before);
    let head = w.last()?.clone();
    if head == "list" {
        let kind = w.get(w.len().wrapping_sub(2))?;
        let (_, entity) = LIST_KINDS.iter().find(|(k, _)| k == kind)?;
        return Some(((*entity).to_owned(), cap(entity)));
    }
    if is(STOP, &head)
        || is(VERBS, &head) && head != "rsvp"
        || head.chars().all(|c| c.is_ascii_digit())
    {
        return None;
    }
    if is(GENERIC_HEADS, &head) {
        return None;
    }
    let mut phrase = vec![singular(&head)];
    if w.len() >= 2 {
        let m = &w[w.len() - 2];
        let plural_modifier = m.ends_with('s') && !m.ends_with("ss");
        if !is(STOP, m)
            && !is(VERBS, m)
            && !plural_modifier
            && !is(GENERIC_HEADS, m)
            && m.chars().all(|c| c.is_alphabetic())
        {
            phrase.insert(0, m.clone());
        }
    }
    let label = cap(&phrase.join(" "));
    let name = normalize_name(&phrase.join(" "));
    (!name.is_empty()).then_some((name, label))
}

/// Cuts a "with …" list where a new action starts; returns the list and the bytes it used.
fn cut_list(list: &str) -> (String, usize) {
    let items = split_items(list);
    let mut kept = Vec::new();
    let mut used = 0;
    for (item, end) in items {
        let first = words(&item).first().cloned().unwrap_or_default();
        if is(VERBS, &first) && first != "rsvp"
            || ["that", "which", "who", "where", "so"].contains(&first.as_str())
        {
            break;
        }
        kept.push(item);
        used = end;
    }
    (kept.join(", "), used)
}

/// Top-level items of a list split on commas and "and" (with their end offsets).
fn split_items(list: &str) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    let lower = list.to_lowercase();
    let bytes = lower.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'(' => depth += 1,
            b')' => depth -= 1,
            _ => {}
        }
        let at_and = depth == 0 && lower[i..].starts_with(" and ");
        let at_amp = depth == 0 && lower[i..].starts_with(" & ");
        if depth == 0 && (c == b',' || at_and || at_amp) {
            out.push((list[start..i].trim().to_owned(), i));
            i += if at_and {
                5
            } else if at_amp {
                3
            } else {
                1
            };
            start = i;
            continue;
        }
        i += 1;
    }
    out.push((list[start..].trim().to_owned(), list.len()));
    out.into_iter().filter(|(s, _)| !s.is_empty()).collect()
}

fn parse_fields(list: &str) -> Vec<DraftField> {
    let mut out: Vec<DraftField> = Vec::new();
    for (item, _) in split_items(list) {
        if let Some(f) = field_from_phrase(&item)
            && !out.iter().any(|g| g.name == f.name)
        {
            out.push(f);
        }
    }
    out
}

/// One field from a phrase such as "a due date", "priority (low, medium, high)",
/// "the cooking time in minutes", "whether they attend", "status: open / closed".
fn field_from_phrase(phrase: &str) -> Option<DraftField> {
    let mut p = phrase.trim().trim_end_matches(['.', ',']).to_lowercase();
    let mut values: Vec<String> = Vec::new();
    // Choices in parentheses or after a colon.
    if let Some(open) = p.find('(') {
        let close = p.rfind(')').unwrap_or(p.len());
        let inner = p[open + 1..close.max(open + 1)].to_owned();
        let vs = split_values(&inner);
        if vs.len() >= 2 {
            values = vs;
        }
        let keep_unit = inner.trim().to_owned();
        p = format!("{} {}", &p[..open], if values.is_empty() { keep_unit } else { String::new() });
    }
    if let Some(colon) = p.find(':') {
        let vs = split_values(&p[colon + 1..]);
        if vs.len() >= 2 {
            values = vs;
        }
        p.truncate(colon);
    }
    let mut ty: Option<FieldType> = None;
    // "whether they attend" → attending; "whether they are adopted" → adopted.
    let w = words(&p);
    if let Some(pos) = w.iter().position(|x| x == "whether" || x == "if") {
        let rest: Vec<&String> =
            w[pos + 1..].iter().filter(|x| !is(STOP, x) && *x != "is" && *x != "are").collect();
        let word = rest.first()?.to_string();
        let name = if word.ends_with("ed") || word.ends_with("ing") {
            word
        } else {
            format!("{}ing", word.strip_suffix('e').unwrap_or(&word))
        };
        return Some(DraftField {
            label: cap(&name),
            name: normalize_name(&name),
            ty: FieldType::Bool,
            maybe_ref: false,
        });
    }
    // Cut examples, relative clauses and "to the posting".
    let mut kept: Vec<String> = Vec::new();
    let mut unit: Option<&str> = None;
    let mut out_of: Option<i64> = None;
    let mut i = 0;
    while i < w.len() {
        let x = w[i].as_str();
        if ["like", "such", "e.g", "eg", "including"].contains(&x)
            || (["we", "i", "you", "they", "that", "which", "who"].contains(&x) && !kept.is_empty())
            || ((x == "to" || x == "for" || x == "of")
                && w.get(i + 1).is_some_and(|n| n == "the" || n == "a"))
        {
            break;
        }
        if x == "out" && w.get(i + 1).is_some_and(|n| n == "of") {
            out_of = w.get(i + 2).and_then(|n| n.parse().ok());
            break;
        }
        if x == "in"
            && w.get(i + 1).is_some_and(|n| {
                ["minutes", "hours", "days", "stock", "seconds", "kg", "km", "euros", "dollars"]
                    .contains(&n.as_str())
            })
        {
            unit = Some(match w[i + 1].as_str() {
                "kg" | "km" | "euros" | "dollars" => "decimal",
                _ => "int",
            });
            break;
        }
        if ["minutes", "mins", "hours", "seconds", "days"].contains(&x) && !kept.is_empty() {
            unit = Some("int");
            i += 1;
            continue;
        }
        if ["kg", "lbs", "lb", "km", "miles", "eur", "usd"].contains(&x) && !kept.is_empty() {
            unit = Some("decimal");
            i += 1;
            continue;
        }
        if !(kept.is_empty() && is(STOP, x)) {
            kept.push(x.to_owned());
        }
        i += 1;
    }
    while kept.last().is_some_and(|x| is(STOP, x)) {
        kept.pop();
    }
    // "filter by priority" is an action, not a field; a lone word such as "book" is a noun.
    if kept.is_empty() || kept.len() > 5 || kept.len() > 1 && is(VERBS, &kept[0]) {
        return None;
    }
    let phrase = kept.join(" ");
    let name = normalize_name(&phrase);
    if name.is_empty() {
        return None;
    }
    if !values.is_empty() {
        ty = Some(FieldType::Enum { values: values.iter().map(|v| v.trim().to_owned()).collect() });
    } else if let Some(n) = out_of {
        ty = Some(FieldType::Int { min: Some(1), max: Some(n) });
    } else if let Some(u) = unit {
        ty = Some(if u == "int" {
            FieldType::Int { min: Some(0), max: None }
        } else {
            FieldType::Decimal
        });
    }
    let ty = ty.unwrap_or_else(|| type_of(&kept));
    Some(DraftField { label: cap(&phrase), name, ty, maybe_ref: true })
}

fn split_values(s: &str) -> Vec<String> {
    let sep = if s.contains('/') { '/' } else { ',' };
    s.split(sep)
        .flat_map(|v| v.split(" or "))
        .map(|v| {
            v.trim()
                .trim_matches(|c: char| !c.is_alphanumeric() && c != ' ' && c != '-')
                .trim()
                .to_owned()
        })
        .filter(|v| !v.is_empty() && v.len() <= 40)
        .collect()
}

const BOOL_WORDS: &[&str] = &[
    "done",
    "completed",
    "complete",
    "finished",
    "adopted",
    "paid",
    "active",
    "available",
    "archived",
    "published",
    "attending",
    "approved",
    "confirmed",
    "read",
    "visible",
];
const IDENTIFIER_WORDS: &[&str] = &["phone", "isbn", "sku", "code", "zip", "postcode", "id"];
const MONEY_WORDS: &[&str] = &[
    "price",
    "amount",
    "cost",
    "budget",
    "salary",
    "total",
    "balance",
    "fee",
    "weight",
    "distance",
    "height",
    "length",
    "temperature",
    "latitude",
    "longitude",
    "rate",
    "value",
    "revenue",
];
const COUNT_WORDS: &[&str] = &[
    "age", "quantity", "count", "number", "capacity", "sets", "reps", "duration", "minutes",
    "hours", "target", "year", "stock", "pages", "servings", "seats", "size", "level", "mileage",
    "floor",
];
const LONG_TEXT_WORDS: &[&str] = &[
    "description",
    "notes",
    "note",
    "body",
    "message",
    "ingredients",
    "instructions",
    "bio",
    "content",
    "comment",
    "details",
    "summary",
    "text",
    "steps",
    "address",
];

/// The type a field's words suggest.
fn type_of(w: &[String]) -> FieldType {
    let has = |list: &[&str]| w.iter().any(|x| list.contains(&x.as_str()));
    let last = w.last().map(String::as_str).unwrap_or("");
    if has(&["email", "e-mail"]) {
        FieldType::Email
    } else if has(&["url", "link", "website", "homepage", "photo", "image", "picture", "avatar"]) {
        FieldType::Url
    } else if has(&["datetime", "timestamp"])
        || (has(&["start", "end", "starts", "ends"]) && has(&["time"]))
    {
        FieldType::Datetime
    } else if has(&["date", "day", "birthday", "deadline", "due", "dob", "applied"]) {
        FieldType::Date
    } else if last == "time" && has(&["opening", "closing", "wake", "alarm"]) {
        FieldType::Time
    } else if has(BOOL_WORDS) && w.len() <= 2 {
        FieldType::Bool
    } else if has(&["rating", "stars", "score"]) {
        FieldType::Int { min: Some(1), max: Some(5) }
    } else if (last == "number" && w.len() > 1) || has(IDENTIFIER_WORDS) {
        // Identifiers that happen to be digits: a plate number, a phone number, an ISBN.
        FieldType::Text
    } else if has(MONEY_WORDS) && !has(&["range"]) {
        FieldType::Decimal
    } else if has(COUNT_WORDS) {
        FieldType::Int { min: Some(0), max: None }
    } else if has(LONG_TEXT_WORDS) {
        FieldType::LongText
    } else {
        FieldType::Text
    }
}

fn features(lower: &str) -> Vec<Feature> {
    let has = |needles: &[&str]| needles.iter().any(|n| contains_word(lower, n));
    let mut f = Vec::new();
    if has(&[
        "sign in",
        "signs in",
        "sign up",
        "log in",
        "logs in",
        "login",
        "log-in",
        "logged in",
        "account",
        "accounts",
        "private",
        "only i",
        "only me",
        "per user",
        "password",
    ]) {
        f.push(Feature::Auth);
    }
    f.push(Feature::Crud);
    if has(&["ai", "assistant", "chat bot", "chatbot", "chat", "gpt", "llm"]) {
        f.push(Feature::Chat);
    }
    f
}

fn access_rule(lower: &str) -> Access {
    let has = |needles: &[&str]| needles.iter().any(|n| contains_word(lower, n));
    if has(&[
        "private",
        "only i",
        "only me",
        "per user",
        "personal",
        "my own",
        "i can sign in",
        "i sign in",
        "just me",
    ]) {
        Access::Private
    } else if has(&[
        "visitors",
        "public",
        "anyone",
        "listing",
        "listings",
        "browse",
        "everyone can see",
    ]) {
        Access::Public
    } else {
        Access::Shared
    }
}

/// `needle` in `hay` at word boundaries.
fn contains_word(hay: &str, needle: &str) -> bool {
    let mut from = 0;
    while let Some(i) = hay[from..].find(needle).map(|i| i + from) {
        let before = hay[..i].chars().next_back().is_none_or(|c| !c.is_alphanumeric());
        let after = hay[i + needle.len()..].chars().next().is_none_or(|c| !c.is_alphanumeric());
        if before && after {
            return true;
        }
        from = i + needle.len();
    }
    false
}

fn cap(s: &str) -> String {
    let s = s.replace('_', " ");
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// "A todo list where I can sign in, …" → "Todo list".
fn app_name(clauses: &[String], drafts: &[Draft]) -> String {
    let first = clauses.first().map(String::as_str).unwrap_or("");
    let lower = first.to_lowercase();
    let mut end = lower.len();
    for cut in [":", " where ", " for ", " with ", " that ", " to ", ",", "(", " -"] {
        if let Some(i) = lower.find(cut) {
            end = end.min(i);
        }
    }
    let w: Vec<String> = words(&first[..end]);
    let skip =
        w.iter().take_while(|x| is(STOP, x) || x.as_str() == "want" || x.as_str() == "i").count();
    let mut name: Vec<&String> = w[skip..].iter().take(5).collect();
    // "An app for our book club": the generic word says nothing; what it is for names it.
    const GENERIC: &[&str] = &["app", "application", "site", "website", "tool", "system", "page"];
    let after_for: Vec<String>;
    if !name.is_empty()
        && name.iter().all(|x| GENERIC.contains(&x.as_str()))
        && let Some(i) = lower.find(" for ")
    {
        let rest = &lower[i + 5..];
        let stop = [":", " where ", " with ", " that ", " to ", ",", "(", " -", "."]
            .iter()
            .filter_map(|c| rest.find(c))
            .min()
            .unwrap_or(rest.len());
        after_for = words(&rest[..stop]);
        let skip = after_for.iter().take_while(|x| is(STOP, x)).count();
        let purpose: Vec<&String> = after_for[skip..].iter().take(5).collect();
        if !purpose.is_empty() && purpose.len() <= 4 {
            name = purpose;
        }
    }
    if name.is_empty() || name.len() > 4 || is(VERBS, name[0]) {
        return format!("{} app", drafts.first().map(|d| d.label.as_str()).unwrap_or("My"));
    }
    cap(&name.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" "))
}

fn finish(
    name: String,
    features: Vec<Feature>,
    access: Option<Access>,
    drafts: Vec<Draft>,
) -> AppSpec {
    let entity_names: Vec<String> = drafts.iter().map(|d| d.name.clone()).collect();
    let main = entity_names.first().cloned();
    let mut entities: Vec<Entity> = Vec::new();
    for d in &drafts {
        let mut fields: Vec<Field> = Vec::new();
        for f in &d.fields {
            // A field named after another entity refers to it.
            let target = entity_names.iter().find(|e| {
                f.maybe_ref
                    && **e != d.name
                    && (f.name == **e
                        || singular(&f.name) == **e
                        || e.ends_with(&format!("_{}", singular(&f.name))))
            });
            let (name, ty) = match target {
                Some(e) => (e.clone(), FieldType::Ref { entity: e.clone() }),
                None => (f.name.clone(), f.ty.clone()),
            };
            if !fields.iter().any(|g| g.name == name)
                && !kiln_core::spec::RESERVED_NAMES.contains(&name.as_str())
                && !["id", "created_at", "updated_at", "created_by"].contains(&name.as_str())
            {
                fields.push(Field { label: cap(&name), name, ty, required: false });
            }
        }
        // Children and interactions refer to the entity they belong to.
        let head = d.name.rsplit('_').next().unwrap_or(&d.name);
        let owner = d.parent.clone().filter(|p| entity_names.contains(p)).or_else(|| {
            main.clone()
                .filter(|m| *m != d.name && is(INTERACTIONS, head) && entity_names.len() > 1)
        });
        if let Some(o) = owner
            && o != d.name
            && !fields.iter().any(|f| matches!(&f.ty, FieldType::Ref { entity } if *entity == o))
        {
            fields.insert(
                0,
                Field {
                    label: cap(&o),
                    name: o.clone(),
                    ty: FieldType::Ref { entity: o.clone() },
                    required: true,
                },
            );
        }
        // Something short names a record; notes or a description alone do not.
        let has_text = fields.iter().any(|f| matches!(f.ty, FieldType::Text | FieldType::Email));
        let has_ref = fields.iter().any(|f| matches!(f.ty, FieldType::Ref { .. }));
        if !has_text && !has_ref {
            fields.insert(
                0,
                Field {
                    name: "title".into(),
                    label: "Title".into(),
                    ty: FieldType::Text,
                    required: true,
                },
            );
        }
        if fields.is_empty() {
            fields.push(Field {
                name: "title".into(),
                label: "Title".into(),
                ty: FieldType::Text,
                required: true,
            });
        }
        // The name or title of a record is what people type first: required.
        if let Some(f) =
            fields.iter_mut().find(|f| ["title", "name", "subject"].contains(&f.name.as_str()))
        {
            f.required = true;
        }
        fields.truncate(60);
        let mut collection = plural(&d.name);
        if kiln_core::spec::RESERVED_NAMES.contains(&collection.as_str()) {
            collection = format!("{collection}_items");
        }
        entities.push(Entity {
            name: d.name.clone(),
            label: d.label.clone(),
            collection,
            fields,
            access,
        });
    }
    entities.truncate(30);
    let mut slug = slugify(&name);
    if slug.is_empty() || kiln_core::spec::RESERVED_SLUGS.contains(&slug.as_str()) {
        slug = format!("app-{}", slug).trim_end_matches('-').to_owned();
    }
    AppSpec { version: SPEC_VERSION, name, slug, features, entities }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_alone_do_not_name_a_record() {
        let spec = plan(
            "A todo list where I can sign in, add tasks with a due date, a priority \
             (low, medium, high) and notes, mark them done.",
        );
        let names: Vec<&str> = spec.entities[0].fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["title", "due_date", "priority", "notes", "done"]);
    }

    #[test]
    fn clauses_keep_parentheses_together() {
        let c =
            split_clauses("A list of books (title. author; rating). Meetings have a date; rooms.");
        assert_eq!(
            c,
            vec!["A list of books (title. author; rating)", "Meetings have a date", "rooms"]
        );
    }

    #[test]
    fn fields_from_phrases() {
        let f = field_from_phrase("the cooking time in minutes").expect("field");
        assert_eq!(
            (f.name.as_str(), &f.ty),
            ("cooking_time", &FieldType::Int { min: Some(0), max: None })
        );
        let f = field_from_phrase("our rating out of 10").expect("field");
        assert_eq!(
            (f.name.as_str(), &f.ty),
            ("rating", &FieldType::Int { min: Some(1), max: Some(10) })
        );
        let f = field_from_phrase("priority (low, medium, high)").expect("field");
        assert_eq!(
            f.ty,
            FieldType::Enum { values: vec!["low".into(), "medium".into(), "high".into()] }
        );
        let f = field_from_phrase("status: want to read / reading / finished").expect("field");
        assert_eq!(
            f.ty,
            FieldType::Enum {
                values: vec!["want to read".into(), "reading".into(), "finished".into()]
            }
        );
        assert_eq!(field_from_phrase("whether they attend").expect("f").name, "attending");
        assert_eq!(field_from_phrase("whether it is archived").expect("f").name, "archived");
        assert_eq!(field_from_phrase("a link to the posting").expect("f").ty, FieldType::Url);
        assert_eq!(field_from_phrase("the book we discuss").expect("f").name, "book");
        assert_eq!(field_from_phrase("weight kg").expect("f").ty, FieldType::Decimal);
        assert_eq!(field_from_phrase("a due date").expect("f").ty, FieldType::Date);
        assert_eq!(field_from_phrase("some tags like vegan or quick").expect("f").name, "tags");
    }

    #[test]
    fn plans_a_description_it_has_never_seen() {
        let spec = plan(
            "A garden planner. Plants have a name, a watering interval in days and a photo URL. \
             I log waterings with a date and the plant. Only I can see my garden.",
        );
        spec.validate().expect("valid");
        let plant = spec.entities.iter().find(|e| e.name == "plant").expect("plant");
        assert!(
            plant
                .fields
                .iter()
                .any(|f| f.name == "watering_interval" && matches!(f.ty, FieldType::Int { .. }))
        );
        assert!(plant.fields.iter().any(|f| f.name == "photo_url" && f.ty == FieldType::Url));
        let watering = spec.entities.iter().find(|e| e.name == "watering").expect("watering");
        assert!(watering.fields.iter().any(|f| f.ty == FieldType::Ref { entity: "plant".into() }));
        assert!(spec.features.contains(&Feature::Auth));
        assert_eq!(plant.access, Some(Access::Private));
        assert_eq!(spec.name, "Garden planner");
    }

    #[test]
    fn hostile_and_empty_descriptions_still_give_a_valid_plan() {
        for d in [
            "",
            "   ",
            "<script>alert(1)</script>",
            "'); DROP TABLE apps; --",
            "((((((((((",
            "with with with has have : : :",
            &"tasks with a title, ".repeat(5_000),
            "événements avec un titre, une date et un lieu",
        ] {
            let spec = plan(d);
            spec.validate().unwrap_or_else(|e| panic!("{d:.60}: {e:?}"));
        }
    }

    #[test]
    fn app_names_come_from_the_first_phrase() {
        assert_eq!(
            plan("Book club app. Members sign in. Books have a title.").name,
            "Book club app"
        );
        assert_eq!(plan("A todo list: tasks with a title.").name, "Todo list");
        assert_eq!(plan("Track my books: books with a title.").name, "Book app");
        assert_eq!(
            plan("An app for our book club. Members sign in. Books have a title.").name,
            "Book club"
        );
        assert_eq!(plan("A site for my shop: products with a name.").name, "Shop");
    }

    #[test]
    fn deterministic() {
        let d = "Book club app. Members sign in. We keep a list of books (title, author).";
        assert_eq!(plan(d), plan(d));
    }
}
