//! Scoring a plan against a careful human planner's: recall and precision of entities, fields and
//! features, matching names by meaning (`due_date` ~ "due date" ~ `dueDate`; a name whose words
//! contain the other's, such as `contact_email` ~ `email`, also matches).

use kiln_core::AppSpec;
use kiln_core::spec::normalize_name;

/// What the human planner found.
#[derive(Debug, Clone)]
pub struct Expected {
    pub entities: Vec<(String, Vec<String>)>,
    pub features: Vec<String>,
}

/// True and false positives and false negatives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub tp: usize,
    pub fp: usize,
    pub fn_: usize,
}

impl Counts {
    pub fn add(&mut self, o: Counts) {
        self.tp += o.tp;
        self.fp += o.fp;
        self.fn_ += o.fn_;
    }
    pub fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }
    pub fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 1.0 } else { a as f64 / b as f64 }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Score {
    pub entities: Counts,
    pub fields: Counts,
    pub features: Counts,
}

fn tokens(name: &str) -> Vec<String> {
    normalize_name(name).split('_').filter(|t| !t.is_empty()).map(crate::words::singular).collect()
}

/// Whether two names mean the same thing.
pub fn same(a: &str, b: &str) -> bool {
    let (ta, tb) = (tokens(a), tokens(b));
    if ta.is_empty() || tb.is_empty() {
        return false;
    }
    ta == tb || ta.iter().all(|t| tb.contains(t)) || tb.iter().all(|t| ta.contains(t))
}

/// Matches predicted and expected items one to one (first fit, exact matches first).
fn pair<'a>(pred: &[&'a str], exp: &[&'a str]) -> (Vec<(usize, usize)>, Counts) {
    let mut used_p = vec![false; pred.len()];
    let mut pairs = Vec::new();
    for exact in [true, false] {
        for (j, e) in exp.iter().enumerate() {
            if pairs.iter().any(|(_, pj)| *pj == j) {
                continue;
            }
            let hit = pred.iter().enumerate().position(|(i, p)| {
                !used_p[i] && if exact { tokens(p) == tokens(e) } else { same(p, e) }
            });
            if let Some(i) = hit {
                used_p[i] = true;
                pairs.push((i, j));
            }
        }
    }
    let tp = pairs.len();
    (pairs, Counts { tp, fp: pred.len() - tp, fn_: exp.len() - tp })
}

pub fn score(spec: &AppSpec, expected: &Expected) -> Score {
    let pred: Vec<&str> = spec.entities.iter().map(|e| e.name.as_str()).collect();
    let exp: Vec<&str> = expected.entities.iter().map(|(n, _)| n.as_str()).collect();
    let (pairs, entities) = pair(&pred, &exp);
    let mut fields = Counts::default();
    for (i, j) in &pairs {
        let pf: Vec<&str> = spec.entities[*i].fields.iter().map(|f| f.name.as_str()).collect();
        let ef: Vec<&str> = expected.entities[*j].1.iter().map(String::as_str).collect();
        fields.add(pair(&pf, &ef).1);
    }
    for (i, e) in spec.entities.iter().enumerate() {
        if !pairs.iter().any(|(pi, _)| pi == &i) {
            fields.fp += e.fields.len();
        }
    }
    for (j, (_, f)) in expected.entities.iter().enumerate() {
        if !pairs.iter().any(|(_, pj)| pj == &j) {
            fields.fn_ += f.len();
        }
    }
    let pf: Vec<String> = spec.features.iter().map(|f| format!("{f:?}").to_lowercase()).collect();
    let pf: Vec<&str> = pf.iter().map(String::as_str).collect();
    let ef: Vec<&str> = expected.features.iter().map(String::as_str).collect();
    let features = pair(&pf, &ef).1;
    Score { entities, fields, features }
}

#[cfg(test)]
mod tests {
    use super::same;

    #[test]
    fn names_match_by_meaning() {
        assert!(same("due_date", "due date"));
        assert!(same("dueDate", "due date"));
        assert!(same("CheckIn", "check_in"));
        assert!(same("contact_email", "email"));
        assert!(same("books", "Book"));
        assert!(!same("title", "author"));
        assert!(!same("", "title"));
    }
}

/// Where the public development set is: `shared/dev-descriptions.json` beside the repository
/// when it is there (it may be newer), else the copy committed in `crates/planner/tests/`.
pub fn dev_set_path() -> std::path::PathBuf {
    let crate_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let shared = crate_dir.join("../../../shared/dev-descriptions.json");
    if shared.exists() { shared } else { crate_dir.join("tests/dev-descriptions.json") }
}

/// One description of the development set.
#[derive(Debug, Clone)]
pub struct DevCase {
    pub id: String,
    pub description: String,
    /// The whole case as written (with what the planner should find).
    pub raw: serde_json::Value,
}

/// The development set's cases, for tests and benchmarks; panics with the path when the set
/// cannot be read.
pub fn dev_set() -> Vec<DevCase> {
    let path = dev_set_path();
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (the development set)", path.display()));
    let set: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    set["cases"]
        .as_array()
        .map(|cases| {
            cases
                .iter()
                .map(|c| DevCase {
                    id: c["id"].as_str().unwrap_or("?").to_owned(),
                    description: c["description"].as_str().unwrap_or_default().to_owned(),
                    raw: c.clone(),
                })
                .collect()
        })
        .unwrap_or_default()
}
