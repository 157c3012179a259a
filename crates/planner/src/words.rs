//! Word lists and small word functions: plural/singular, articles, verbs.

/// Words that start or end a noun phrase rather than belong to one.
pub const STOP: &[&str] = &[
    "a", "an", "the", "their", "our", "its", "his", "her", "my", "your", "some", "any", "each",
    "every", "of", "for", "to", "in", "on", "at", "by", "and", "or", "with", "we", "i", "you",
    "they", "he", "she", "it", "that", "which", "who", "where", "when", "can", "must", "should",
    "will", "also", "all", "per", "from", "as", "is", "are", "be", "them", "this", "these",
    "those", "there", "here", "small", "simple", "new", "own", "so", "want", "like", "need",
];

/// Verbs that begin an action rather than name a thing.
pub const VERBS: &[&str] = &[
    "add", "log", "create", "send", "schedule", "keep", "track", "manage", "set", "record",
    "store", "write", "post", "make", "mark", "filter", "show", "see", "sort", "search", "view",
    "edit", "delete", "remove", "check", "include", "includes", "help", "helps", "draft", "want",
    "need", "let", "lets", "allow", "allows", "get", "give", "list", "browse", "share", "invite",
    "upload", "rate", "review", "comment", "vote", "follow", "plan", "organise", "organize",
    "assign", "print", "export", "import", "sign", "login", "register", "use", "have", "has",
    "should", "must", "can",
];

/// Names of the app itself rather than of what it keeps.
pub const GENERIC_HEADS: &[&str] = &[
    "blog",
    "journal",
    "diary",
    "planner",
    "crm",
    "organizer",
    "organiser",
    "catalog",
    "catalogue",
    "directory",
    "board",
    "calendar",
    "notebook",
    "wiki",
    "forum",
    "marketplace",
    "library",
    "program",
    "programme",
    "software",
    "database",
    "hub",
    "space",
    "workspace",
    "tracking",
    "app",
    "application",
    "page",
    "site",
    "website",
    "tracker",
    "manager",
    "log",
    "system",
    "tool",
    "platform",
    "dashboard",
    "helpdesk",
    "portal",
    "chat",
    "bot",
    "chatbot",
    "assistant",
    "service",
    "finance",
    "club",
    "shop",
    "store",
    "inventory",
    "thing",
    "things",
    "stuff",
    "data",
    "info",
    "information",
    "everything",
    "something",
    "user",
    "users",
];

/// "<kind> list" → the entity such a list holds.
pub const LIST_KINDS: &[(&str, &str)] = &[
    ("reading", "book"),
    ("todo", "task"),
    ("to-do", "task"),
    ("shopping", "item"),
    ("grocery", "item"),
    ("wish", "item"),
    ("watch", "movie"),
    ("guest", "guest"),
    ("contact", "contact"),
    ("mailing", "subscriber"),
    ("packing", "item"),
    ("bucket", "goal"),
];

/// Records that answer or act on another one; they get a reference to the main entity.
pub const INTERACTIONS: &[&str] = &[
    "request",
    "rsvp",
    "booking",
    "reservation",
    "review",
    "comment",
    "order",
    "registration",
    "vote",
    "reply",
    "response",
    "application",
    "enquiry",
    "inquiry",
    "signup",
    "entry",
    "attendance",
    "rating",
    "report",
    "submission",
    "appointment",
    "ticket",
    "message",
];

pub fn is(list: &[&str], w: &str) -> bool {
    list.contains(&w)
}

/// `tasks` → `task`, `categories` → `category`, `boxes` → `box`.
pub fn singular(w: &str) -> String {
    let lower = w.to_lowercase();
    let irregular = [
        ("people", "person"),
        ("children", "child"),
        ("men", "man"),
        ("women", "woman"),
        ("data", "data"),
        ("series", "series"),
        ("news", "news"),
    ];
    if let Some((_, s)) = irregular.iter().find(|(p, _)| *p == lower) {
        return (*s).to_owned();
    }
    if lower.len() > 3 && lower.ends_with("ies") {
        return format!("{}y", &lower[..lower.len() - 3]);
    }
    for end in ["sses", "ches", "shes", "xes", "zzes"] {
        if lower.ends_with(end) {
            return lower[..lower.len() - 2].to_owned();
        }
    }
    if lower.len() > 3
        && lower.ends_with('s')
        && !lower.ends_with("ss")
        && !lower.ends_with("us")
        && !lower.ends_with("is")
    {
        return lower[..lower.len() - 1].to_owned();
    }
    lower
}

pub use kiln_core::spec::plural;

/// The words of a phrase, lower-case, punctuation split off.
pub fn words(s: &str) -> Vec<String> {
    s.split(|c: char| c.is_whitespace() || ",;:!?\"".contains(c))
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric() && c != '-').to_lowercase())
        .filter(|w| !w.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn singular_and_plural() {
        for (p, s) in [
            ("tasks", "task"),
            ("categories", "category"),
            ("boxes", "box"),
            ("exercises", "exercise"),
            ("people", "person"),
            ("status", "status"),
            ("classes", "class"),
            ("rsvps", "rsvp"),
        ] {
            assert_eq!(singular(p), s, "{p}");
        }
        for (s, p) in [
            ("task", "tasks"),
            ("category", "categories"),
            ("box", "boxes"),
            ("day", "days"),
            ("person", "people"),
            ("check_in", "check_ins"),
        ] {
            assert_eq!(plural(s), p, "{s}");
        }
    }
}
